"""infra/cloudflare: its provider is not in the offline mirror, so it is parsed and checked here
(terraform fmt covers it in test_terraform.py)."""

from tests.infra.hcl import blocks, module

CF = module("cloudflare")


def test_only_the_cloudflare_provider():
    providers = CF.terraform[0]["required_providers"][0]
    assert set(providers) == {"cloudflare"} and providers["cloudflare"]["source"] == "cloudflare/cloudflare"
    assert all(kind.startswith("cloudflare_") for kind in CF.resources)


def test_proxied_records_for_apex_www_api():
    assert CF.locals["hosts"] == {"apex": "${var.domain}", "www": "www.${var.domain}", "api": "api.${var.domain}"}
    record = CF.resource("cloudflare_record", "host")
    assert record["for_each"] == "${local.hosts}"
    assert record["proxied"] is True and record["content"] == "${var.origin}"


def test_cache_rules_as_the_plan():
    rules = blocks(CF.resource("cloudflare_ruleset", "cache"), "rules")
    bypass, pages = rules
    assert bypass["action_parameters"][0]["cache"] is False
    assert bypass["expression"] == "${local.private_paths}"
    assert 'starts_with(http.request.uri.path, \\"/api/\\")' in CF.locals["private_paths"]
    params = pages["action_parameters"][0]
    assert params["cache"] is True
    assert params["edge_ttl"][0]["default"] == "${var.html_edge_ttl_seconds}"
    assert params["browser_ttl"][0]["default"] == "${var.html_browser_ttl_seconds}"
    assert CF.default("html_edge_ttl_seconds") == 2 * 3600
    assert CF.default("html_browser_ttl_seconds") == 4 * 3600


def test_managed_waf_with_owasp():
    rules = blocks(CF.resource("cloudflare_ruleset", "waf"), "rules")
    ids = [r["action_parameters"][0]["id"] for r in rules]
    assert "${var.owasp_ruleset_id}" in ids
    assert CF.default("owasp_ruleset_id") == "4814384a9e5d4991b9815dcfc25d2f1f"
    assert CF.resource("cloudflare_ruleset", "waf")["phase"] == "http_request_firewall_managed"


def test_rate_limit_100_a_minute_per_ip():
    rule = blocks(CF.resource("cloudflare_ruleset", "rate_limit"), "rules")[0]
    limit = rule["ratelimit"][0]
    assert "ip.src" in limit["characteristics"]
    assert limit["period"] == 60 and limit["requests_per_period"] == "${var.rate_limit_per_minute}"
    assert CF.default("rate_limit_per_minute") == 100
    assert rule["action"] == "block"


def test_tls_strict_and_https_only():
    settings = CF.resource("cloudflare_zone_settings_override", "zone")["settings"][0]
    assert settings["ssl"] == "strict" and settings["always_use_https"] == "on"

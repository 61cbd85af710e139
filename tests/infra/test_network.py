"""The plan's network and its security-group tables, read from infra/ (python-hcl2)."""

import ipaddress
import json

from tests.infra.hcl import ROOT, blocks, module

NET = module("modules/network")
ROOT_NET = module("networking")
CLOUDFLARE_FILE = ROOT / "convertall" / "cloudflare_ips.txt"
APPENDIX_A = [
    "173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22", "141.101.64.0/18",
    "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20", "197.234.240.0/22", "198.41.128.0/17",
    "162.158.0.0/15", "104.16.0.0/13", "104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22",
]  # fmt: skip


def cloudflare_list():
    lines = [line.strip() for line in CLOUDFLARE_FILE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_vpc_and_subnets_per_az():
    assert ROOT_NET.default("region") == "us-east-1"
    assert ROOT_NET.default("vpc_cidr") == "10.0.0.0/16"
    assert ROOT_NET.default("azs") == ["us-east-1a", "us-east-1b"]
    assert ROOT_NET.default("public_subnets") == ["10.0.1.0/24", "10.0.2.0/24"]
    assert ROOT_NET.default("private_subnets") == ["10.0.10.0/24", "10.0.11.0/24"]
    assert ROOT_NET.default("data_subnets") == ["10.0.20.0/24", "10.0.21.0/24"]
    vpc = ipaddress.ip_network(ROOT_NET.default("vpc_cidr"))
    for tier in ("public_subnets", "private_subnets", "data_subnets"):
        assert all(ipaddress.ip_network(s).subnet_of(vpc) for s in ROOT_NET.default(tier))
    for tier in ("public", "private", "data"):
        subnet = NET.resource("aws_subnet", tier)
        assert subnet["count"] == "${length(var.azs)}"
        assert subnet["availability_zone"] == "${var.azs[count.index]}"
        assert "map_public_ip_on_launch" not in subnet or subnet["map_public_ip_on_launch"] is False
    call = ROOT_NET.modules["network"]
    for arg in ("cidr", "azs", "public_subnets", "private_subnets", "data_subnets", "nat_gateways"):
        assert call[arg] == f"${{var.{arg if arg != 'cidr' else 'vpc_cidr'}}}"


def test_igw_and_one_nat_per_az():
    assert "this" in NET.resources["aws_internet_gateway"]
    assert ROOT_NET.default("nat_gateways") == len(ROOT_NET.default("azs")) == 2
    nat = NET.resource("aws_nat_gateway", "this")
    assert nat["count"] == "${var.nat_gateways}"
    assert nat["subnet_id"] == "${aws_subnet.public[count.index].id}"
    public = NET.resource("aws_route_table", "public")
    assert blocks(public, "route")[0]["gateway_id"] == "${aws_internet_gateway.this.id}"
    private = NET.resource("aws_route_table", "private")
    assert private["count"] == "${length(var.azs)}"  # one table per AZ, its own NAT
    route = private["dynamic"][0]["route"]["content"][0]
    assert route["nat_gateway_id"] == "${aws_nat_gateway.this[count.index % var.nat_gateways].id}"


def test_data_subnets_are_isolated():
    data = NET.resource("aws_route_table", "data")
    assert "route" not in data and "dynamic" not in data
    assert NET.resource("aws_route_table_association", "data")["route_table_id"] == "${aws_route_table.data.id}"
    s3 = NET.resource("aws_vpc_endpoint", "s3")
    assert s3["route_table_ids"] == "${aws_route_table.private[*].id}"


def test_vpc_endpoints():
    assert NET.resource("aws_vpc_endpoint", "s3")["vpc_endpoint_type"] == "Gateway"
    interface = NET.resource("aws_vpc_endpoint", "interface")
    assert interface["vpc_endpoint_type"] == "Interface"
    assert interface["private_dns_enabled"] is True
    assert interface["subnet_ids"] == "${aws_subnet.private[*].id}"
    assert set(ROOT_NET.default("interface_endpoints")) >= {"ecr.api", "ecr.dkr", "logs", "secretsmanager", "xray"}


def test_cloudflare_list_is_the_plans_appendix_a():
    cidrs = cloudflare_list()
    v4 = [c for c in cidrs if ":" not in c]
    assert v4 == APPENDIX_A
    assert all(ipaddress.ip_network(c) for c in cidrs)
    v6 = [c for c in cidrs if ":" in c]
    assert v6 and cidrs == v4 + v6  # IPv4 first, then IPv6


def test_terraform_reads_the_one_cloudflare_list(tf_workspace):
    """Evaluate networking's own expressions with terraform console over the real file."""
    scratch = tf_workspace.dir / "infra" / "cloudflare-parse"
    scratch.mkdir()
    loc = ROOT_NET.locals
    body = "\n".join(f"  {k} = {loc[k][2:-1]}" for k in ("cloudflare_cidrs", "cloudflare_ipv4", "cloudflare_ipv6"))
    (scratch / "main.tf").write_text("locals {\n" + body + "\n}\n")
    assert "../../convertall/cloudflare_ips.txt" in loc["cloudflare_cidrs"]
    v4, v6 = tf_workspace.console("cloudflare-parse", "[local.cloudflare_ipv4, local.cloudflare_ipv6]")
    cidrs = cloudflare_list()
    assert v4 == [c for c in cidrs if ":" not in c] == APPENDIX_A
    assert v6 == [c for c in cidrs if ":" in c]
    call = ROOT_NET.modules["network"]
    assert call["cloudflare_ipv4"] == "${local.cloudflare_ipv4}" and call["cloudflare_ipv6"] == "${local.cloudflare_ipv6}"


# --- Security groups ------------------------------------------------------------------


def rules(kind):
    return NET.resources.get(f"aws_vpc_security_group_{kind}_rule", {})


def rules_of(group, kind):
    ref = f"${{aws_security_group.{group}.id}}"
    found = {n: r for n, r in rules(kind).items() if r["security_group_id"] == ref}
    # Rules applied to each task group through for_each over local.tasks.
    if group in ("web", "worker"):
        found.update({n: r for n, r in rules(kind).items() if r["security_group_id"] == "${each.value}"})
    return found


def test_every_group_and_no_inline_rules():
    groups = NET.resources["aws_security_group"]
    assert set(groups) == {"alb", "web", "worker", "endpoints", "rds", "redis"}
    for name, group in groups.items():
        assert "ingress" not in group and "egress" not in group, name  # no inline rule (an inline egress {} would reopen all)
        assert group["description"]
    assert NET.resource("aws_default_security_group", "this") == {"vpc_id": "${aws_vpc.this.id}"}  # admits nothing


def test_no_rule_reaches_anywhere():
    for kind in ("ingress", "egress"):
        for name, rule in rules(kind).items():
            assert rule.get("cidr_ipv4") not in ("0.0.0.0/0",), name
            assert rule.get("cidr_ipv6") not in ("::/0",), name
            assert rule["ip_protocol"] == "tcp", name
            assert rule["from_port"] == rule["to_port"], name  # one port each, no ranges


def test_alb_admits_cloudflare_only():
    ingress = rules_of("alb", "ingress")
    assert list(ingress) == ["alb_cloudflare"]
    rule = ingress["alb_cloudflare"]
    assert rule["for_each"] == "${local.cloudflare}"
    assert rule["cidr_ipv4"] == "${each.value.v4}" and rule["cidr_ipv6"] == "${each.value.v6}"
    cloudflare = NET.locals["cloudflare"]
    assert "setproduct([80, 443], var.cloudflare_ipv4)" in cloudflare
    assert "setproduct([80, 443], var.cloudflare_ipv6)" in cloudflare
    assert "referenced_security_group_id" not in rule and "prefix_list_id" not in rule
    egress = rules_of("alb", "egress")
    assert list(egress) == ["alb_to_web"]
    assert egress["alb_to_web"]["referenced_security_group_id"] == "${aws_security_group.web.id}"
    assert egress["alb_to_web"]["from_port"] == "${var.app_port}"
    assert ROOT_NET.default("app_port") == 8080


def test_web_admits_the_alb_only():
    ingress = rules_of("web", "ingress")
    assert list(ingress) == ["web_from_alb"]
    assert ingress["web_from_alb"]["referenced_security_group_id"] == "${aws_security_group.alb.id}"
    assert ingress["web_from_alb"]["from_port"] == "${var.app_port}"
    assert rules_of("worker", "ingress") == {}


def test_tasks_egress_only_to_endpoints_s3_rds_redis():
    tasks = NET.locals["tasks"]
    assert tasks == {"web": "${aws_security_group.web.id}", "worker": "${aws_security_group.worker.id}"}
    egress = rules_of("worker", "egress")
    assert {n: r["for_each"] for n, r in egress.items()} == {
        "tasks_to_endpoints": "${local.tasks}",
        "tasks_to_s3": "${local.tasks}",
        "tasks_to_rds": "${local.tasks}",
        "tasks_to_redis": "${local.tasks}",
    }
    targets = {
        n: (r["from_port"], r.get("referenced_security_group_id") or r.get("prefix_list_id")) for n, r in egress.items()
    }
    assert targets == {
        "tasks_to_endpoints": (443, "${aws_security_group.endpoints.id}"),
        "tasks_to_s3": (443, "${aws_vpc_endpoint.s3.prefix_list_id}"),
        "tasks_to_rds": (5432, "${aws_security_group.rds.id}"),
        "tasks_to_redis": (6379, "${aws_security_group.redis.id}"),
    }
    assert all("cidr_ipv4" not in r and "cidr_ipv6" not in r for r in egress.values())


def test_data_admits_the_tasks_only_and_sends_nothing():
    for group, port in (("rds", 5432), ("redis", 6379), ("endpoints", 443)):
        ingress = rules_of(group, "ingress")
        assert len(ingress) == 1, group
        (rule,) = ingress.values()
        assert rule["for_each"] == "${local.tasks}" and rule["referenced_security_group_id"] == "${each.value}"
        assert rule["from_port"] == port
        assert rules_of(group, "egress") == {}, group


def test_flow_logs_record_refused_connections():
    flow = NET.resource("aws_flow_log", "this")
    assert flow["traffic_type"] == "${var.flow_log_traffic}"
    assert ROOT_NET.default("flow_log_traffic") == "REJECT"
    assert NET.resource("aws_cloudwatch_log_group", "flow")["kms_key_id"] == "${var.kms_key_arn}"

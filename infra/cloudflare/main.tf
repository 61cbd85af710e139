# Stage 4: Cloudflare in front of the ALB (a separate root: its provider is not
# in the offline mirror, so here it is only formatted and parsed, not validated).
# Proxied DNS for the apex, www and api; cache rules; the managed WAF with the
# OWASP core set; a rate limit of 100 submissions a minute per IP.
#
# Upload size: Cloudflare Pro refuses request bodies over 100 MB (its own 413
# page), below the service's MAX_UPLOAD_BYTES (500 MB). Larger files take the
# direct upload, which never crosses the edge: POST /api/v1/uploads returns a
# presigned S3 POST, then convert/filter take its uploadId (docs/deploy.md).
terraform {
  required_version = ">= 1.11"
  required_providers {
    cloudflare = { source = "cloudflare/cloudflare", version = "~> 4.52" }
  }
  backend "s3" {
    key = "cloudflare/terraform.tfstate"
  }
}

# The token comes from CLOUDFLARE_API_TOKEN (Zone: DNS, Cache Rules, WAF, Zone Settings edit).
provider "cloudflare" {}

locals {
  hosts = {
    apex = var.domain
    www  = "www.${var.domain}"
    api  = "api.${var.domain}"
  }
  # Paths whose answers depend on who asks: never cached at the edge.
  private_paths = join(" or ", [
    "starts_with(http.request.uri.path, \"/api/\")",
    "starts_with(http.request.uri.path, \"/admin/\")",
    "starts_with(http.request.uri.path, \"/accounts/\")",
    "starts_with(http.request.uri.path, \"/jobs/\")",
    "http.request.uri.path eq \"/history\"",
    "http.host eq \"${local.hosts.api}\"",
  ])
  # The converter pages are the same for everyone (DESIGN.md): the plan's HTML caching applies to them.
  public_pages = "http.host in {\"${local.hosts.apex}\" \"${local.hosts.www}\"} and (http.request.uri.path eq \"/\" or starts_with(http.request.uri.path, \"/converters/\"))"
  # Where a file is submitted: the API and the pages' own form posts.
  submit_paths = "http.request.method eq \"POST\" and (starts_with(http.request.uri.path, \"/api/\") or starts_with(http.request.uri.path, \"/converters/\") or starts_with(http.request.uri.path, \"/filters/\"))"
}

# Proxied (orange cloud) records: the apex is a flattened CNAME.
resource "cloudflare_record" "host" {
  for_each = local.hosts
  zone_id  = var.zone_id
  name     = each.value
  type     = "CNAME"
  content  = var.origin
  proxied  = true
  ttl      = 1 # automatic, as proxied records require
  comment  = "Convert-All ${each.key} -> ALB (infra/compute)"
}

resource "cloudflare_zone_settings_override" "zone" {
  zone_id = var.zone_id
  settings {
    ssl                      = "strict" # the ALB's ACM certificate is checked
    always_use_https         = "on"     # the plan's HTTP -> HTTPS 301
    min_tls_version          = "1.2"
    automatic_https_rewrites = "on"
    security_level           = "medium" # challenge suspicious traffic
    browser_check            = "on"
  }
}

# Cache rules (the plan's page rules): /api/* and the private paths bypass the
# cache; the public HTML gets edge TTL 2 h and browser TTL 4 h.
resource "cloudflare_ruleset" "cache" {
  zone_id = var.zone_id
  name    = "Convert-All cache rules"
  kind    = "zone"
  phase   = "http_request_cache_settings"

  rules {
    description = "API and per-user pages: bypass"
    expression  = local.private_paths
    action      = "set_cache_settings"
    action_parameters {
      cache = false
    }
    enabled = true
  }

  rules {
    description = "Converter pages: standard caching, edge 2 h, browser 4 h"
    expression  = local.public_pages
    action      = "set_cache_settings"
    action_parameters {
      cache = true
      edge_ttl {
        mode    = "override_origin"
        default = var.html_edge_ttl_seconds
      }
      browser_ttl {
        mode    = "override_origin"
        default = var.html_browser_ttl_seconds
      }
    }
    enabled = true
  }
}

# Managed WAF: Cloudflare's managed rules and the OWASP core rule set.
resource "cloudflare_ruleset" "waf" {
  zone_id = var.zone_id
  name    = "Convert-All managed WAF"
  kind    = "zone"
  phase   = "http_request_firewall_managed"

  rules {
    description = "Cloudflare Managed Ruleset"
    expression  = "true"
    action      = "execute"
    action_parameters {
      id = var.cloudflare_managed_ruleset_id
    }
    enabled = true
  }

  rules {
    description = "Cloudflare OWASP Core Ruleset"
    expression  = "true"
    action      = "execute"
    action_parameters {
      id = var.owasp_ruleset_id
    }
    enabled = true
  }
}

# 100 submissions a minute per IP, as the service's own submit limit (RATE_LIMIT):
# status polls, downloads and static files are not counted, or a progress bar
# polling once a second would use most of the budget.
resource "cloudflare_ruleset" "rate_limit" {
  zone_id = var.zone_id
  name    = "Convert-All rate limit"
  kind    = "zone"
  phase   = "http_ratelimit"

  rules {
    description = "100 submissions a minute per IP"
    expression  = local.submit_paths
    action      = "block"
    ratelimit {
      characteristics     = ["cf.colo.id", "ip.src"]
      period              = 60
      requests_per_period = var.rate_limit_per_minute
      mitigation_timeout  = 60
    }
    enabled = true
  }
}

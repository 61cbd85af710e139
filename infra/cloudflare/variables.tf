variable "zone_id" {
  description = "The Cloudflare zone of the domain."
  type        = string
}

variable "domain" {
  description = "The apex, e.g. convert-all.com."
  type        = string
}

variable "origin" {
  description = "The ALB's DNS name (compute output alb_dns_name), or the Route 53 failover name with dr_enabled."
  type        = string
}

variable "html_edge_ttl_seconds" {
  description = "The plan: edge cache TTL 2 hours."
  type        = number
  default     = 7200
}

variable "html_browser_ttl_seconds" {
  description = "The plan: browser cache TTL 4 hours."
  type        = number
  default     = 14400
}

variable "rate_limit_per_minute" {
  description = "Submissions per IP per minute (the plan's 100, the service's RATE_LIMIT)."
  type        = number
  default     = 100
}

variable "cloudflare_managed_ruleset_id" {
  type    = string
  default = "efb7b8c949ac4650a09736fc376e9aee"
}

variable "owasp_ruleset_id" {
  description = "Cloudflare OWASP Core Ruleset."
  type        = string
  default     = "4814384a9e5d4991b9815dcfc25d2f1f"
}

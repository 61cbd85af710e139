variable "name" {
  type    = string
  default = "convert-all"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "state_bucket" {
  description = "The bucket of infra/backend.hcl, where this stage reads networking's and data's outputs."
  type        = string
}

variable "domain" {
  description = "The apex, e.g. convert-all.com; www.<domain> and api.<domain> are served too (ALLOWED_HOSTS)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate in this region covering <domain>, www.<domain> and api.<domain> (Cloudflare connects with Full (strict))."
  type        = string
}

variable "image_tag" {
  description = "Tag of the image in the convert-all repository (immutable: the pipeline pushes a new tag per release)."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64, or ARM64 for an arm64 image (Graviton, ~20% cheaper)."
  type        = string
  default     = "X86_64"
}

# The plan's compute table. scale_on: "cpu" (target = %), "queue" (target =
# queued jobs per running task) or "none". environment: extra settings per service.
variable "services" {
  type = map(object({
    cpu          = number
    memory       = number
    min          = number
    max          = number
    scale_on     = string
    target       = optional(number)
    ephemeral_gb = optional(number, 21)
    environment  = optional(map(string), {})
  }))
  default = {
    web = {
      cpu         = 2048, memory = 4096, min = 2, max = 10, scale_on = "cpu", target = 70
      environment = { WEB_CONCURRENCY = "4" }
    }
    documents = {
      cpu         = 4096, memory = 8192, min = 2, max = 8, scale_on = "queue", target = 4, ephemeral_gb = 50
      environment = { WORKER_PROCESSES = "2", WORKER_SHUTDOWN_TIMEOUT_MS = "110000" }
    }
    media = {
      cpu         = 8192, memory = 16384, min = 2, max = 6, scale_on = "queue", target = 2, ephemeral_gb = 100
      environment = { WORKER_SHUTDOWN_TIMEOUT_MS = "110000" }
    }
    filters = {
      cpu         = 2048, memory = 4096, min = 2, max = 10, scale_on = "cpu", target = 70, ephemeral_gb = 50
      environment = { WORKER_SHUTDOWN_TIMEOUT_MS = "110000" }
    }
    # Two: one leads through the Redis lock, the other waits as a standby. Not in the plan (our design adds it).
    scheduler = { cpu = 256, memory = 512, min = 2, max = 2, scale_on = "none" }
  }
  validation {
    condition     = alltrue([for s in values(var.services) : contains(["cpu", "queue", "none"], s.scale_on) && s.min <= s.max])
    error_message = "scale_on is cpu, queue or none, and min <= max."
  }
  validation {
    condition     = alltrue([for k in ["web", "documents", "media", "filters", "scheduler"] : contains(keys(var.services), k)])
    error_message = "services needs web, documents, media, filters and scheduler."
  }
}

variable "migrate" {
  description = "The one-off migration task (manage.py migrate), run before each release."
  type = object({
    cpu         = number
    memory      = number
    environment = optional(map(string), {})
  })
  default = { cpu = 512, memory = 1024 }
}

variable "health_check" {
  description = "GET /health, as the plan: every 30 s, 5 s timeout, 3 retries."
  type        = object({ interval = number, timeout = number, retries = number })
  default     = { interval = 30, timeout = 5, retries = 3 }
}

variable "environment" {
  description = "Extra settings for every task (README.md lists them), e.g. { RATE_LIMIT = \"200/min\" }."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "images_kept" {
  type    = number
  default = 30
}

variable "otel_collector_version" {
  description = "Tag of public.ecr.aws/aws-observability/aws-otel-collector (pulled through the ECR cache)."
  type        = string
  default     = "v0.43.3"
}

variable "trace_sample_rate" {
  type    = number
  default = 0.05
}

variable "alarms" {
  description = "The plan's alarm thresholds."
  type = object({
    cpu_percent            = number
    error_rate_percent     = number
    min_requests           = number
    queue_depth            = number
    db_connections_percent = number
  })
  default = {
    cpu_percent            = 80
    error_rate_percent     = 1
    min_requests           = 100
    queue_depth            = 1000
    db_connections_percent = 90
  }
}

variable "alert_emails" {
  description = "Addresses subscribed to ops-alerts (each confirms by mail)."
  type        = list(string)
  default     = []
}

variable "dr_enabled" {
  description = "Route 53 failover of the origin to a standby ALB in the DR region (set it the same in every stage)."
  type        = bool
  default     = false
}

variable "dr" {
  description = "With dr_enabled: the Route 53 zone and name of the origin that Cloudflare's records point at, and the standby ALB."
  type = object({
    zone_id              = string
    origin_name          = string
    standby_alb_dns_name = string
    standby_alb_zone_id  = string
  })
  default = null
  validation {
    condition     = var.dr == null || try(length(var.dr.origin_name) > 0, false)
    error_message = "dr.origin_name is required with dr_enabled."
  }
}

variable "github_repository" {
  description = "owner/name of the repository whose main branch (or production environment) deploys; null: no deploy role."
  type        = string
  default     = null
}

variable "github_oidc_provider_arn" {
  description = "The account's existing GitHub OIDC provider, if any (an account holds one per URL); null creates it."
  type        = string
  default     = null
}

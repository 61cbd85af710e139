variable "name" {
  type    = string
  default = "convert-all"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "dr_region" {
  type    = string
  default = "us-west-2"
}

variable "dr_enabled" {
  description = "S3 replication, an RDS read replica and backup copies in dr_region (set it the same in every stage)."
  type        = bool
  default     = false
}

variable "state_bucket" {
  description = "The bucket of infra/backend.hcl, where this stage reads networking's outputs."
  type        = string
}

variable "domain" {
  description = "The public host (apex), e.g. convert-all.com: browsers on it may upload to S3 directly."
  type        = string
}

variable "extra_hosts" {
  description = "Other public hosts that serve pages (www.<domain>)."
  type        = list(string)
  default     = []
}

variable "bucket_prefix" {
  description = "Bucket names are <prefix>-uploads, -outputs, -logs (the plan's convert-all-*; S3 names are global)."
  type        = string
  default     = "convert-all"
}

variable "upload_expiry_days" {
  description = "Uploads: 24 h (UPLOAD_RETENTION_HOURS); S3 counts whole days."
  type        = number
  default     = 1
}

variable "output_expiry_days" {
  description = "Outputs: 48 h (OUTPUT_RETENTION_HOURS)."
  type        = number
  default     = 2
}

variable "log_glacier_days" {
  type    = number
  default = 90
}

variable "log_expiry_days" {
  description = "The plan keeps archived logs a year."
  type        = number
  default     = 365
}

variable "log_retention_days" {
  description = "CloudWatch log groups of RDS and Redis."
  type        = number
  default     = 30
}

variable "db_engine_version" {
  type    = string
  default = "16.8"
}

variable "db_engine_major" {
  description = "The parameter group family's version (postgres<major>)."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  type    = string
  default = "db.r6g.xlarge"
}

variable "db_multi_az" {
  type    = bool
  default = true
}

variable "db_storage_gb" {
  type    = number
  default = 500
}

variable "db_max_storage_gb" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 1000
}

variable "db_backup_retention_days" {
  type    = number
  default = 7
}

variable "db_max_connections" {
  description = "PostgreSQL max_connections; the compute stage alarms at 90% of it. 13 tasks x gunicorn/worker threads stay far below."
  type        = number
  default     = 1000
}

variable "redis_node_type" {
  type    = string
  default = "cache.r6g.large"
}

variable "redis_nodes" {
  description = "Nodes of the one shard: a primary and (n - 1) replicas across the AZs."
  type        = number
  default     = 3
}

variable "redis_snapshot_retention_days" {
  type    = number
  default = 7
}

variable "secret_key_version" {
  description = "Bump to have Secrets Manager generate a new SECRET_KEY (write-only: never in state)."
  type        = number
  default     = 1
}

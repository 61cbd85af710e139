variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "convertall"
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "vpc_id" {
  description = "An existing VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks, the database and Redis (with a NAT route for ECR and S3, or VPC endpoints)."
  type        = list(string)
}

variable "domain" {
  description = "Public host name, e.g. convert.example.com (ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for the domain (TLS ends at the load balancer)."
  type        = string
}

variable "image" {
  description = "The one image of every process type (Dockerfile), e.g. <account>.dkr.ecr.<region>.amazonaws.com/convertall:<sha>."
  type        = string
}

variable "db_instance_class" {
  type    = string
  default = "db.t4g.small"
}

variable "redis_node_type" {
  type    = string
  default = "cache.t4g.small"
}

variable "upload_retention_days" {
  description = "S3 lifecycle backstop for uploads; the scheduler deletes them after UPLOAD_RETENTION_HOURS (24)."
  type        = number
  default     = 1
}

variable "output_retention_days" {
  description = "S3 lifecycle backstop for outputs; the scheduler deletes them after OUTPUT_RETENTION_HOURS (48)."
  type        = number
  default     = 2
}

# One entry per process type: command, size, and how many tasks.
variable "processes" {
  type = map(object({
    command = list(string)
    cpu     = number
    memory  = number
    count   = number
  }))
  default = {
    web = {
      command = ["gunicorn", "convertall.wsgi", "-c", "convertall/gunicorn.conf.py"]
      cpu     = 1024
      memory  = 2048
      count   = 2
    }
    worker-documents = {
      command = ["python", "manage.py", "rundramatiq", "--queues", "documents", "--processes", "1", "--threads", "2", "--worker-shutdown-timeout", "90000"]
      cpu     = 2048
      memory  = 4096
      count   = 2
    }
    worker-media = {
      command = ["python", "manage.py", "rundramatiq", "--queues", "media", "--processes", "1", "--threads", "2", "--worker-shutdown-timeout", "90000"]
      cpu     = 2048
      memory  = 8192
      count   = 2
    }
    worker-filters = {
      command = ["python", "manage.py", "rundramatiq", "--queues", "filters", "--processes", "1", "--threads", "4", "--worker-shutdown-timeout", "90000"]
      cpu     = 1024
      memory  = 2048
      count   = 1
    }
    # Two schedulers: one leads through the Redis lock, the other waits as a standby.
    scheduler = {
      command = ["python", "manage.py", "scheduler"]
      cpu     = 256
      memory  = 512
      count   = 2
    }
  }
}

variable "environment" {
  description = "Extra settings for every task (see .env.example), e.g. { RATE_LIMIT = \"200/min\" }."
  type        = map(string)
  default     = {}
}

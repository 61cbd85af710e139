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
  description = "Build the DR region's network too (set it the same in every stage)."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "azs" {
  type    = list(string)
  default = ["us-east-1a", "us-east-1b"]
}

variable "public_subnets" {
  type    = list(string)
  default = ["10.0.1.0/24", "10.0.2.0/24"]
}

variable "private_subnets" {
  type    = list(string)
  default = ["10.0.10.0/24", "10.0.11.0/24"]
}

variable "data_subnets" {
  type    = list(string)
  default = ["10.0.20.0/24", "10.0.21.0/24"]
}

variable "nat_gateways" {
  description = "One per AZ as the plan has it; nothing routes through them today (see modules/network), so 0 saves ~$66 a month."
  type        = number
  default     = 2
}

variable "interface_endpoints" {
  type    = list(string)
  default = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "xray"]
}

variable "app_port" {
  description = "nginx in the web task, the ALB's target."
  type        = number
  default     = 8080
}

variable "flow_log_traffic" {
  type    = string
  default = "REJECT"
}

variable "flow_log_retention_days" {
  type    = number
  default = 365
}

variable "dr_vpc_cidr" {
  type    = string
  default = "10.1.0.0/16"
}

variable "dr_azs" {
  type    = list(string)
  default = ["us-west-2a", "us-west-2b"]
}

variable "dr_nat_gateways" {
  type    = number
  default = 0
}

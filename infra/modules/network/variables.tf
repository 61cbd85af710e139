variable "name" {
  type = string
}

variable "cidr" {
  description = "The VPC's range."
  type        = string
}

variable "azs" {
  description = "Availability zones, one subnet of each tier in each."
  type        = list(string)
}

variable "public_subnets" {
  description = "ALB and NAT gateways, one per AZ."
  type        = list(string)
}

variable "private_subnets" {
  description = "ECS tasks and the interface endpoints, one per AZ."
  type        = list(string)
}

variable "data_subnets" {
  description = "RDS and ElastiCache, one per AZ; no route out of the VPC."
  type        = list(string)
}

variable "nat_gateways" {
  description = "NAT gateways (0 to one per AZ). Private subnet i routes through gateway i modulo the count."
  type        = number
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints in the private subnets (S3 is a gateway endpoint, always present)."
  type        = list(string)
}

variable "app_port" {
  description = "The port of the web task that the ALB targets (nginx in front of gunicorn)."
  type        = number
}

variable "cloudflare_ipv4" {
  description = "Cloudflare's edge ranges: the only sources the ALB admits."
  type        = list(string)
}

variable "cloudflare_ipv6" {
  type = list(string)
}

variable "kms_key_arn" {
  description = "Key of the flow-log group."
  type        = string
}

variable "flow_log_traffic" {
  description = "REJECT records refused connections (a converter that escaped its sandbox and tried the network shows here); ALL costs more."
  type        = string
}

variable "flow_log_retention_days" {
  type = number
}

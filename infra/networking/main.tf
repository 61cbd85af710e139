# Stage 1: the VPC of the plan (and, with dr_enabled, its twin in the DR region).
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
  backend "s3" {
    key = "networking/terraform.tfstate"
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "convert-all", Stage = "networking" }
  }
}

provider "aws" {
  alias  = "dr"
  region = var.dr_region
  default_tags {
    tags = { Project = "convert-all", Stage = "networking" }
  }
}

# The one list of Cloudflare's ranges, which the web tier's trusted-proxy check reads too.
locals {
  cloudflare_cidrs = flatten(regexall("(?m)^\\s*([0-9A-Fa-f:.]+/[0-9]+)\\s*$", file("${path.module}/../../convertall/cloudflare_ips.txt")))
  cloudflare_ipv4  = [for c in local.cloudflare_cidrs : c if !strcontains(c, ":")]
  cloudflare_ipv6  = [for c in local.cloudflare_cidrs : c if strcontains(c, ":")]
}

data "aws_kms_alias" "main" {
  name = "alias/${var.name}"
}

module "network" {
  source                  = "../modules/network"
  name                    = var.name
  cidr                    = var.vpc_cidr
  azs                     = var.azs
  public_subnets          = var.public_subnets
  private_subnets         = var.private_subnets
  data_subnets            = var.data_subnets
  nat_gateways            = var.nat_gateways
  interface_endpoints     = var.interface_endpoints
  app_port                = var.app_port
  cloudflare_ipv4         = local.cloudflare_ipv4
  cloudflare_ipv6         = local.cloudflare_ipv6
  kms_key_arn             = data.aws_kms_alias.main.target_key_arn
  flow_log_traffic        = var.flow_log_traffic
  flow_log_retention_days = var.flow_log_retention_days
}

data "aws_kms_alias" "dr" {
  count    = var.dr_enabled ? 1 : 0
  provider = aws.dr
  name     = "alias/${var.name}"
}

# The DR region's network: the same tiers, no NAT until it is activated.
module "network_dr" {
  count     = var.dr_enabled ? 1 : 0
  source    = "../modules/network"
  providers = { aws = aws.dr }

  name                    = var.name
  cidr                    = var.dr_vpc_cidr
  azs                     = var.dr_azs
  public_subnets          = [for i in range(length(var.dr_azs)) : cidrsubnet(var.dr_vpc_cidr, 8, 1 + i)]
  private_subnets         = [for i in range(length(var.dr_azs)) : cidrsubnet(var.dr_vpc_cidr, 8, 10 + i)]
  data_subnets            = [for i in range(length(var.dr_azs)) : cidrsubnet(var.dr_vpc_cidr, 8, 20 + i)]
  nat_gateways            = var.dr_nat_gateways
  interface_endpoints     = var.interface_endpoints
  app_port                = var.app_port
  cloudflare_ipv4         = local.cloudflare_ipv4
  cloudflare_ipv6         = local.cloudflare_ipv6
  kms_key_arn             = data.aws_kms_alias.dr[0].target_key_arn
  flow_log_traffic        = var.flow_log_traffic
  flow_log_retention_days = var.flow_log_retention_days
}

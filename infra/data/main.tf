# Stage 2: PostgreSQL (RDS), Redis (ElastiCache), the S3 buckets and the secrets.
# Reads the network from stage 1's state; the KMS key by its alias (bootstrap).
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
  backend "s3" {
    key = "data/terraform.tfstate"
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "convert-all", Stage = "data" }
  }
}

provider "aws" {
  alias  = "dr"
  region = var.dr_region
  default_tags {
    tags = { Project = "convert-all", Stage = "data" }
  }
}

data "terraform_remote_state" "networking" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    region = var.region
    key    = "networking/terraform.tfstate"
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_kms_alias" "main" {
  name = "alias/${var.name}"
}

data "aws_kms_alias" "dr" {
  count    = var.dr_enabled ? 1 : 0
  provider = aws.dr
  name     = "alias/${var.name}"
}

locals {
  net     = data.terraform_remote_state.networking.outputs
  kms_key = data.aws_kms_alias.main.target_key_arn
  dr_key  = var.dr_enabled ? data.aws_kms_alias.dr[0].target_key_arn : null
}

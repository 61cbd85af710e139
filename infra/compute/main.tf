# Stage 3: ECR, the ECS cluster and its services, the ALB, autoscaling, IAM,
# logs, alarms, the dashboard, X-Ray and (dr_enabled) Route 53 failover.
# Reads stages 1 and 2 from their state.
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
  backend "s3" {
    key = "compute/terraform.tfstate"
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "convert-all", Stage = "compute" }
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

data "terraform_remote_state" "data" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    region = var.region
    key    = "data/terraform.tfstate"
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  net       = data.terraform_remote_state.networking.outputs
  store     = data.terraform_remote_state.data.outputs
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  kms_key   = local.store.kms_key_arn
  cluster   = "${var.name}-cluster"
  hosts     = [var.domain, "www.${var.domain}", "api.${var.domain}"]

  # Service name (convert-all-<key>) -> the image's process name (its entry point's first argument).
  process = {
    web       = "web"
    documents = "worker-documents"
    media     = "worker-media"
    filters   = "worker-filters"
    scheduler = "scheduler"
  }
  workers = ["documents", "media", "filters"]
}

# Convert-All on AWS: ECS Fargate (one service per process type), RDS PostgreSQL,
# ElastiCache Redis, two S3 buckets with lifecycle rules. docs/operations.md explains it.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws    = { source = "hashicorp/aws", version = "~> 5.60" }
    random = { source = "hashicorp/random", version = "~> 3.6" }
  }
}

provider "aws" {
  region = var.region
}

# Stage 0, applied once per account: the Terraform state bucket and the one
# customer-managed KMS key (S3, RDS, Redis, logs, secrets, SNS, ECR). Its own
# state starts local; docs/deploy.md shows how to move it into the bucket.
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "convert-all", Stage = "bootstrap" }
  }
}

provider "aws" {
  alias  = "dr"
  region = var.dr_region
  default_tags {
    tags = { Project = "convert-all", Stage = "bootstrap" }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  root    = "arn:${data.aws_partition.current.partition}:iam::${local.account}:root"
}

# Services that encrypt on a caller's behalf (S3, RDS, ElastiCache, Secrets
# Manager, ECR) go through the account statement with kms:ViaService grants;
# CloudWatch Logs and CloudWatch alarms publishing to an encrypted SNS topic
# call KMS as themselves and need their own statements.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key; the account root must keep administering it.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key; writes are limited to the account and two services.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  statement {
    sid       = "Account"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [local.root]
    }
  }
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com", "logs.${var.dr_region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:*:${local.account}:log-group:*"]
    }
  }
  statement {
    sid       = "CloudWatchAlarmsToSns"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

# Multi-region so that the DR region's replica (S3 replication, the RDS
# replica) decrypts with the same key material.
resource "aws_kms_key" "main" {
  description             = "convert-all: S3, RDS, ElastiCache, logs, secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  multi_region            = true
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.main.key_id
}

resource "aws_kms_replica_key" "dr" {
  count                   = var.dr_enabled ? 1 : 0
  provider                = aws.dr
  description             = "convert-all DR replica: S3 replicas, RDS read replica"
  primary_key_arn         = aws_kms_key.main.arn
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "dr" {
  count         = var.dr_enabled ? 1 : 0
  provider      = aws.dr
  name          = "alias/${var.name}"
  target_key_id = aws_kms_replica_key.dr[0].key_id
}

# --- Remote state: S3 with native locking (use_lockfile, Terraform >= 1.10) ---
resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:Access logging of the state bucket would need a log bucket before any stage exists; CloudTrail records its API calls.
  #checkov:skip=CKV_AWS_144:State is versioned and re-creatable from the resources; cross-region replication is not worth a second bucket.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to state writes.
  bucket = var.state_bucket
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.main.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.state.arn, "${aws_s3_bucket.state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state.json
}

# Disaster recovery (dr_enabled, off by default): the users' files replicated
# to the DR region, a PostgreSQL read replica there (promoted on failover) and
# the automated backups copied there too. Route 53 failover lives in compute.
resource "aws_s3_bucket" "replica" {
  #checkov:skip=CKV_AWS_18:Replicas are written by S3 replication only; the source buckets' access logs cover the users' requests.
  #checkov:skip=CKV_AWS_144:These are the cross-region replicas themselves.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to replica objects.
  for_each = var.dr_enabled ? local.files : {}
  provider = aws.dr
  bucket   = "${var.bucket_prefix}-${each.key}-${var.dr_region}"
}

resource "aws_s3_bucket_versioning" "replica" {
  for_each = aws_s3_bucket.replica
  provider = aws.dr
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "replica" {
  for_each = aws_s3_bucket.replica
  provider = aws.dr
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.dr_key
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "replica" {
  for_each                = aws_s3_bucket.replica
  provider                = aws.dr
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "replica" {
  for_each = aws_s3_bucket.replica
  provider = aws.dr
  bucket   = each.value.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = local.files[each.key]
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.replica]
}

data "aws_iam_policy_document" "replica_tls_only" {
  for_each = aws_s3_bucket.replica
  statement {
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
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

resource "aws_s3_bucket_policy" "replica" {
  for_each = aws_s3_bucket.replica
  provider = aws.dr
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.replica_tls_only[each.key].json
}

data "aws_iam_policy_document" "replication_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  count              = var.dr_enabled ? 1 : 0
  name_prefix        = "${var.name}-s3-repl-"
  assume_role_policy = data.aws_iam_policy_document.replication_assume.json
}

data "aws_iam_policy_document" "replication" {
  count = var.dr_enabled ? 1 : 0
  statement {
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [for b in aws_s3_bucket.files : b.arn]
  }
  statement {
    actions   = ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"]
    resources = [for b in aws_s3_bucket.files : "${b.arn}/*"]
  }
  statement {
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = [for b in aws_s3_bucket.replica : "${b.arn}/*"]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key]
  }
  statement {
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [local.dr_key]
  }
}

resource "aws_iam_role_policy" "replication" {
  count  = var.dr_enabled ? 1 : 0
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "files" {
  for_each = aws_s3_bucket.replica
  bucket   = aws_s3_bucket.files[each.key].id
  role     = aws_iam_role.replication[0].arn
  rule {
    id     = "to-${var.dr_region}"
    status = "Enabled"
    filter {}
    delete_marker_replication {
      status = "Enabled" # a purge in the primary is a purge in the replica
    }
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }
    destination {
      bucket        = each.value.arn
      storage_class = "STANDARD"
      encryption_configuration {
        replica_kms_key_id = local.dr_key
      }
    }
  }
  depends_on = [aws_s3_bucket_versioning.files, aws_s3_bucket_versioning.replica]
}

# --- PostgreSQL in the DR region ----------------------------------------------------
resource "aws_db_instance_automated_backups_replication" "dr" {
  count                  = var.dr_enabled ? 1 : 0
  provider               = aws.dr
  source_db_instance_arn = aws_db_instance.main.arn
  kms_key_id             = local.dr_key
  retention_period       = var.db_backup_retention_days
}

resource "aws_db_subnet_group" "dr" {
  count      = var.dr_enabled ? 1 : 0
  provider   = aws.dr
  name       = "${var.name}-db"
  subnet_ids = local.net.dr.data_subnet_ids
}

resource "aws_db_instance" "replica" {
  #checkov:skip=CKV_AWS_157:The standby replica is single-AZ until it is promoted; Multi-AZ is switched on at activation (docs/deploy.md).
  #checkov:skip=CKV_AWS_118:Enhanced monitoring of the idle standby is not worth its role in the DR region; CloudWatch metrics remain.
  count                               = var.dr_enabled ? 1 : 0
  provider                            = aws.dr
  identifier                          = "${var.name}-db-replica"
  replicate_source_db                 = aws_db_instance.main.arn
  instance_class                      = var.db_instance_class
  storage_type                        = "gp3"
  storage_encrypted                   = true
  kms_key_id                          = local.dr_key
  db_subnet_group_name                = aws_db_subnet_group.dr[0].name
  vpc_security_group_ids              = [local.net.dr.security_group_ids.rds]
  publicly_accessible                 = false
  multi_az                            = false
  iam_database_authentication_enabled = true
  backup_retention_period             = var.db_backup_retention_days
  copy_tags_to_snapshot               = true
  deletion_protection                 = true
  skip_final_snapshot                 = true
  auto_minor_version_upgrade          = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = local.dr_key
}

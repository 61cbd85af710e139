# Buckets: uploads (deleted after 24 h), outputs (48 h, presigned downloads),
# logs (ALB and S3 access logs; Glacier after 90 days). All versioned, public
# access blocked, TLS only, aborted multipart uploads removed after a day.
#
# No static bucket: WhiteNoise serves the collected files from the image with
# hashed names and a year's immutable Cache-Control, Cloudflare caches them at
# the edge, and the files of a release always match its code (docs/deploy.md).
#
# Versioning keeps deleted objects as noncurrent versions: they expire one day
# later, so a user's file is gone at most a day after the scheduler deletes it.
locals {
  files = {
    uploads = var.upload_expiry_days
    outputs = var.output_expiry_days
  }
  tls_only = {
    sid     = "TlsOnly"
    effect  = "Deny"
    actions = ["s3:*"]
  }
}

resource "aws_s3_bucket" "files" {
  #checkov:skip=CKV2_AWS_62:Nothing reacts to object events: jobs are enqueued by the web process, not by S3.
  #checkov:skip=CKV_AWS_144:Cross-region replication is the DR switch (dr_enabled, dr.tf), off by default as the issue asks.
  for_each      = local.files
  bucket        = "${var.bucket_prefix}-${each.key}"
  force_destroy = false
}

resource "aws_s3_bucket_versioning" "files" {
  for_each = local.files
  bucket   = aws_s3_bucket.files[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "files" {
  for_each = local.files
  bucket   = aws_s3_bucket.files[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "files" {
  for_each                = local.files
  bucket                  = aws_s3_bucket.files[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "files" {
  for_each = local.files
  bucket   = aws_s3_bucket.files[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "files" {
  for_each = local.files
  bucket   = aws_s3_bucket.files[each.key].id
  # S3 counts whole days: 1 for 24 h, 2 for 48 h. The scheduler deletes on the hour; this is the backstop.
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
  rule {
    id     = "delete-markers"
    status = "Enabled"
    filter {}
    expiration {
      expired_object_delete_marker = true
    }
  }
  depends_on = [aws_s3_bucket_versioning.files]
}

resource "aws_s3_bucket_logging" "files" {
  for_each      = local.files
  bucket        = aws_s3_bucket.files[each.key].id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${each.key}/"
}

# Browsers upload straight to the uploads bucket with a presigned POST (POST /api/v1/uploads).
resource "aws_s3_bucket_cors_configuration" "uploads" {
  bucket = aws_s3_bucket.files["uploads"].id
  cors_rule {
    allowed_methods = ["POST"]
    allowed_origins = [for host in concat([var.domain], var.extra_hosts) : "https://${host}"]
    allowed_headers = ["*"]
    max_age_seconds = 3600
  }
}

data "aws_iam_policy_document" "files" {
  for_each = local.files
  statement {
    sid       = local.tls_only.sid
    effect    = local.tls_only.effect
    actions   = local.tls_only.actions
    resources = [aws_s3_bucket.files[each.key].arn, "${aws_s3_bucket.files[each.key].arn}/*"]
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

resource "aws_s3_bucket_policy" "files" {
  for_each   = local.files
  bucket     = aws_s3_bucket.files[each.key].id
  policy     = data.aws_iam_policy_document.files[each.key].json
  depends_on = [aws_s3_bucket_public_access_block.files]
}

# --- logs ----------------------------------------------------------------------
resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Operational logs stay in their region; the DR switch replicates the users' files.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to log objects.
  #checkov:skip=CKV_AWS_145:Elastic Load Balancing delivers access logs only to SSE-S3 buckets (AES256), not SSE-KMS.
  bucket        = "${var.bucket_prefix}-logs"
  force_destroy = false
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

# ALB access logs can only be delivered to a bucket encrypted with SSE-S3.
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "archive"
    status = "Enabled"
    filter {}
    transition {
      days          = var.log_glacier_days
      storage_class = "GLACIER"
    }
    expiration {
      days = var.log_expiry_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_elb_service_account" "current" {}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = local.tls_only.sid
    effect    = local.tls_only.effect
    actions   = local.tls_only.actions
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
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
  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }
  statement {
    sid       = "S3AccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.logs.json
  depends_on = [aws_s3_bucket_public_access_block.logs]
}

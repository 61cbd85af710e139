# Two buckets: uploads (deleted after 24 h) and outputs (48 h). The scheduler
# deletes files on time and marks jobs expired; these lifecycle rules are the
# backstop (S3 counts whole days, so 1 and 2).
resource "aws_s3_bucket" "files" {
  for_each      = toset(["uploads", "outputs"])
  bucket_prefix = "${var.name}-${each.key}-"
}

resource "aws_s3_bucket_public_access_block" "files" {
  for_each                = aws_s3_bucket.files
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "files" {
  for_each = aws_s3_bucket.files
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "files" {
  for_each = aws_s3_bucket.files
  bucket   = each.value.id
  rule {
    id     = "expire-${each.key}"
    status = "Enabled"
    filter {}
    expiration {
      days = each.key == "uploads" ? var.upload_retention_days : var.output_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

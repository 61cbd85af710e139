# One execution role (pull, logs, the tasks' secrets) and a task role per
# service with only what its process does to S3, plus X-Ray for the collector.
data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

locals {
  secret_arns = [local.store.secret_key_arn, local.store.redis.secret_arn, local.store.db.secret_arn]
  ecr_public  = "arn:${local.partition}:ecr:${var.region}:${local.account}:repository/ecr-public/*"
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # this action has no resource
  }
  statement {
    sid       = "EcrPull"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [aws_ecr_repository.app.arn, local.ecr_public]
  }
  statement {
    sid       = "EcrPullThroughCache"
    actions   = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    resources = [local.ecr_public]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.service : "${g.arn}:*"]
  }
  statement {
    sid       = "OwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
  statement {
    sid       = "Decrypt"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key]
  }
}

resource "aws_iam_role_policy" "execution" {
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# What each process does to the buckets (conversions/storage.py and its callers):
#   web        puts uploads, deletes a job's files (DELETE /api/v1/jobs, failed submits),
#              presigns output downloads and upload POSTs, reads both for the admin's
#              downloads; lists both only because the readiness probe's HEAD needs
#              s3:ListBucket to tell "absent" (404) from "forbidden" (403).
#   workers    read uploads, write, read and delete outputs (filter chains reuse outputs).
#   scheduler  deletes expired uploads and outputs.
#   migrate    no S3 at all.
locals {
  uploads = local.store.buckets.uploads.arn
  outputs = local.store.buckets.outputs.arn
  s3_rights = {
    web = {
      objects = { (local.uploads) = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], (local.outputs) = ["s3:GetObject", "s3:DeleteObject"] }
      list    = [local.uploads, local.outputs]
    }
    documents = local.worker_rights
    media     = local.worker_rights
    filters   = local.worker_rights
    scheduler = {
      objects = { (local.uploads) = ["s3:DeleteObject"], (local.outputs) = ["s3:DeleteObject"] }
      list    = []
    }
    migrate = { objects = {}, list = [] }
  }
  worker_rights = {
    objects = { (local.uploads) = ["s3:GetObject", "s3:DeleteObject"], (local.outputs) = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"] }
    list    = []
  }
}

resource "aws_iam_role" "task" {
  for_each           = local.s3_rights
  name               = "${var.name}-${each.key}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

data "aws_iam_policy_document" "task" {
  for_each = local.s3_rights
  dynamic "statement" {
    for_each = each.value.objects
    content {
      actions   = statement.value
      resources = ["${statement.key}/*"]
    }
  }
  dynamic "statement" {
    for_each = length(each.value.list) > 0 ? [1] : []
    content {
      actions   = ["s3:ListBucket"]
      resources = each.value.list
    }
  }
  dynamic "statement" {
    for_each = length(each.value.objects) > 0 ? [1] : []
    content {
      # SSE-KMS objects: writing needs a data key, reading (and a presigned GET) needs Decrypt.
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [local.kms_key]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
    }
  }
  statement {
    sid = "XRay" # the collector sidecar sends the task's traces
    #checkov:skip=CKV_AWS_111:X-Ray's write actions have no resource to scope them to.
    #checkov:skip=CKV_AWS_356:X-Ray's write actions have no resource to scope them to.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.s3_rights
  role     = aws_iam_role.task[each.key].id
  policy   = data.aws_iam_policy_document.task[each.key].json
}

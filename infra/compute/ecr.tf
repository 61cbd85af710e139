# One repository, one image for every process (the entry point takes the process name).
resource "aws_ecr_repository" "app" {
  name                 = "convert-all"
  image_tag_mutability = "IMMUTABLE" # a task definition's tag always means the same bytes
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = local.kms_key
  }
}

resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.images_kept} images (rollbacks)"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.images_kept }
      action       = { type = "expire" }
    }]
  })
}

# The tasks have no internet egress, so the X-Ray collector's public image comes
# through a pull-through cache: ECR fetches it from ECR Public once, the tasks
# pull it like our own image through the VPC endpoints.
resource "aws_ecr_pull_through_cache_rule" "ecr_public" {
  ecr_repository_prefix = "ecr-public"
  upstream_registry_url = "public.ecr.aws"
}

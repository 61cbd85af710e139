# One ECS service per process type, all from the same image (variable "processes").
data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${var.name}"
  retention_in_days = 30
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Execution role: pull the image, write logs, read the secrets.
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secrets" {
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [for s in aws_secretsmanager_secret.app : s.arn]
    }]
  })
}

# Task role: the application's own rights (the two buckets only).
resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-task-"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy" "task_s3" {
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = [for b in aws_s3_bucket.files : "${b.arn}/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [for b in aws_s3_bucket.files : b.arn]
      },
    ]
  })
}

locals {
  environment = merge({
    DJANGO_ENV           = "production"
    ALLOWED_HOSTS        = var.domain
    CSRF_TRUSTED_ORIGINS = "https://${var.domain}"
    S3_BUCKET            = aws_s3_bucket.files["uploads"].id
    S3_OUTPUTS_BUCKET    = aws_s3_bucket.files["outputs"].id
    S3_ADDRESSING_STYLE  = "virtual"
    AWS_DEFAULT_REGION   = var.region
    # The load balancer is in the VPC: believe its X-Forwarded-For, and let Prometheus in the VPC scrape.
    TRUSTED_PROXIES     = data.aws_vpc.this.cidr_block
    METRICS_ALLOWED_IPS = data.aws_vpc.this.cidr_block
    LOG_FORMAT          = "json"
  }, var.environment)

  # ECS health check of the web container: liveness over loopback (answered before Host checks).
  web_health_check = {
    command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=3)"]
    interval    = 15
    timeout     = 5
    retries     = 3
    startPeriod = 30
  }
}

resource "aws_ecs_task_definition" "process" {
  for_each                 = var.processes
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  # Conversion scratch space (WORK_DIR); Fargate gives 20-200 GiB.
  ephemeral_storage {
    size_in_gib = 50
  }
  container_definitions = jsonencode([{
    name      = each.key
    image     = var.image
    command   = each.value.command
    essential = true
    # Workers finish the job in hand on SIGTERM (rundramatiq --worker-shutdown-timeout).
    stopTimeout  = 120
    environment  = [for k, v in local.environment : { name = k, value = v }]
    secrets      = [for k, s in aws_secretsmanager_secret.app : { name = k, valueFrom = s.arn }]
    portMappings = each.key == "web" ? [{ containerPort = 8000, protocol = "tcp" }] : []
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
    # Workers and the scheduler have no HTTP port: their liveness is their process.
    healthCheck = each.key == "web" ? local.web_health_check : null
  }])
}

resource "aws_ecs_service" "process" {
  for_each        = var.processes
  name            = each.key
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.process[each.key].arn
  desired_count   = each.value.count
  launch_type     = "FARGATE"
  # A new task of a process type starts before the old one stops (rolling deploy).
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = each.key == "web" ? 60 : null
  network_configuration {
    subnets         = var.private_subnet_ids
    security_groups = [aws_security_group.tasks.id]
  }
  dynamic "load_balancer" {
    for_each = each.key == "web" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.web.arn
      container_name   = "web"
      container_port   = 8000
    }
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

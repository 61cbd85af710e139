resource "aws_ecs_cluster" "main" {
  name = local.cluster
  setting {
    name  = "containerInsights"
    value = "enabled" # RunningTaskCount and per-service memory for scaling and the dashboard
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "service" {
  #checkov:skip=CKV_AWS_338:The plan keeps application logs 30 days (log_retention_days), not a year.
  for_each          = toset([for k in keys(local.s3_rights) : k])
  name              = "/ecs/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key
}

locals {
  image = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"

  # Every setting comes from the environment (README.md); these are the ones AWS decides.
  environment = merge({
    DJANGO_ENV           = "production"
    ALLOWED_HOSTS        = join(",", local.hosts)
    CSRF_TRUSTED_ORIGINS = join(",", [for h in local.hosts : "https://${h}"])
    DATABASE_HOST        = local.store.db.address
    DATABASE_PORT        = tostring(local.store.db.port)
    DATABASE_NAME        = local.store.db.name
    S3_BUCKET            = local.store.buckets.uploads.name
    S3_OUTPUTS_BUCKET    = local.store.buckets.outputs.name
    S3_ADDRESSING_STYLE  = "virtual"
    AWS_DEFAULT_REGION   = var.region
    EMBEDDED_WORKERS     = "0"
    LOG_FORMAT           = "json"
    # nginx (127.0.0.1) and the ALB (public subnets) are the hops before gunicorn; Cloudflare's
    # CF-Connecting-IP is believed only from Cloudflare's ranges (convertall/cloudflare_ips.txt).
    TRUSTED_PROXIES     = join(",", concat(["127.0.0.1/32"], local.net.public_subnet_cidrs))
    METRICS_ALLOWED_IPS = local.net.vpc_cidr
    # Traces go to the collector sidecar over loopback, which sends them to X-Ray.
    OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:4318"
    OTEL_PROPAGATORS            = "tracecontext,baggage,xray"
  }, var.environment)

  secrets = [
    { name = "SECRET_KEY", valueFrom = local.store.secret_key_arn },
    { name = "REDIS_URL", valueFrom = "${local.store.redis.secret_arn}:url::" },
    { name = "DATABASE_USER", valueFrom = "${local.store.db.secret_arn}:username::" },
    { name = "DATABASE_PASSWORD", valueFrom = "${local.store.db.secret_arn}:password::" },
  ]

  health_check = {
    command     = ["CMD", "/app/scripts/docker-entrypoint.sh", "healthcheck"] # + the process: GET /health on its port
    interval    = 30
    timeout     = 5
    retries     = 3
    startPeriod = 30
  }

  collector_config = yamlencode({
    receivers  = { otlp = { protocols = { grpc = { endpoint = "127.0.0.1:4317" }, http = { endpoint = "127.0.0.1:4318" } } } }
    processors = { batch = { timeout = "5s" } }
    exporters  = { awsxray = { region = var.region } }
    service    = { pipelines = { traces = { receivers = ["otlp"], processors = ["batch"], exporters = ["awsxray"] } } }
  })
}

# One definition of a container of our image; the tasks below differ in process and size.
locals {
  containers = {
    for key, svc in merge(var.services, { migrate = var.migrate }) : key => {
      # null fields are left out: ECS would otherwise show them as a difference on every plan.
      # Containers: "app" runs the service's process; the web task adds "nginx" (the ALB's target).
      app = [for c in(key == "web" ? ["app", "nginx"] : ["app"]) : { for field, value in {
        name                   = c
        image                  = local.image
        command                = [c == "nginx" ? "nginx" : lookup(local.process, key, key)]
        essential              = true
        readonlyRootFilesystem = true # the image writes only under /tmp
        mountPoints            = [{ sourceVolume = "tmp-${c}", containerPath = "/tmp", readOnly = false }]
        environment = [for k, v in merge(local.environment, svc.environment, {
          OTEL_SERVICE_NAME = "${var.name}-${key}"
          }, key == "web" ? {
          GUNICORN_BIND = "127.0.0.1:8000" # only nginx, in the same task, reaches gunicorn
        } : {}) : { name = k, value = v }]
        secrets      = local.secrets
        portMappings = c == "nginx" ? [{ containerPort = local.net.app_port, protocol = "tcp" }] : null
        healthCheck  = key == "web" ? merge(local.health_check, { command = concat(local.health_check.command, [c == "nginx" ? "nginx" : "web"]) }) : null
        dependsOn    = c == "nginx" ? [{ containerName = "app", condition = "HEALTHY" }] : null
        # Workers finish the job in hand on SIGTERM; 120 s is Fargate's longest wait.
        stopTimeout     = key == "web" ? 30 : 120
        linuxParameters = { initProcessEnabled = true, capabilities = { drop = ["ALL"] } }
        ulimits         = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            awslogs-group         = aws_cloudwatch_log_group.service[key].name
            awslogs-region        = var.region
            awslogs-stream-prefix = c
            # The scheduler's lines carry the queue metrics (embedded metric format): never drop them.
            mode = key == "scheduler" ? "blocking" : "non-blocking"
          }
        }
      } : field => value if value != null }]
    }
  }

  collector = {
    name                   = "aws-otel-collector"
    image                  = "${local.account}.dkr.ecr.${var.region}.amazonaws.com/ecr-public/aws-observability/aws-otel-collector:${var.otel_collector_version}"
    essential              = false # traces are not worth a task
    readonlyRootFilesystem = true
    environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.collector_config }]
    linuxParameters        = { capabilities = { drop = ["ALL"] } }
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each                 = local.containers
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.key == "migrate" ? var.migrate.cpu : var.services[each.key].cpu
  memory                   = each.key == "migrate" ? var.migrate.memory : var.services[each.key].memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }
  ephemeral_storage {
    size_in_gib = each.key == "migrate" ? 21 : var.services[each.key].ephemeral_gb # WORK_DIR under /tmp
  }
  dynamic "volume" {
    for_each = each.value.app
    content {
      name = "tmp-${volume.value.name}" # one /tmp per container
    }
  }
  container_definitions = jsonencode(concat(
    each.value.app,
    [merge(local.collector, {
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
          awslogs-region        = var.region
          awslogs-stream-prefix = "otel"
          mode                  = "non-blocking"
        }
      }
    })],
  ))
}

resource "aws_ecs_service" "service" {
  for_each                          = var.services
  name                              = "${var.name}-${each.key}"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.service[each.key].arn
  desired_count                     = each.value.min
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  propagate_tags                    = "SERVICE"
  enable_execute_command            = false
  health_check_grace_period_seconds = each.key == "web" ? 60 : null
  # A new task starts before an old one stops; a deployment that never gets healthy rolls back.
  deployment_minimum_healthy_percent = each.key == "scheduler" ? 50 : 100
  deployment_maximum_percent         = 200
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  network_configuration {
    subnets          = local.net.private_subnet_ids
    security_groups  = [each.key == "web" ? local.net.security_group_ids.web : local.net.security_group_ids.worker]
    assign_public_ip = false
  }
  dynamic "load_balancer" {
    for_each = each.key == "web" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.web.arn
      container_name   = "nginx"
      container_port   = local.net.app_port
    }
  }
  lifecycle {
    # Autoscaling owns the count. The pipeline owns the running revision: it registers each
    # family's latest definition (Terraform's, when it changed one) with the new image by
    # digest and rolls it out (scripts/ecs-deploy.sh), so an apply never rolls an image back.
    ignore_changes = [desired_count, task_definition]
  }
  depends_on = [aws_lb_listener.https]
}

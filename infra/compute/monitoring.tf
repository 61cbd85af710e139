# The plan's alarms, all to the SNS topic ops-alerts, and its dashboard.
resource "aws_sns_topic" "ops_alerts" {
  name              = "ops-alerts"
  kms_master_key_id = local.kms_key
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.ops_alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.ops_alerts.arn]
  alb_dimension = aws_lb.main.arn_suffix
}

# CPU > 80% for 2 x 5 minutes, per service (the plan's put-metric-alarm).
resource "aws_cloudwatch_metric_alarm" "cpu" {
  for_each            = var.services
  alarm_name          = "${var.name}-${each.key}-high-cpu"
  alarm_description   = "CPU of ${var.name}-${each.key} above ${var.alarms.cpu_percent}%"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  dimensions          = { ClusterName = aws_ecs_cluster.main.name, ServiceName = aws_ecs_service.service[each.key].name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.cpu_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# 5xx (the targets' and the ALB's own) above 1% of requests; quiet minutes
# (fewer than min_requests) count as 0 so that one error in three requests is no page.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-high-errors"
  alarm_description   = "5xx above ${var.alarms.error_rate_percent}% of requests"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarms.error_rate_percent
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  metric_query {
    id          = "rate"
    label       = "5xx % of requests"
    expression  = "IF(requests >= ${var.alarms.min_requests}, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
    return_data = true
  }
  dynamic "metric_query" {
    for_each = { requests = "RequestCount", target5xx = "HTTPCode_Target_5XX_Count", elb5xx = "HTTPCode_ELB_5XX_Count" }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = { LoadBalancer = local.alb_dimension }
        stat        = "Sum"
        period      = 300
      }
    }
  }
}

# Queue depth > 1000. The API refuses new jobs once a queue holds QUEUE_MAX_DEPTH
# (1000) of them, so the depth stops there: the alarm fires at >= 1000, "full".
resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  for_each            = toset(local.workers)
  alarm_name          = "${var.name}-${each.key}-queue-backlog"
  alarm_description   = "${each.key} queue holds ${var.alarms.queue_depth} jobs or more: submissions are being refused"
  namespace           = "ConvertAll"
  metric_name         = "QueueDepth"
  dimensions          = { Queue = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.alarms.queue_depth
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# DB connections above 90% of max_connections (set explicitly in the data stage).
resource "aws_cloudwatch_metric_alarm" "db_connections" {
  alarm_name          = "${var.name}-db-connections"
  alarm_description   = "PostgreSQL connections above ${var.alarms.db_connections_percent}% of max_connections (${local.store.db.max_connections})"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = local.store.db.identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = floor(local.store.db.max_connections * var.alarms.db_connections_percent / 100)
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- Dashboard convert-all-production ------------------------------------------------
locals {
  services_named = { for k in keys(var.services) : k => "${var.name}-${k}" }
  ecs_metric     = [for k, n in local.services_named : ["AWS/ECS", "CPUUtilization", "ClusterName", local.cluster, "ServiceName", n, { label = k }]]
  memory_metric  = [for k, n in local.services_named : ["AWS/ECS", "MemoryUtilization", "ClusterName", local.cluster, "ServiceName", n, { label = k }]]
  tasks_metric   = [for k, n in local.services_named : ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", local.cluster, "ServiceName", n, { label = k }]]
  queue_metric   = [for q in local.workers : ["ConvertAll", "QueueDepth", "Queue", q, { label = q }]]
  age_metric     = [for q in local.workers : ["ConvertAll", "OldestJobAgeSeconds", "Queue", q, { label = q, stat = "Maximum" }]]
  success_metric = flatten([for i, f in local.workers : [
    ["ConvertAll", "JobsSucceeded", "Family", f, { id = "ok${i}", visible = false, stat = "Sum" }],
    ["ConvertAll", "JobsFailed", "Family", f, { id = "ko${i}", visible = false, stat = "Sum" }],
    [{ expression = "100 * ok${i} / (ok${i} + ko${i})", label = f, id = "rate${i}" }],
  ]])
  duration_metric = flatten([for f in local.workers : [
    ["ConvertAll", "ConversionSeconds", "Family", f, { label = "${f} p50", stat = "p50" }],
    ["ConvertAll", "ConversionSeconds", "Family", f, { label = "${f} p95", stat = "p95" }],
  ]])
  s3_metric = [for k, b in local.store.buckets : ["AWS/S3", "BucketSizeBytes", "BucketName", b.name, "StorageType", "StandardStorage", { label = k, period = 86400 }]]
  widgets = [
    { title = "CPU %", metrics = local.ecs_metric },
    { title = "Memory %", metrics = local.memory_metric },
    { title = "Requests", metrics = [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", local.alb_dimension, { stat = "Sum" }]] },
    { title = "Latency (s)", metrics = [
      ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.alb_dimension, { stat = "p50", label = "p50" }],
      ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.alb_dimension, { stat = "p99", label = "p99" }],
    ] },
    { title = "Errors (5xx)", metrics = [
      ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", local.alb_dimension, { stat = "Sum", label = "target" }],
      ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", local.alb_dimension, { stat = "Sum", label = "ALB" }],
    ] },
    { title = "Queue depth", metrics = local.queue_metric },
    { title = "Oldest queued job (s)", metrics = local.age_metric },
    { title = "Job success rate %", metrics = local.success_metric },
    { title = "Conversion duration (s)", metrics = local.duration_metric },
    { title = "S3 storage (bytes)", metrics = local.s3_metric },
    { title = "Running tasks", metrics = local.tasks_metric },
    { title = "Database connections", metrics = [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", local.store.db.identifier, { stat = "Maximum" }]] },
  ]
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = "${var.name}-production"
  dashboard_body = jsonencode({
    widgets = [for i, w in local.widgets : {
      type   = "metric"
      x      = (i % 3) * 8
      y      = floor(i / 3) * 6
      width  = 8
      height = 6
      properties = {
        title   = w.title
        region  = var.region
        view    = "timeSeries"
        stacked = false
        period  = 60
        stat    = "Average"
        metrics = w.metrics
      }
    }]
  })
}

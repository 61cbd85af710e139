# Failover of the origin (dr_enabled): Cloudflare's records point at
# dr.origin_name, a Route 53 failover pair: the primary ALB while its targets
# are healthy, else the standby ALB in the DR region (docs/deploy.md: activation).
# The health check watches a CloudWatch alarm, because Route 53's checkers are
# not in Cloudflare's ranges and the ALB admits nobody else.
resource "aws_cloudwatch_metric_alarm" "primary_unhealthy" {
  count               = var.dr_enabled ? 1 : 0
  alarm_name          = "${var.name}-primary-unhealthy"
  alarm_description   = "No healthy web target behind the primary ALB"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.main.arn_suffix, TargetGroup = aws_lb_target_group.web.arn_suffix }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_route53_health_check" "primary" {
  count                           = var.dr_enabled ? 1 : 0
  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = aws_cloudwatch_metric_alarm.primary_unhealthy[0].alarm_name
  cloudwatch_alarm_region         = var.region
  insufficient_data_health_status = "LastKnownStatus"
}

resource "aws_route53_record" "origin_primary" {
  count           = var.dr_enabled ? 1 : 0
  zone_id         = var.dr.zone_id
  name            = var.dr.origin_name
  type            = "A"
  set_identifier  = "primary"
  health_check_id = aws_route53_health_check.primary[0].id
  failover_routing_policy {
    type = "PRIMARY"
  }
  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "origin_standby" {
  count          = var.dr_enabled ? 1 : 0
  zone_id        = var.dr.zone_id
  name           = var.dr.origin_name
  type           = "A"
  set_identifier = "standby"
  failover_routing_policy {
    type = "SECONDARY"
  }
  alias {
    name                   = var.dr.standby_alb_dns_name
    zone_id                = var.dr.standby_alb_zone_id
    evaluate_target_health = true
  }
}

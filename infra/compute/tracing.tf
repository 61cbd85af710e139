# X-Ray: every task's collector sidecar sends OTLP spans here. Sample 5% of
# requests (and one a second per service), never the health checks.
resource "aws_xray_sampling_rule" "health" {
  rule_name      = "${var.name}-health"
  priority       = 100
  version        = 1
  reservoir_size = 0
  fixed_rate     = 0
  url_path       = "/health"
  host           = "*"
  http_method    = "*"
  service_name   = "*"
  service_type   = "*"
  resource_arn   = "*"
}

resource "aws_xray_sampling_rule" "default" {
  rule_name      = "${var.name}-default"
  priority       = 1000
  version        = 1
  reservoir_size = 1
  fixed_rate     = var.trace_sample_rate
  url_path       = "*"
  host           = "*"
  http_method    = "*"
  service_name   = "*"
  service_type   = "*"
  resource_arn   = "*"
}

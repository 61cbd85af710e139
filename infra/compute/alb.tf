# The ALB admits Cloudflare only (networking's security group). TLS from
# Cloudflare ends here (Full (strict): the certificate must cover the hosts);
# nginx in the web task buffers the request and hands it to gunicorn.
resource "aws_lb" "main" {
  #checkov:skip=CKV2_AWS_28:Cloudflare's WAF (managed OWASP set, rate limit) sits in front and the ALB admits only Cloudflare's ranges.
  #checkov:skip=CKV2_AWS_76:Cloudflare's WAF (managed rules, Log4j included) sits in front; the ALB admits only Cloudflare.
  name                       = "${var.name}-alb"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = local.net.public_subnet_ids
  security_groups            = [local.net.security_group_ids.alb]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  # Uploads up to MAX_UPLOAD_BYTES stream through; give a slow client time.
  idle_timeout = 300
  access_logs {
    bucket  = local.store.logs_bucket
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_lb_target_group" "web" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; the hop to nginx stays inside the VPC, in security groups that admit only the ALB.
  name                 = "${var.name}-web"
  port                 = local.net.app_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = local.net.vpc_id
  deregistration_delay = 30
  health_check {
    path                = "/health"
    matcher             = "200"
    interval            = var.health_check.interval
    timeout             = var.health_check.timeout
    unhealthy_threshold = var.health_check.retries
    healthy_threshold   = 2
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

# /metrics is for scrapers inside the VPC, never the public.
resource "aws_lb_listener_rule" "no_public_metrics" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10
  condition {
    path_pattern {
      values = ["/metrics", "/metrics/*"]
    }
  }
  action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "Not found"
      status_code  = "404"
    }
  }
}

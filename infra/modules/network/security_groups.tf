# The plan's security-group tables. Rules are separate resources so that groups
# can name each other without a cycle; a group with no egress rule has none
# (Terraform removes AWS's default allow-all egress).
#
#   alb       in: 80, 443 from Cloudflare only      out: app_port to web
#   web       in: app_port from alb                 out: 443 endpoints + S3, 5432 rds, 6379 redis
#   worker    in: nothing                           out: 443 endpoints + S3, 5432 rds, 6379 redis
#   endpoints in: 443 from web, worker              out: none
#   rds       in: 5432 from web, worker             out: none
#   redis     in: 6379 from web, worker             out: none
#
# No task can reach 0.0.0.0/0: a converter that escapes its sandbox finds no way out.
locals {
  tasks = {
    web    = aws_security_group.web.id
    worker = aws_security_group.worker.id
  }
  cloudflare = merge(
    { for pair in setproduct([80, 443], var.cloudflare_ipv4) : "${pair[0]} ${pair[1]}" => { port = pair[0], v4 = pair[1], v6 = null } },
    { for pair in setproduct([80, 443], var.cloudflare_ipv6) : "${pair[0]} ${pair[1]}" => { port = pair[0], v4 = null, v6 = pair[1] } },
  )
}

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached in the data and compute stages, which checkov scans as other root modules.
  name        = "${var.name}-alb"
  description = "ALB: 80/443 from Cloudflare only, out to the web tasks only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "web" {
  #checkov:skip=CKV2_AWS_5:Attached in the data and compute stages, which checkov scans as other root modules.
  name        = "${var.name}-web"
  description = "Web tasks (nginx + gunicorn): in from the ALB, out to data and AWS endpoints"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "worker" {
  #checkov:skip=CKV2_AWS_5:Attached in the data and compute stages, which checkov scans as other root modules.
  name        = "${var.name}-worker"
  description = "Workers, scheduler, migrate: no ingress, out to data and AWS endpoints only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface VPC endpoints: 443 from the tasks"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "rds" {
  #checkov:skip=CKV2_AWS_5:Attached in the data and compute stages, which checkov scans as other root modules.
  name        = "${var.name}-rds"
  description = "PostgreSQL: 5432 from the tasks only, no egress"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "redis" {
  #checkov:skip=CKV2_AWS_5:Attached in the data and compute stages, which checkov scans as other root modules.
  name        = "${var.name}-redis"
  description = "Redis: 6379 from the tasks only, no egress"
  vpc_id      = aws_vpc.this.id
}

# --- ALB ---------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "alb_cloudflare" {
  for_each          = local.cloudflare
  security_group_id = aws_security_group.alb.id
  description       = "Cloudflare edge"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.v4
  cidr_ipv6         = each.value.v6
}

resource "aws_vpc_security_group_egress_rule" "alb_to_web" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the web tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.web.id
}

# --- Tasks -------------------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "web_from_alb" {
  security_group_id            = aws_security_group.web.id
  description                  = "From the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_endpoints" {
  for_each                     = local.tasks
  security_group_id            = each.value
  description                  = "AWS APIs through the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_s3" {
  for_each          = local.tasks
  security_group_id = each.value
  description       = "S3 through the gateway endpoint (buckets, ECR image layers)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_rds" {
  for_each                     = local.tasks
  security_group_id            = each.value
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.rds.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_to_redis" {
  for_each                     = local.tasks
  security_group_id            = each.value
  description                  = "Redis"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.redis.id
}

# --- Endpoints and data ---------------------------------------------------------
resource "aws_vpc_security_group_ingress_rule" "endpoints_from_tasks" {
  for_each                     = local.tasks
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_tasks" {
  for_each                     = local.tasks
  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  for_each                     = local.tasks
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = each.value
}

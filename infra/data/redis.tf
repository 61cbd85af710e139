# Redis: Dramatiq's broker, the cache, sessions, rate limits and heartbeats.
# A replication group WITHOUT cluster mode: Dramatiq's Redis broker runs Lua
# scripts over several keys, which cluster mode refuses when the keys live in
# different hash slots. One primary and replicas in both AZs with automatic
# failover give the plan's availability; one shard of cache.r6g.large (13 GiB)
# holds far more than queues of job ids need.
resource "aws_elasticache_subnet_group" "main" {
  name       = "${var.name}-redis"
  subnet_ids = local.net.data_subnet_ids
}

# Queue keys have no TTL and cache keys do: volatile-lru evicts only cache
# entries under memory pressure, never a queued message.
resource "aws_elasticache_parameter_group" "main" {
  name   = "${var.name}-redis7"
  family = "redis7"
  parameter {
    name  = "maxmemory-policy"
    value = "volatile-lru"
  }
}

resource "aws_cloudwatch_log_group" "redis" {
  #checkov:skip=CKV_AWS_338:The plan keeps CloudWatch logs 30 days (log_retention_days), not a year.
  for_each          = toset(["slow-log", "engine-log"])
  name              = "/aws/elasticache/${var.name}-redis/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key
}

resource "aws_elasticache_replication_group" "main" {
  replication_group_id       = "${var.name}-redis"
  description                = "Convert-All broker, cache, sessions, rate limits"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = var.redis_nodes # one primary, the rest replicas, spread over the AZs
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
  parameter_group_name       = aws_elasticache_parameter_group.main.name
  subnet_group_name          = aws_elasticache_subnet_group.main.name
  security_group_ids         = [local.net.security_group_ids.redis]
  at_rest_encryption_enabled = true
  kms_key_id                 = local.kms_key
  transit_encryption_enabled = true
  auth_token                 = data.aws_secretsmanager_random_password.redis.random_password
  snapshot_retention_limit   = var.redis_snapshot_retention_days
  snapshot_window            = "05:00-06:00"
  maintenance_window         = "sun:06:30-sun:07:30"
  auto_minor_version_upgrade = true
  apply_immediately          = false
  dynamic "log_delivery_configuration" {
    for_each = aws_cloudwatch_log_group.redis
    content {
      destination      = log_delivery_configuration.value.name
      destination_type = "cloudwatch-logs"
      log_format       = "json"
      log_type         = log_delivery_configuration.key
    }
  }
  lifecycle {
    # The token is generated once (secrets.tf); rotation is a documented procedure.
    ignore_changes = [auth_token]
  }
}

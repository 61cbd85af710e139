output "buckets" {
  value = { for k, b in aws_s3_bucket.files : k => { name = b.id, arn = b.arn } }
}

output "logs_bucket" {
  value = aws_s3_bucket.logs.id
}

output "db" {
  value = {
    identifier      = aws_db_instance.main.identifier
    address         = aws_db_instance.main.address
    port            = aws_db_instance.main.port
    name            = aws_db_instance.main.db_name
    secret_arn      = aws_db_instance.main.master_user_secret[0].secret_arn
    max_connections = var.db_max_connections
  }
}

output "redis" {
  value = {
    id               = aws_elasticache_replication_group.main.id
    primary_endpoint = aws_elasticache_replication_group.main.primary_endpoint_address
    secret_arn       = aws_secretsmanager_secret.redis.arn
  }
}

output "secret_key_arn" {
  value = aws_secretsmanager_secret.secret_key.arn
}

output "kms_key_arn" {
  value = local.kms_key
}

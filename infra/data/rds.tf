# PostgreSQL, Multi-AZ, in the isolated data subnets. AWS generates the master
# password and keeps it in Secrets Manager (manage_master_user_password): it is
# never in Terraform's state, and RDS rotates it. The tasks get its username and
# password as DATABASE_USER/DATABASE_PASSWORD and build the URL from the parts.
resource "aws_db_subnet_group" "main" {
  name       = "${var.name}-db"
  subnet_ids = local.net.data_subnet_ids
}

resource "aws_db_parameter_group" "main" {
  name_prefix = "${var.name}-pg${var.db_engine_major}-"
  family      = "postgres${var.db_engine_major}"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # Explicit, so that the connections alarm (compute) knows its 100%.
  parameter {
    name         = "max_connections"
    value        = tostring(var.db_max_connections)
    apply_method = "pending-reboot"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
  parameter {
    name  = "log_lock_waits"
    value = "1"
  }
  lifecycle {
    create_before_destroy = true
  }
}

# RDS would create these itself, kept forever and unencrypted.
resource "aws_cloudwatch_log_group" "rds" {
  #checkov:skip=CKV_AWS_338:The plan keeps CloudWatch logs 30 days (log_retention_days), not a year.
  for_each          = toset(["postgresql", "upgrade"])
  name              = "/aws/rds/instance/${var.name}-db/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name_prefix        = "${var.name}-rds-mon-"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "main" {
  identifier                            = "${var.name}-db"
  engine                                = "postgres"
  engine_version                        = var.db_engine_version
  instance_class                        = var.db_instance_class
  multi_az                              = var.db_multi_az
  storage_type                          = "gp3"
  allocated_storage                     = var.db_storage_gb
  max_allocated_storage                 = var.db_max_storage_gb
  storage_encrypted                     = true
  kms_key_id                            = local.kms_key
  db_name                               = "convertall"
  username                              = "convertall"
  manage_master_user_password           = true
  master_user_secret_kms_key_id         = local.kms_key
  iam_database_authentication_enabled   = true
  db_subnet_group_name                  = aws_db_subnet_group.main.name
  vpc_security_group_ids                = [local.net.security_group_ids.rds]
  publicly_accessible                   = false
  parameter_group_name                  = aws_db_parameter_group.main.name
  ca_cert_identifier                    = "rds-ca-rsa2048-g1"
  backup_retention_period               = var.db_backup_retention_days # daily snapshots + point-in-time recovery
  backup_window                         = "03:00-04:00"
  maintenance_window                    = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot                 = true
  deletion_protection                   = true
  skip_final_snapshot                   = false
  final_snapshot_identifier             = "${var.name}-db-final"
  auto_minor_version_upgrade            = true
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = local.kms_key
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  depends_on                            = [aws_cloudwatch_log_group.rds]
}

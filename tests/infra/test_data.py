"""The plan's data layer (infra/data): RDS, ElastiCache, S3, secrets, DR."""

from tests.infra.hcl import blocks, module

DATA = module("data")


def test_rds_as_the_plan():
    db = DATA.resource("aws_db_instance", "main")
    assert DATA.resolve(db["instance_class"]) == "db.r6g.xlarge"
    assert DATA.resolve(db["multi_az"]) is True
    assert db["storage_type"] == "gp3"
    assert DATA.resolve(db["allocated_storage"]) == 500
    assert DATA.resolve(db["max_allocated_storage"]) == 1000  # autoscaling to 1 TB
    assert DATA.resolve(db["backup_retention_period"]) == 7  # daily, 7 days, point-in-time recovery
    assert db["engine"] == "postgres" and db["storage_encrypted"] is True
    assert db["kms_key_id"] == "${local.kms_key}"
    assert db["publicly_accessible"] is False and db["deletion_protection"] is True
    assert db["db_subnet_group_name"] == "${aws_db_subnet_group.main.name}"
    assert DATA.resource("aws_db_subnet_group", "main")["subnet_ids"] == "${local.net.data_subnet_ids}"
    assert db["vpc_security_group_ids"] == ["${local.net.security_group_ids.rds}"]
    assert set(db["enabled_cloudwatch_logs_exports"]) >= {"postgresql"}


def test_rds_password_is_generated_and_held_by_aws():
    db = DATA.resource("aws_db_instance", "main")
    assert db["manage_master_user_password"] is True
    assert "password" not in db and "password_wo" not in db
    assert db["master_user_secret_kms_key_id"] == "${local.kms_key}"
    params = {p["name"]: p["value"] for p in blocks(DATA.resource("aws_db_parameter_group", "main"), "parameter")}
    assert params["rds.force_ssl"] == "1"
    assert params["max_connections"] == "${tostring(var.db_max_connections)}"


def test_redis_replication_group_without_cluster_mode():
    redis = DATA.resource("aws_elasticache_replication_group", "main")
    assert DATA.resolve(redis["node_type"]) == "cache.r6g.large"
    assert "num_node_groups" not in redis and "replicas_per_node_group" not in redis  # no cluster mode: Dramatiq's Lua
    assert DATA.resolve(redis["num_cache_clusters"]) == 3
    assert redis["automatic_failover_enabled"] is True and redis["multi_az_enabled"] is True
    assert DATA.resolve(redis["snapshot_retention_limit"]) == 7
    assert redis["at_rest_encryption_enabled"] is True and redis["transit_encryption_enabled"] is True
    assert redis["kms_key_id"] == "${local.kms_key}"
    assert redis["security_group_ids"] == ["${local.net.security_group_ids.redis}"]
    assert DATA.resource("aws_elasticache_subnet_group", "main")["subnet_ids"] == "${local.net.data_subnet_ids}"
    params = {p["name"]: p["value"] for p in blocks(DATA.resource("aws_elasticache_parameter_group", "main"), "parameter")}
    assert params["maxmemory-policy"] == "volatile-lru"


def test_buckets_and_lifecycle_days():
    assert DATA.locals["files"] == {"uploads": "${var.upload_expiry_days}", "outputs": "${var.output_expiry_days}"}
    assert DATA.default("upload_expiry_days") == 1  # 24 h
    assert DATA.default("output_expiry_days") == 2  # 48 h
    rules = {r["id"]: r for r in blocks(DATA.resource("aws_s3_bucket_lifecycle_configuration", "files"), "rule")}
    assert rules["expire"]["expiration"][0]["days"] == "${local.files[each.key]}"
    assert rules["expire"]["noncurrent_version_expiration"][0]["noncurrent_days"] == 1
    assert rules["expire"]["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1
    assert rules["delete-markers"]["expiration"][0]["expired_object_delete_marker"] is True
    logs = blocks(DATA.resource("aws_s3_bucket_lifecycle_configuration", "logs"), "rule")[0]
    assert logs["transition"][0] == {"days": "${var.log_glacier_days}", "storage_class": "GLACIER"}
    assert DATA.default("log_glacier_days") == 90
    assert logs["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1


def test_every_bucket_versioned_encrypted_private_tls_only():
    buckets = DATA.resources["aws_s3_bucket"]
    assert set(buckets) == {"files", "logs", "replica"}
    for kind in ("aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block", "aws_s3_bucket_policy"):
        assert set(DATA.resources[kind]) == set(buckets), kind
    for name, pab in DATA.resources["aws_s3_bucket_public_access_block"].items():
        assert all(pab[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")), name
    for name, ver in DATA.resources["aws_s3_bucket_versioning"].items():
        assert ver["versioning_configuration"][0]["status"] == "Enabled", name
    sse = DATA.resources["aws_s3_bucket_server_side_encryption_configuration"]
    assert sse["files"]["rule"][0]["apply_server_side_encryption_by_default"][0]["kms_master_key_id"] == "${local.kms_key}"
    assert sse["logs"]["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "AES256"  # ALB logs
    for name in ("files", "logs", "replica_tls_only"):
        statement = blocks(DATA.data["aws_iam_policy_document"][name], "statement")[0]
        effect = DATA.resolve(statement["effect"]) if name != "replica_tls_only" else statement["effect"]
        condition = statement["condition"][0]
        assert effect in ("Deny", "${local.tls_only.effect}"), name
        assert (condition["variable"], condition["values"]) == ("aws:SecureTransport", ["false"]), name
    assert DATA.locals["tls_only"]["effect"] == "Deny"


def test_secrets_not_in_state_where_aws_can_generate_them():
    version = DATA.resource("aws_secretsmanager_secret_version", "secret_key")
    assert "secret_string" not in version
    assert version["secret_string_wo"] == "${ephemeral.aws_secretsmanager_random_password.secret_key.random_password}"
    for name in ("secret_key", "redis"):
        assert DATA.resource("aws_secretsmanager_secret", name)["kms_key_id"] == "${local.kms_key}"


def test_dr_is_behind_a_switch_that_is_off():
    assert DATA.default("dr_enabled") is False
    assert DATA.default("dr_region") == "us-west-2"
    replica = DATA.resource("aws_db_instance", "replica")
    assert replica["count"] == "${var.dr_enabled ? 1 : 0}" and replica["provider"] == "${aws.dr}"
    assert replica["replicate_source_db"] == "${aws_db_instance.main.arn}"
    assert DATA.resource("aws_s3_bucket", "replica")["for_each"] == "${var.dr_enabled ? local.files : {}}"
    replication = DATA.resource("aws_s3_bucket_replication_configuration", "files")
    assert replication["rule"][0]["delete_marker_replication"][0]["status"] == "Enabled"
    assert DATA.resource("aws_db_instance_automated_backups_replication", "dr")["count"] == "${var.dr_enabled ? 1 : 0}"

"""The plan's compute, scaling, IAM and monitoring (infra/compute)."""

import pytest

from tests.infra.hcl import blocks, module

COMPUTE = module("compute")
SERVICES = COMPUTE.default("services")

# The plan's table: vCPU, GB, min, max, scaling.
PLAN = {
    "web": (2, 4, 2, 10, "cpu"),
    "documents": (4, 8, 2, 8, "queue"),
    "media": (8, 16, 2, 6, "queue"),
    "filters": (2, 4, 2, 10, "cpu"),
}


@pytest.mark.parametrize("name", PLAN)
def test_task_sizes_and_counts(name):
    vcpu, gb, low, high, scale_on = PLAN[name]
    svc = SERVICES[name]
    assert (svc["cpu"], svc["memory"]) == (vcpu * 1024, gb * 1024)
    assert (svc["min"], svc["max"]) == (low, high)
    assert svc["scale_on"] == scale_on
    if scale_on == "cpu":
        assert svc["target"] == 70


def test_scheduler_is_a_leader_and_a_standby():
    assert SERVICES["scheduler"]["min"] == SERVICES["scheduler"]["max"] == 2


def test_cluster_services_and_families():
    assert COMPUTE.locals["cluster"] == "${var.name}-cluster" and COMPUTE.default("name") == "convert-all"
    assert COMPUTE.resource("aws_ecs_service", "service")["name"] == "${var.name}-${each.key}"
    assert COMPUTE.resource("aws_ecs_task_definition", "service")["family"] == "${var.name}-${each.key}"
    assert COMPUTE.locals["process"] == {
        "web": "web",
        "documents": "worker-documents",
        "media": "worker-media",
        "filters": "worker-filters",
        "scheduler": "scheduler",
    }
    assert COMPUTE.resource("aws_ecr_repository", "app")["name"] == "convert-all"
    assert COMPUTE.resource("aws_ecr_repository", "app")["image_tag_mutability"] == "IMMUTABLE"


def test_services_run_in_private_subnets_with_their_groups():
    net = blocks(COMPUTE.resource("aws_ecs_service", "service"), "network_configuration")[0]
    assert net["subnets"] == "${local.net.private_subnet_ids}"
    assert net["assign_public_ip"] is False
    assert net["security_groups"] == [
        '${each.key == "web" ? local.net.security_group_ids.web : local.net.security_group_ids.worker}'
    ]


def test_health_check_as_the_plan():
    assert COMPUTE.default("health_check") == {"interval": 30, "timeout": 5, "retries": 3}
    tg = COMPUTE.resource("aws_lb_target_group", "web")
    hc = blocks(tg, "health_check")[0]
    assert hc["path"] == "/health"
    assert (hc["interval"], hc["timeout"], hc["unhealthy_threshold"]) == (
        "${var.health_check.interval}",
        "${var.health_check.timeout}",
        "${var.health_check.retries}",
    )
    assert tg["port"] == "${local.net.app_port}"  # nginx, 8080
    container = COMPUTE.locals["health_check"]
    assert (container["interval"], container["timeout"], container["retries"]) == (30, 5, 3)


def test_scaling_policies():
    cpu = COMPUTE.resource("aws_appautoscaling_policy", "cpu")
    assert "s.scale_on == \"cpu\"" in cpu["for_each"]
    config = cpu["target_tracking_scaling_policy_configuration"][0]
    assert config["predefined_metric_specification"][0]["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"
    assert config["target_value"] == "${each.value.target}"
    queue = COMPUTE.resource("aws_appautoscaling_policy", "queue")
    assert "s.scale_on == \"queue\"" in queue["for_each"]
    metrics = queue["target_tracking_scaling_policy_configuration"][0]["customized_metric_specification"][0]["metrics"]
    depth = metrics[0]["metric_stat"][0]["metric"][0]
    assert (depth["namespace"], depth["metric_name"]) == ("ConvertAll", "QueueDepth")
    assert depth["dimensions"][0] == {"name": "Queue", "value": "${each.key}"}
    assert metrics[2]["expression"] == "depth / tasks" and metrics[2]["return_data"] is True
    target = COMPUTE.resource("aws_appautoscaling_target", "service")
    assert (target["min_capacity"], target["max_capacity"]) == ("${each.value.min}", "${each.value.max}")


def test_alarms_as_the_plan():
    assert COMPUTE.default("alarms") == {
        "cpu_percent": 80,
        "error_rate_percent": 1,
        "min_requests": 100,
        "queue_depth": 1000,
        "db_connections_percent": 90,
    }
    alarms = COMPUTE.resources["aws_cloudwatch_metric_alarm"]
    assert alarms["cpu"]["metric_name"] == "CPUUtilization" and alarms["cpu"]["threshold"] == "${var.alarms.cpu_percent}"
    assert "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests" in alarms["errors"]["metric_query"][0]["expression"]
    assert alarms["queue_depth"]["namespace"] == "ConvertAll" and alarms["queue_depth"]["metric_name"] == "QueueDepth"
    assert alarms["queue_depth"]["threshold"] == "${var.alarms.queue_depth}"
    assert alarms["db_connections"]["metric_name"] == "DatabaseConnections"
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == "${local.alarm_actions}", name
    assert COMPUTE.locals["alarm_actions"] == ["${aws_sns_topic.ops_alerts.arn}"]
    assert COMPUTE.resource("aws_sns_topic", "ops_alerts")["name"] == "ops-alerts"


def test_dashboard_and_logs():
    assert COMPUTE.resource("aws_cloudwatch_dashboard", "main")["dashboard_name"] == "${var.name}-production"
    titles = [w["title"] for w in COMPUTE.locals["widgets"]]
    for want in ("CPU", "Memory", "Requests", "Latency", "Errors", "Queue depth", "success rate", "duration", "S3", "tasks"):
        assert any(want.lower() in t.lower() for t in titles), want
    logs = COMPUTE.resource("aws_cloudwatch_log_group", "service")
    assert logs["name"] == "/ecs/${var.name}-${each.key}"
    assert COMPUTE.default("log_retention_days") == 30


def test_task_roles_least_privilege():
    rights = COMPUTE.locals["s3_rights"]
    assert set(rights) == {"web", "documents", "media", "filters", "scheduler", "migrate"}
    up, out = "${(local.uploads)}", "${(local.outputs)}"  # map keys that are expressions
    assert "s3:PutObject" in rights["web"]["objects"][up] and "s3:PutObject" not in rights["web"]["objects"][out]
    worker = COMPUTE.locals["worker_rights"]
    assert "s3:PutObject" not in worker["objects"][up] and "s3:PutObject" in worker["objects"][out]
    assert rights["scheduler"]["objects"] == {up: ["s3:DeleteObject"], out: ["s3:DeleteObject"]}
    assert worker["list"] == [] and rights["scheduler"]["list"] == [] and rights["migrate"] == {"objects": {}, "list": []}
    execution = {s.get("sid"): s for s in blocks(COMPUTE.data["aws_iam_policy_document"]["execution"], "statement")}
    assert execution["OwnSecrets"]["resources"] == "${local.secret_arns}"
    assert execution["Decrypt"]["actions"] == ["kms:Decrypt"]


def test_alb_is_public_but_behind_cloudflare():
    alb = COMPUTE.resource("aws_lb", "main")
    assert alb["security_groups"] == ["${local.net.security_group_ids.alb}"]
    assert alb["subnets"] == "${local.net.public_subnet_ids}"
    assert alb["drop_invalid_header_fields"] is True
    http = COMPUTE.resource("aws_lb_listener", "http")
    assert http["default_action"][0]["type"] == "redirect"

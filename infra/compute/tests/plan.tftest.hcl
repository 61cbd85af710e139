# `terraform test` (offline): plans this stage against a mocked AWS and mocked
# stage outputs, so every expression is evaluated, then checks what it built.
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/convert-all-alb/0123"
      arn_suffix = "app/convert-all-alb/0123"
      dns_name   = "convert-all-alb-0123.us-east-1.elb.amazonaws.com"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/convert-all-web/0123"
      arn_suffix = "targetgroup/convert-all-web/0123"
    }
  }
  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/convert-all-alb/0123/4567" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/convert-all-role" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:ops-alerts" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:us-east-1:123456789012:cluster/convert-all-cluster" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/convert-all:1" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:us-east-1:123456789012:repository/convert-all"
      repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/convert-all"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/convert-all" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

override_data {
  target = data.terraform_remote_state.networking
  values = {
    outputs = {
      vpc_id              = "vpc-0123"
      vpc_cidr            = "10.0.0.0/16"
      public_subnet_ids   = ["subnet-pub-a", "subnet-pub-b"]
      public_subnet_cidrs = ["10.0.1.0/24", "10.0.2.0/24"]
      private_subnet_ids  = ["subnet-priv-a", "subnet-priv-b"]
      data_subnet_ids     = ["subnet-data-a", "subnet-data-b"]
      app_port            = 8080
      security_group_ids  = { alb = "sg-alb", web = "sg-web", worker = "sg-worker", endpoints = "sg-endpoints", rds = "sg-rds", redis = "sg-redis" }
    }
  }
}

override_data {
  target = data.terraform_remote_state.data
  values = {
    outputs = {
      buckets = {
        uploads = { name = "convert-all-uploads", arn = "arn:aws:s3:::convert-all-uploads" }
        outputs = { name = "convert-all-outputs", arn = "arn:aws:s3:::convert-all-outputs" }
      }
      logs_bucket    = "convert-all-logs"
      db             = { identifier = "convert-all-db", address = "db.internal", port = 5432, name = "convertall", secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-db", max_connections = 1000 }
      redis          = { id = "convert-all-redis", primary_endpoint = "redis.internal", secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:convert-all/redis" }
      secret_key_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:convert-all/secret-key"
      kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/mrk-0123"
    }
  }
}

variables {
  state_bucket    = "convert-all-tfstate"
  domain          = "convert-all.com"
  certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/0123"
  image_tag       = "abc123"
}

run "mocked_apply" {
  command = apply # against the mocked provider: nothing leaves this machine

  assert {
    condition     = aws_ecs_cluster.main.name == "convert-all-cluster"
    error_message = "cluster name"
  }
  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.service["web"].container_definitions) : c.name] == ["app", "nginx", "aws-otel-collector"]
    error_message = "the web task runs web, nginx and the collector"
  }
  assert {
    condition     = alltrue([for k, t in aws_ecs_task_definition.service : contains([for c in jsondecode(t.container_definitions) : c.name], "aws-otel-collector")])
    error_message = "every task has the collector sidecar"
  }
  assert {
    condition     = alltrue(flatten([for k, t in aws_ecs_task_definition.service : [for c in jsondecode(t.container_definitions) : c.readonlyRootFilesystem]]))
    error_message = "every container has a read-only root"
  }
  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.service["media"].container_definitions) : c.command if c.name != "aws-otel-collector"] == [["worker-media"]]
    error_message = "media runs the worker-media process"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.service["migrate"].container_definitions)[0].command == ["migrate"]
    error_message = "the migrate task runs migrate"
  }
  assert {
    condition     = one([for e in jsondecode(aws_ecs_task_definition.service["web"].container_definitions)[0].environment : e.value if e.name == "ALLOWED_HOSTS"]) == "convert-all.com,www.convert-all.com,api.convert-all.com"
    error_message = "api.<domain> is an allowed host"
  }
  assert {
    condition     = one([for e in jsondecode(aws_ecs_task_definition.service["web"].container_definitions)[0].environment : e.value if e.name == "TRUSTED_PROXIES"]) == "127.0.0.1/32,10.0.1.0/24,10.0.2.0/24"
    error_message = "nginx and the ALB's subnets are the trusted proxies"
  }
  assert {
    condition     = [for c in jsondecode(aws_ecs_task_definition.service["web"].container_definitions) : try(c.healthCheck.command[3], null)] == ["web", "nginx", null]
    error_message = "the web task's containers check their own process's /health"
  }
  assert {
    condition     = !can(jsondecode(aws_ecs_task_definition.service["documents"].container_definitions)[0].healthCheck) && can(jsondecode(aws_ecs_task_definition.service["web"].container_definitions)[1].healthCheck)
    error_message = "null fields are left out of container definitions"
  }
  assert {
    condition     = aws_ecs_task_definition.service["media"].cpu == "8192" && aws_ecs_task_definition.service["media"].memory == "16384"
    error_message = "media is 8 vCPU / 16 GB"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.db_connections.threshold == 900
    error_message = "DB connections alarm at 90% of max_connections"
  }
  assert {
    condition     = [for lb in aws_ecs_service.service["web"].load_balancer : lb.container_name] == ["nginx"]
    error_message = "the ALB targets nginx"
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets) >= 10
    error_message = "the dashboard has its widgets"
  }
}

run "deploy_role" {
  command = apply
  variables {
    github_repository = "convert-all/convert-all"
  }
  assert {
    condition     = length(aws_iam_role.deploy) == 1 && length(aws_iam_openid_connect_provider.github) == 1
    error_message = "the deploy role and GitHub's OIDC provider"
  }
}

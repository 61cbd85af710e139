output "alb_dns_name" {
  description = "The origin for Cloudflare's records (infra/cloudflare origin), unless dr_enabled (then dr.origin_name)."
  value       = aws_lb.main.dns_name
}

output "ecr_repository_url" {
  value = aws_ecr_repository.app.repository_url
}

output "cluster" {
  value = aws_ecs_cluster.main.name
}

output "services" {
  value = { for k, s in aws_ecs_service.service : k => s.name }
}

output "ops_alerts_topic" {
  value = aws_sns_topic.ops_alerts.arn
}

output "migrate" {
  description = "Run once per release, before the new services take traffic."
  value = join(" ", [
    "aws ecs run-task --cluster ${aws_ecs_cluster.main.name} --launch-type FARGATE",
    "--task-definition ${aws_ecs_task_definition.service["migrate"].family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", local.net.private_subnet_ids)}],securityGroups=[${local.net.security_group_ids.worker}],assignPublicIp=DISABLED}'",
  ])
}

output "deploy_role_arn" {
  description = "The repository variable AWS_DEPLOY_ROLE_ARN."
  value       = try(aws_iam_role.deploy[0].arn, null)
}

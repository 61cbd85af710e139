output "url" {
  value = "https://${var.domain} (point its DNS at ${aws_lb.web.dns_name})"
}

output "migrate" {
  description = "Run once per release before the new services take traffic."
  value       = "aws ecs run-task --cluster ${aws_ecs_cluster.this.name} --launch-type FARGATE --task-definition ${aws_ecs_task_definition.process["web"].family} --overrides '{\"containerOverrides\":[{\"name\":\"web\",\"command\":[\"python\",\"manage.py\",\"migrate\",\"--noinput\"]}]}' --network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${aws_security_group.tasks.id}]}'"
}

output "buckets" {
  value = { for k, b in aws_s3_bucket.files : k => b.id }
}

# web and filters scale on CPU (target 70%); documents and media on their queue:
# the backlog per task (QueueDepth from the scheduler's embedded metrics divided
# by the running tasks), the metric AWS recommends for queue workers.
resource "aws_appautoscaling_target" "service" {
  for_each           = { for k, s in var.services : k => s if s.max > s.min }
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.service[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min
  max_capacity       = each.value.max
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = { for k, s in var.services : k => s if s.max > s.min && s.scale_on == "cpu" }
  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "queue" {
  for_each           = { for k, s in var.services : k => s if s.max > s.min && s.scale_on == "queue" }
  name               = "${var.name}-${each.key}-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = "ecs"
  resource_id        = aws_appautoscaling_target.service[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.service[each.key].scalable_dimension
  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target # queued jobs per running task
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    customized_metric_specification {
      metrics {
        id          = "depth"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ConvertAll"
            metric_name = "QueueDepth"
            dimensions {
              name  = "Queue"
              value = each.key
            }
          }
        }
      }
      metrics {
        id          = "tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.main.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.service[each.key].name
            }
          }
        }
      }
      metrics {
        id          = "backlog"
        label       = "Queued jobs per task"
        expression  = "depth / tasks"
        return_data = true
      }
    }
  }
}

#!/usr/bin/env bash
# The ECS half of .github/workflows/deploy-production.yml (docs/deploy.md, "Shipping").
#
#   scripts/ecs-deploy.sh snapshot FILE      write each service's current task definition ARN
#   scripts/ecs-deploy.sh migrate IMAGE      run convert-all-migrate once with IMAGE; fail if it fails
#   scripts/ecs-deploy.sh deploy IMAGE       render + register every service's task definition with
#                                            IMAGE, point the services at them, wait until stable
#   scripts/ecs-deploy.sh rollback FILE      point every service back at FILE's ARNs, wait until stable
#   scripts/ecs-deploy.sh render IMAGE < task-definition.json   (what deploy registers; no AWS call)
#
# IMAGE is the pushed image by digest (<registry>/convert-all@sha256:...). Only containers
# whose image is from the convert-all repository change (app and nginx); the collector
# sidecar keeps its own. Needs the AWS CLI and jq.
set -euo pipefail

CLUSTER="${ECS_CLUSTER:-convert-all-cluster}"
read -r -a SERVICES <<<"${ECS_SERVICES:-convert-all-web convert-all-documents convert-all-media convert-all-filters convert-all-scheduler}"
MIGRATE_FAMILY="${MIGRATE_FAMILY:-convert-all-migrate}"
REPOSITORY="${ECR_REPOSITORY:-convert-all}"

# A described task definition -> the input of register-task-definition with the new image.
render() {
  jq --arg image "$1" --arg repo "/$REPOSITORY" '
    .taskDefinition // .
    | del(.taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities,
          .registeredAt, .registeredBy, .deregisteredAt)
    | .containerDefinitions |= map(
        if (.image | split("@")[0] | split(":")[0] | endswith($repo)) then .image = $image else . end)'
}

register() { # FAMILY IMAGE -> new task definition ARN
  local rendered
  rendered="$(aws ecs describe-task-definition --task-definition "$1" --output json | render "$2")"
  aws ecs register-task-definition --cli-input-json "$rendered" --query taskDefinition.taskDefinitionArn --output text
}

cmd="${1:-}"
shift || true
case "$cmd" in
  render)
    render "$1" ;;
  snapshot)
    out="$1"
    aws ecs describe-services --cluster "$CLUSTER" --services "${SERVICES[@]}" \
      --query 'services[].{service: serviceName, taskDefinition: taskDefinition}' --output json > "$out"
    [ "$(jq length "$out")" = "${#SERVICES[@]}" ] || { echo "not every service exists: $(cat "$out")" >&2; exit 1; }
    jq -r '.[] | "\(.service) runs \(.taskDefinition)"' "$out" ;;
  migrate)
    arn="$(register "$MIGRATE_FAMILY" "$1")"
    # The one-off task runs where the web service runs (its subnets and security groups).
    network="$(aws ecs describe-services --cluster "$CLUSTER" --services "${SERVICES[0]}" \
      --query 'services[0].networkConfiguration' --output json)"
    task="$(aws ecs run-task --cluster "$CLUSTER" --task-definition "$arn" --launch-type FARGATE \
      --network-configuration "$network" --started-by "deploy-${GITHUB_SHA:-manual}" \
      --query 'tasks[0].taskArn' --output text)"
    echo "migrations: $task ($arn)"
    aws ecs wait tasks-stopped --cluster "$CLUSTER" --tasks "$task"
    # shellcheck disable=SC2016  # the backticks are a JMESPath literal, not a command
    codes="$(aws ecs describe-tasks --cluster "$CLUSTER" --tasks "$task" \
      --query 'tasks[0].containers[?name!=`aws-otel-collector`].exitCode' --output text)"
    for code in $codes; do
      [ "$code" = 0 ] || { echo "migrations failed (exit codes: $codes)" >&2; exit 1; }
    done
    echo "migrations done" ;;
  deploy)
    for service in "${SERVICES[@]}"; do
      arn="$(register "$service" "$1")"  # each service runs the task family of its own name
      aws ecs update-service --cluster "$CLUSTER" --service "$service" --task-definition "$arn" \
        --query 'service.serviceName' --output text >/dev/null
      echo "$service -> $arn"
    done
    aws ecs wait services-stable --cluster "$CLUSTER" --services "${SERVICES[@]}"
    echo "every service is stable" ;;
  rollback)
    jq -r '.[] | "\(.service) \(.taskDefinition)"' "$1" | while read -r service arn; do
      aws ecs update-service --cluster "$CLUSTER" --service "$service" --task-definition "$arn" \
        --query 'service.serviceName' --output text >/dev/null
      echo "$service rolled back to $arn"
    done
    aws ecs wait services-stable --cluster "$CLUSTER" --services "${SERVICES[@]}"
    echo "rollback done" ;;
  *)
    sed -n '2,14p' "$0" >&2
    exit 2 ;;
esac

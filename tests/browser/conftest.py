"""A real server for the browser tests, and Debian's Chromium for Playwright.

The server is what `make run` starts: gunicorn with the embedded worker
threads, SQLite and local files under a throw-away folder.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import services

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
_DROP = ("DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "S3_BUCKET", "S3_OUTPUTS_BUCKET", "STORAGE_BACKEND")


@contextlib.contextmanager
def run_site(var, **overrides):
    """gunicorn as `make run` starts it, on a free port, with its state under `var`."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(
        DJANGO_SETTINGS_MODULE="convertall.settings",
        CONVERTALL_VAR_DIR=str(var),
        EMBEDDED_WORKERS="1",
        EMBEDDED_WORKER_THREADS="2",
        DEBUG="0",
        RATE_LIMIT="1000/min",
        QUOTA_ANONYMOUS_MAX_UPLOAD_MB="3",
        GUNICORN_ACCESS_LOG=str(var / "access.log"),
    )
    env.update(overrides)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    port = services.free_port()
    log = open(var / "server.log", "wb")
    gunicorn = str(Path(python).parent / "gunicorn")
    proc = subprocess.Popen(
        [gunicorn, "convertall.wsgi", "-c", "convertall/gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "8"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        if not services.wait_port("127.0.0.1", port, 60, proc):
            pytest.fail(f"gunicorn did not start:\n{(var / 'server.log').read_text()[-3000:]}", pytrace=False)
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", env=env, var=var, log=var / "server.log")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    with run_site(tmp_path_factory.mktemp("site-var")) as running:
        yield running


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    services.require(shutil.which(CHROMIUM), "Chromium is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

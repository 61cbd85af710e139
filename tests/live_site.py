"""A real server for tests that talk to it over a socket: gunicorn as `make run` starts it.

The embedded default: SQLite and local files under a throw-away folder, the
three queues served by worker threads inside the web process.
"""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import services

ROOT = Path(__file__).resolve().parent.parent
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

"""The production-shaped set on one machine (`make services`).

Starts, against real services on loopback:

- **PostgreSQL**: a fresh database ``convertall_stack_<hex>`` on the server at
  127.0.0.1:5432 (a throwaway server is started from the Debian binaries when
  none runs), migrated, and dropped again on exit.
- **Redis**: the server at 127.0.0.1:6379 (or a throwaway one). The stack
  claims a Redis *database number* of its own (1-15) so that it never touches
  anyone else's keys, flushes only that database at start and at exit, and
  uses it for the Dramatiq broker, the cache and the status copies.
- **S3**: ``moto_server`` on a free loopback port, with a fresh bucket for
  uploads and outputs.
- **web**: ``gunicorn convertall.wsgi -c convertall/gunicorn.conf.py`` on
  127.0.0.1:PORT with ``EMBEDDED_WORKERS=0`` (the web process only enqueues).
- **workers**: one ``manage.py rundramatiq --queues <queue> --processes 1
  --threads N`` per queue (``documents``, ``media``, ``filters``), each with
  its own thread count. ``rundramatiq`` finds the actors through
  ``DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]`` (``conversions/tasks.py``)
  and execs ``dramatiq``; the consumers' idle wait comes from
  ``DRAMATIQ_WORKER_TIMEOUT_MS`` (settings export it as
  ``dramatiq_worker_timeout`` before the exec: dramatiq reads it when it is
  imported, before Django's settings load).
- **scheduler** (the CLI, or ``Stack(scheduler=True)``): ``manage.py scheduler``.

Every process runs in its own process group and logs to the terminal (or to
``<log-dir>/<name>.log``). On exit, Ctrl-C or SIGTERM each group leader gets
SIGTERM (gunicorn's and dramatiq's masters stop their own children), then the
group SIGKILL after a grace period; each child also gets SIGTERM if this
process dies without cleaning up. Extra environment for every process:
``Stack(extra_env={...})``.

CLI::

    make services                       # PORT=8000 by default
    .venv/bin/python scripts/stack.py [--port 8000] [--embedded] [--log-dir DIR]

``--embedded`` starts the embedded default instead (gunicorn with worker
threads inside the web process, SQLite and local files in a temp directory).
As a module: ``with Stack() as stack: requests.get(stack.url + "/health")``.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conversions.engine.registry import FAMILIES  # noqa: E402
from scripts.stack_support import Process, claim_redis_db, redis_client, with_path  # noqa: E402
from tests import services  # noqa: E402

logger = logging.getLogger("convertall.stack")

QUEUES = FAMILIES
# LibreOffice and ffmpeg jobs are heavy: fewer threads there than for images.
DEFAULT_THREADS = {"documents": 2, "media": 4, "filters": 2}
PY = str(Path(sys.executable))
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# Variables the stack decides; an inherited value (a test run's, a .env's) must not leak in.
_OWNED_ENV = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "S3_BUCKET",
    "S3_OUTPUTS_BUCKET",
    "S3_ENDPOINT_URL",
    "STORAGE_BACKEND",
    "STORAGE_DIR",
    "EMBEDDED_WORKERS",
    "CONVERTALL_VAR_DIR",
    "WORK_DIR",
    "dramatiq_worker_timeout",
)
class _Base:
    """Process bookkeeping shared by the stack and the embedded default."""

    def __init__(self, *, port=None, log_dir=None, web_workers=2, web_threads=4, extra_env=None):
        self.port = port or services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web_workers, self.web_threads = web_workers, web_threads
        self.extra_env = dict(extra_env or {})
        self.var_dir = Path(tempfile.mkdtemp(prefix="convertall-stack-"))
        self.log_dir = Path(log_dir) if log_dir else None
        self.processes = []
        self.env = None

    def _base_env(self):
        env = {k: v for k, v in os.environ.items() if k not in _OWNED_ENV}
        env.update(
            DJANGO_SETTINGS_MODULE="convertall.settings",
            CONVERTALL_VAR_DIR=str(self.var_dir),
            PYTHONUNBUFFERED="1",
            DEBUG="0",
        )
        return env

    def manage(self, *args, check=True):
        return subprocess.run(
            [PY, "manage.py", *args], env=self.env, cwd=ROOT, check=check, capture_output=True, text=True
        )

    def spawn(self, name, argv, env=None):
        proc = Process(name, argv, env or self.env, self.log_dir).start()
        self.processes.append(proc)
        return proc

    def start_web(self):
        argv = [GUNICORN, "convertall.wsgi", "-c", "convertall/gunicorn.conf.py", "-b", f"127.0.0.1:{self.port}"]
        argv += ["--workers", str(self.web_workers), "--threads", str(self.web_threads)]
        web = self.spawn("web", argv)
        if not services.wait_port("127.0.0.1", self.port, 60, web.proc) or not self._healthy():
            raise RuntimeError(f"gunicorn did not come up on {self.url}:\n{web.tail()}")
        return web

    def _healthy(self, timeout=30):
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return False

    def dead(self):
        return [p for p in self.processes if not p.alive]

    def stop(self):
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


class Embedded(_Base):
    """The embedded default: gunicorn with worker threads inside, SQLite, local files."""

    def __init__(self, *, web_workers=1, web_threads=8, **kw):
        super().__init__(web_workers=web_workers, web_threads=web_threads, **kw)

    def start(self):
        self.env = {**self._base_env(), "EMBEDDED_WORKERS": "1", **self.extra_env}
        self.manage("migrate", "--noinput", "-v0")
        self.start_web()
        return self

    def describe(self):
        return f"web (embedded workers, SQLite, local files)  {self.url}\nvar dir  {self.var_dir}"


class Stack(_Base):
    """PostgreSQL + Redis + S3 + gunicorn + one Dramatiq worker per queue."""

    def __init__(
        self, *, threads=None, queues=QUEUES, worker_timeout_ms=None, scheduler=False, database_url=None, redis_url=None,
        **kw,
    ):
        super().__init__(**kw)
        self.threads = {**DEFAULT_THREADS, **(threads or {})}
        self.queues = tuple(queues)
        self.worker_timeout_ms = worker_timeout_ms
        self.with_scheduler = scheduler
        self.database_url = self.redis_url = self.s3_endpoint = None
        # Given URLs (a test's throwaway servers, which it may stop) are used as they are.
        self._given_database_url, self._given_redis_url = database_url, redis_url
        self.bucket = f"convertall-{uuid.uuid4().hex[:12]}"
        self._admin_url = None
        self._redis_claimed = False

    # --- Services --------------------------------------------------------

    def _provision_database(self):
        import psycopg

        if self._given_database_url:
            self.database_url = self._given_database_url
            return
        base = services.postgres_url()
        if not base:
            raise RuntimeError("no PostgreSQL on 127.0.0.1:5432 and none could be started (apt-get install postgresql)")
        name = f"convertall_stack_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._admin_url = base
        self.database_url = with_path(base, name)

    def _drop_database(self):
        if not self._admin_url:
            return
        import psycopg

        name = urlsplit(self.database_url).path.lstrip("/")
        try:
            with psycopg.connect(self._admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as exc:
            logger.warning("could not drop database %s: %s", name, exc)
        self._admin_url = None

    def _provision_redis(self):
        if self._given_redis_url:
            self.redis_url = self._given_redis_url
            return
        base = services.redis_url()
        if not base:
            raise RuntimeError("no Redis on 127.0.0.1:6379 and redis-server is not installed")
        self.redis_url = claim_redis_db(base)
        self._redis_claimed = True

    def _release_redis(self):
        if self._redis_claimed:
            client = redis_client(self.redis_url)
            client.flushdb()
            client.close()
            self._redis_claimed = False

    def _provision_s3(self):
        self.s3_endpoint = services.s3_endpoint()
        if not self.s3_endpoint:
            raise RuntimeError("moto_server could not be started (pip install 'moto[server]')")
        services.make_bucket(self.s3_endpoint, self.bucket)

    # --- Processes -------------------------------------------------------

    def _stack_env(self):
        env = self._base_env()
        env.update(services.S3_ENV)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            S3_BUCKET=self.bucket,
            S3_ENDPOINT_URL=self.s3_endpoint,
            EMBEDDED_WORKERS="0",
        )
        if self.worker_timeout_ms is not None:
            env["DRAMATIQ_WORKER_TIMEOUT_MS"] = str(self.worker_timeout_ms)
        env.update(self.extra_env)
        return env

    def start_worker(self, queue, name=None):
        argv = [PY, "manage.py", "rundramatiq", "--queues", queue, "--processes", "1"]
        argv += ["--threads", str(self.threads[queue]), "--worker-shutdown-timeout", "10000", "--skip-logging"]
        return self.spawn(name or f"worker-{queue}", argv)

    def start_scheduler(self):
        return self.spawn("scheduler", [PY, "manage.py", "scheduler"])

    def _wait_workers(self, timeout=60):
        """Each worker process heartbeats into Redis once its consumers fetch."""
        client = redis_client(self.redis_url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if client.zcard("dramatiq:__heartbeats__") >= len(self.queues):
                    return
                if self.dead():
                    break
                time.sleep(0.1)
        finally:
            client.close()
        tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.processes)
        raise RuntimeError(f"workers did not start consuming:\n{tails}")

    def start(self):
        t0 = time.monotonic()
        self._provision_database()
        self._provision_redis()
        self._provision_s3()
        self.env = self._stack_env()
        migrate = self.manage("migrate", "--noinput", "-v0", check=False)
        if migrate.returncode:
            raise RuntimeError(f"migrate failed:\n{migrate.stderr[-3000:]}")
        for queue in self.queues:
            self.start_worker(queue)
        if self.with_scheduler:
            self.start_scheduler()
        self.start_web()
        self._wait_workers()
        logger.info("stack up in %.1fs at %s", time.monotonic() - t0, self.url)
        return self

    def stop(self):
        super().stop()
        self._release_redis()
        self._drop_database()

    def describe(self):
        rows = [
            ("web", self.url),
            ("API docs", self.url + "/api/docs"),
            ("health", self.url + "/api/v1/health"),
            ("PostgreSQL", self.database_url),
            ("Redis", self.redis_url),
            ("S3", f"{self.s3_endpoint}/{self.bucket}"),
        ]
        rows += [(f"worker {q}", f"{self.threads[q]} threads") for q in self.queues]
        if self.with_scheduler:
            rows.append(("scheduler", "manage.py scheduler (requeue, purge)"))
        return "\n".join(f"{k:<12} {v}" for k, v in rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Start the production-shaped set on one machine.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--embedded", action="store_true", help="the embedded default instead")
    parser.add_argument("--log-dir", help="write each process's output to <name>.log here instead of the terminal")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # runs the same clean-up as Ctrl-C
    if args.embedded:
        stack = Embedded(port=args.port, log_dir=args.log_dir)
    else:
        stack = Stack(port=args.port, log_dir=args.log_dir, scheduler=True)
    with stack:
        print(f"\nConvert-All is up:\n{stack.describe()}\nCtrl-C stops everything.\n", flush=True)
        try:
            while not stack.dead():
                time.sleep(1)
            print(f"stopping: {', '.join(p.name for p in stack.dead())} exited", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping...", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throwaway PostgreSQL and Redis servers that a test may stop and restart.

The servers on 127.0.0.1:5432/6379 are shared by the whole suite (and by
other developers): a test that stops a service starts its own from the
Debian binaries on a free port instead, and stops it at the end.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests import services


class ThrowawayRedis:
    """redis-server on a free port, with nothing persisted (a restart loses every key)."""

    def __init__(self, port=None):
        self.port = port or services.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    @staticmethod
    def available():
        return shutil.which("redis-server") is not None

    def start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not services.wait_port("127.0.0.1", self.port, 10, self.proc):
            raise RuntimeError(f"redis-server did not start on port {self.port}")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # like a crash: nothing saved
            self.proc.wait(10)
        self.proc = None

    def restart(self, down_seconds=0.0):
        self.stop()
        time.sleep(down_seconds)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _as_postgres(cmd):
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary directory on a free port (database `test`)."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        self.bindir = Path(bins[-1]).parent if bins else None
        self.port = services.free_port()
        self.datadir = None
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/test"

    def available(self):
        return self.bindir is not None

    def _pg_ctl(self, *args):
        return subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]), capture_output=True, text=True
        )

    def start(self):
        if self.datadir is None:
            self.datadir = Path(tempfile.mkdtemp(prefix="convertall-pg-"))
            if os.geteuid() == 0:
                shutil.chown(self.datadir, "postgres", "postgres")
            init = [str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            subprocess.run(_as_postgres(init), check=True, capture_output=True)
        opts = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._pg_ctl("-o", opts, "-l", str(self.datadir / "log"), "-w", "start")
        if done.returncode:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}")
        createdb = [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "test"]
        subprocess.run(createdb, capture_output=True)  # exists already after a restart
        return self

    def stop(self):
        if self.datadir is not None:
            self._pg_ctl("-m", "immediate", "stop")

    def destroy(self):
        self.stop()
        if self.datadir is not None:
            shutil.rmtree(self.datadir, ignore_errors=True)
            self.datadir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()

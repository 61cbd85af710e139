"""Real services for the test suite: PostgreSQL, Redis and an S3 server.

Each is used where it already runs (127.0.0.1:5432 / :6379); on a machine
with neither, a throwaway server is started from the Debian binaries and
stopped at exit. The S3 server is moto in server mode on loopback. Under
CI=true a missing service is a failure, never a skip.
"""

import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parent.parent
_started = []


def require(condition, reason):
    """Skip a test when a service or tool is missing; fail under CI."""
    if condition:
        return
    if CI:
        pytest.fail(f"required under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host, port, timeout=0.3):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=30, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def _stop_all():
    for proc in reversed(_started):
        if isinstance(proc, subprocess.Popen):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        else:
            proc()


atexit.register(_stop_all)


def _as_postgres_user(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _start_postgres():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        return None
    bindir = Path(bins[-1]).parent
    datadir = Path(tempfile.mkdtemp(prefix="convertall-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres_user([str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(datadir / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    _started.append(
        lambda: subprocess.run(
            _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]), capture_output=True
        )
    )
    subprocess.run(
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"], capture_output=True
    )
    return f"postgres://postgres@127.0.0.1:{port}/test"


def postgres_url():
    """A PostgreSQL URL (database `test`), starting a throwaway server if none runs."""
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"]
    if port_open("127.0.0.1", 5432):
        url = "postgres://postgres@127.0.0.1:5432/test"
    else:
        try:
            url = _start_postgres()
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"could not start a throwaway PostgreSQL: {exc}", file=sys.stderr)
            url = None
    if url:
        os.environ["TEST_DATABASE_URL"] = url
    return url


def redis_url():
    """A Redis URL, starting a throwaway redis-server if none runs."""
    if os.environ.get("TEST_REDIS_URL"):
        return os.environ["TEST_REDIS_URL"]
    if port_open("127.0.0.1", 6379):
        url = "redis://127.0.0.1:6379/0"
    elif shutil.which("redis-server"):
        port = free_port()
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _started.append(proc)
        url = f"redis://127.0.0.1:{port}/0" if wait_port("127.0.0.1", port, 10, proc) else None
    else:
        url = None
    if url:
        os.environ["TEST_REDIS_URL"] = url
    return url


_moto = {}


def s3_endpoint():
    """The URL of a moto S3 server on loopback, started once per test run."""
    if "url" in _moto:
        return _moto["url"]
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if not exe:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _started.append(proc)
    if not wait_port("127.0.0.1", port, 30, proc):
        return None
    _moto["url"] = f"http://127.0.0.1:{port}"
    return _moto["url"]


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def make_bucket(endpoint, name):
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_creds())
    try:
        client.create_bucket(Bucket=name)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    return client


def _creds():
    return {"aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"]}

"""Support for scripts/stack.py: service processes in their own process
groups, and a Redis database number claimed per stack."""

import ctypes
import logging
import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger("convertall.stack")
ROOT = Path(__file__).resolve().parent.parent

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the child before exec: SIGTERM when the process that started us dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


class Process:
    """One service process in its own process group, with its log."""

    def __init__(self, name, argv, env, log_dir):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = Path(log_dir) / f"{name}.log" if log_dir else None
        self.proc = None

    def start(self):
        out = open(self.log_path, "ab") if self.log_path else None
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if out:
                out.close()
        logger.info("started %s pid=%s", self.name, self.proc.pid)
        return self

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace=10):
        if self.proc is None:
            return
        # The leader only: dramatiq's and gunicorn's masters stop their own
        # children gracefully; a group-wide TERM reaches those children twice,
        # which dramatiq takes as "kill now".
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            logger.warning("%s ignored SIGTERM for %ss; killing its group", self.name, grace)
        # Forked children (dramatiq's worker processes) may outlive the leader.
        self.signal_group(signal.SIGKILL)
        self.proc.wait()

    def tail(self, lines=40):
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# --- Redis database claim ----------------------------------------------------


def with_path(url, path):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{path}", parts.query, parts.fragment))


def redis_client(url):
    import redis

    return redis.Redis.from_url(url)


_CLAIM_KEY = "convertall-stack:owner"


def claim_redis_db(base_url, first=1, last=15):
    """Claim a Redis database number no live stack holds; flush only that one.

    Database 0 is left to everyone else. A claim names its owner's pid; the
    claim of a dead owner (killed -9) is taken over.
    """
    me = f"{os.uname().nodename}:{os.getpid()}"
    for db in range(first, last + 1):
        url = with_path(base_url, str(db))
        client = redis_client(url)
        try:
            if not client.set(_CLAIM_KEY, me, nx=True):
                if _owner_alive(client.get(_CLAIM_KEY)):
                    continue
            client.flushdb()
            client.set(_CLAIM_KEY, me)
            return url
        finally:
            client.close()
    raise RuntimeError(f"every Redis database {first}-{last} is claimed by a running stack")


def _owner_alive(raw):
    host, _, pid = (raw or b"").decode().rpartition(":")
    if host != os.uname().nodename or not pid.isdigit():
        return True  # another machine's claim: leave it alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

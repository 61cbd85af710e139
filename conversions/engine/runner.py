"""The one sandboxed runner every external tool goes through.

Each call gets: its working directory (the job's private temporary folder),
a wall-clock timeout that kills the whole process group, stderr captured into
a readable error, and the sandbox of conversions/engine/sandbox.py: rlimits (CPU,
address space, file size, processes, no core), no capabilities,
no_new_privs, a seccomp filter (no network sockets, no ptrace), Landlock and
bubblewrap's namespaces where this machine has them. The layers are applied
by a launcher exec'd in the child, so no `preexec_fn` runs in a threaded worker.
"""

import logging
import os
import re
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from conversions.errors import Canceled, ConversionFailed, TransientError
from conversions.engine import sandbox

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.25


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class ToolTimeout(ConversionFailed):
    code = "timeout"


def limits(*, memory_mb, cpu_seconds, max_file_mb, processes=None):
    """The launcher's rlimits: {name: [soft, hard]}."""
    # Soft CPU limit below the hard one: SIGXCPU first (a readable cause), SIGKILL a second later.
    cpu = int(cpu_seconds)
    out = {"cpu": [cpu, cpu + 1], "core": [0, 0], "fsize": [int(max_file_mb) * 1024 * 1024] * 2}
    if memory_mb:
        out["as"] = [int(memory_mb) * 1024 * 1024] * 2
    processes = processes or settings.RUNNER_MAX_PROCESSES
    if processes:
        out["nproc"] = [int(processes)] * 2
    return out


def tail(text, limit=600):
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    return "..." + text[-limit:]


def run(
    argv,
    *,
    cwd,
    timeout=None,
    memory_mb=None,
    cpu_seconds=None,
    max_file_mb=None,
    env=None,
    network=False,
    on_tick=None,
    check=True,
    tool=None,
    read_only=(),
    processes=None,
    tmp_sockets=False,
):
    """Run argv sandboxed; return RunResult or raise ConversionFailed.

    `on_tick()` is called every TICK_SECONDS while the tool runs; it may raise
    Canceled to stop the tool (the process group is killed first).
    `read_only` names files or folders outside `cwd` the tool may read (say, a
    script of ours); `processes` overrides RUNNER_MAX_PROCESSES; `tmp_sockets`
    lets LibreOffice make (and remove) its UNO pipe sockets in /tmp.
    """
    timeout = timeout or settings.RUNNER_TIMEOUT_SECONDS
    memory_mb = settings.RUNNER_MEMORY_MB if memory_mb is None else memory_mb
    max_file_mb = max_file_mb or settings.RUNNER_MAX_OUTPUT_MB
    cpu_seconds = cpu_seconds or timeout * 2
    tool = tool or Path(argv[0]).name
    cwd = Path(os.path.abspath(cwd))  # bubblewrap binds it at this same path
    full_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(cwd),
        "TMPDIR": str(cwd),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        **(env or {}),
    }
    rlimits = limits(memory_mb=memory_mb, cpu_seconds=cpu_seconds, max_file_mb=max_file_mb, processes=processes)
    cmd = sandbox.command(argv, cwd=cwd, limits=rlimits, read_only=read_only, network=network, tmp_sockets=tmp_sockets)
    returncode, stdout, stderr, seconds = _spawn(cmd, cwd, full_env, timeout, on_tick, tool)
    return _outcome(tool, returncode, stdout, stderr, seconds, check)


def _spawn(cmd, cwd, env, timeout, on_tick, tool):
    """Start the boxed command, wait for it (ticking), kill its group: (returncode, stdout, stderr, seconds)."""
    started = time.monotonic()
    with tempfile.TemporaryFile(dir=cwd) as out, tempfile.TemporaryFile(dir=cwd) as err:
        try:
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )
        except OSError as exc:
            raise TransientError(f"{tool} could not be started: {exc}", code="tool_unavailable") from exc
        try:
            _wait(proc, timeout, on_tick, tool)
        finally:
            _kill_group(proc)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    returncode = proc.returncode
    if sandbox.current().active.get("namespaces") and 128 < returncode < 128 + signal.NSIG:
        # bubblewrap answers 128+N for a tool killed by signal N: read it as Popen would have.
        returncode = 128 - returncode
    return returncode, stdout, stderr, seconds


def _outcome(tool, returncode, stdout, stderr, seconds, check):
    """The RunResult, or the error a job fails with."""
    if returncode == sandbox.EXIT_SANDBOX and stderr.startswith("sandbox: "):
        # Never run a tool half-boxed: the launcher refused, so the job fails and the log says why.
        logger.error("runner: tool=%s %s", tool, stderr.strip())
        raise TransientError(f"{tool} could not be started in its sandbox.", code="sandbox_failed")
    if returncode == 127 and stderr.startswith("sandbox: cannot run "):
        raise TransientError(f"{tool} could not be started: {stderr[20:].strip()}", code="tool_unavailable")
    logger.info("runner: tool=%s rc=%s seconds=%.3f", tool, returncode, seconds)
    if check and returncode != 0:
        raise ConversionFailed(_explain(tool, returncode, stderr or stdout), code="tool_failed")
    return RunResult(returncode, stdout, stderr, seconds)


def _wait(proc, timeout, on_tick, tool):
    deadline = time.monotonic() + timeout
    watch = _exit_watch(proc)
    try:
        while not watch(TICK_SECONDS):
            if time.monotonic() > deadline:
                _kill_group(proc)
                raise ToolTimeout(f"{tool} did not finish within {timeout} seconds and was stopped.")
            if on_tick is not None:
                try:
                    on_tick()
                except Canceled:
                    _kill_group(proc)
                    raise
    finally:
        watch.close()


class _exit_watch:
    """watch(seconds) -> True once the process has exited and is reaped.

    Popen.wait(timeout) polls with sleeps that double up to 50 ms, so a tool
    that ends at 16 ms is seen at ~31 ms: on every call (the sandbox launcher
    alone takes ~15 ms) that was most of the runner's own cost. A pidfd wakes
    us the moment the process exits; where there is none (Linux < 5.3), Popen's
    wait as before.
    """

    def __init__(self, proc):
        self.proc = proc
        self.poller = self.fd = None
        try:
            self.fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            return
        self.poller = select.poll()
        self.poller.register(self.fd, select.POLLIN)

    def __call__(self, seconds):
        if self.poller is None:
            try:
                self.proc.wait(timeout=seconds)
                return True
            except subprocess.TimeoutExpired:
                return False
        if not self.poller.poll(seconds * 1000):
            return False
        self.proc.wait()
        return True

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _kill_group(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    else:
        # The leader is gone; stragglers it forked may remain in the group.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# How tools say malloc failed under the address-space limit (they often abort or exit 1).
_OUT_OF_MEMORY = re.compile(
    r"out of memory|MemoryError|cannot allocate memory|no memory|bad_alloc|failed to allocate|allocation failed", re.I
)


def _explain(tool, returncode, stderr):
    if returncode != 0 and _OUT_OF_MEMORY.search(stderr or ""):
        return f"{tool} ran out of memory; the file may be too large or malformed. ({tail(stderr, 200)})"
    if returncode < 0:
        sig = signal.Signals(-returncode).name
        if sig == "SIGXCPU":
            return f"{tool} used up its CPU time allowance (SIGXCPU); the file may be too large or malformed."
        if sig == "SIGKILL":
            return f"{tool} was killed (SIGKILL), most likely out of memory; the file may be too large or malformed."
        if sig == "SIGXFSZ":
            return f"{tool} produced an output larger than the allowed size."
        return f"{tool} crashed ({sig}); the file may be damaged."
    detail = tail(stderr)
    return f"{tool} could not convert the file: {detail}" if detail else f"{tool} failed (exit code {returncode})."

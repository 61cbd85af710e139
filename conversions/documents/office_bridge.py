"""The worker side of the warm LibreOffice: a pool of bridges per process.

The bridge is `conversions/documents/lo_bridge.py` run by Debian's Python (the only one
that imports `uno`) in its own process group, inside the same sandbox as every
tool (conversions/engine/sandbox.py: no network sockets, rlimits including file size
and processes, Landlock and namespaces where present), in a private directory
that holds the throw-away profile and is all it may write. It never sees a
job's folder: each call's source is linked (or copied) into a fresh folder of
the bridge's own and the output moved back, so one office serving many jobs
reads only the document in hand. It is started lazily by the first document
job, never at import.

A pool of OFFICE_POOL_SIZE bridges (default 1) serves the process's
threads, one call per bridge at a time: LibreOffice runs one conversion at a
time anyway (its SolarMutex), so parallel documents need parallel soffices. A
thread waiting for a free bridge keeps renewing its job's lease. A bridge is
replaced after OFFICE_BRIDGE_RESTART_AFTER conversions (LibreOffice grows with every document), after a crash, and after a call that
outlived OFFICE_BRIDGE_TIMEOUT_SECONDS (its whole process group is killed);
the call that hit a crash or hang is tried once more on a fresh bridge.
"""

import atexit
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings

from convertall.tracing import tool_span
from conversions.engine import runner, sandbox
from conversions.errors import Canceled, ConversionFailed

logger = logging.getLogger(__name__)

HELPER = Path(__file__).resolve().parent / "lo_bridge.py"
TICK_SECONDS = 0.25


class BridgeUnavailable(Exception):
    """The warm bridge cannot start here (no python3-uno, no soffice...)."""


class BridgeBroken(Exception):
    """The bridge crashed or hung during a call; it has been killed."""

    def __init__(self, message, *, code):
        super().__init__(message)
        self.code = code


class BridgeProcess:
    """One running helper (and its soffice), spoken to in JSON lines."""

    def __init__(self):
        root = Path(settings.WORK_DIR)
        root.mkdir(parents=True, exist_ok=True)
        # Beside the jobs' folders: the same file system, so a source is linked in, not copied.
        self.dir = Path(tempfile.mkdtemp(prefix="lo-bridge-", dir=root))
        self.log_path = self.dir / "bridge.log"
        self.uses = 0
        self._buf = b""
        python = settings.OFFICE_PYTHON
        argv = sandbox.command(
            [python, "-I", str(HELPER), str(self.dir)], cwd=self.dir, limits=self._limits(), read_only=(HELPER,),
            tmp_sockets=True,
        )
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.dir), "LANG": "C.UTF-8",
               "LO_BRIDGE_START_TIMEOUT": str(settings.OFFICE_BRIDGE_START_SECONDS)}  # fmt: skip
        started = time.monotonic()
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                    cwd=self.dir, start_new_session=True,
                )  # fmt: skip
        except OSError as exc:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise BridgeUnavailable(f"cannot run {python}: {exc}") from exc
        try:
            hello = self._read(time.monotonic() + settings.OFFICE_BRIDGE_START_SECONDS + 5, None)
        except BridgeBroken as exc:
            self.kill()
            raise BridgeUnavailable(str(exc)) from exc
        if not hello.get("ready"):
            detail = hello.get("error", "")
            self.kill()
            raise BridgeUnavailable(f"the LibreOffice bridge did not start: {detail}")
        logger.info("office bridge started pid=%s seconds=%.3f", self.proc.pid, time.monotonic() - started)

    @staticmethod
    def _limits():
        out = {"core": [0, 0], "fsize": [settings.RUNNER_MAX_OUTPUT_MB * 1024 * 1024] * 2}
        if settings.RUNNER_MAX_PROCESSES:
            out["nproc"] = [settings.RUNNER_MAX_PROCESSES] * 2
        mb = settings.OFFICE_BRIDGE_MEMORY_MB
        if mb:
            out["as"] = [int(mb) * 1024 * 1024] * 2
        return out

    def call(self, request, timeout, on_tick=None):
        """One request; a conversion's files pass through a folder of the bridge's own."""
        if request.get("op") != "convert":
            return self._call(request, timeout, on_tick)
        inbox = Path(tempfile.mkdtemp(prefix="call-", dir=self.dir))
        try:
            src, dst = Path(request["src"]), Path(request["dst"])
            staged_src, staged_dst = inbox / f"in-{src.name}", inbox / f"out-{dst.name}"
            _link_or_copy(src, staged_src)
            reply = self._call({**request, "src": str(staged_src), "dst": str(staged_dst)}, timeout, on_tick)
            if staged_dst.exists():
                shutil.move(staged_dst, dst)
            return reply
        finally:
            shutil.rmtree(inbox, ignore_errors=True)

    def _call(self, request, timeout, on_tick=None):
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            logger.warning("office bridge pid=%s is gone: %s", self.proc.pid, exc)
            self.kill()
            raise BridgeBroken("LibreOffice stopped while converting this document.", code="office_crashed") from exc
        reply = self._read(time.monotonic() + timeout, on_tick, timeout)
        self.uses += 1
        if reply.get("code") == "crashed":
            self.kill()
            raise BridgeBroken("LibreOffice crashed on this document.", code="office_crashed")
        return reply

    def _read(self, deadline, on_tick, timeout=None):
        """One JSON line, or BridgeBroken after killing the process group."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise BridgeBroken(f"LibreOffice did not finish within {timeout} seconds and was stopped.", code="timeout")
            ready, _, _ = select.select([fd], [], [], min(TICK_SECONDS, remaining))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    # The tail is read before kill() removes its folder; it goes to the log,
                    # not to the user (it holds server paths).
                    logger.warning("office bridge pid=%s exited: %s", self.proc.pid, self.log_tail())
                    self.kill()
                    raise BridgeBroken("LibreOffice stopped while converting this document.", code="office_crashed")
                self._buf += chunk
            elif on_tick is not None:
                try:
                    on_tick()
                except Canceled:
                    # The office is busy with a job nobody wants: cheaper to restart it than to wait.
                    self.kill()
                    raise
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            logger.warning("office bridge pid=%s answered garbage: %r", self.proc.pid, line[:200])
            self.kill()
            raise BridgeBroken("LibreOffice stopped while converting this document.", code="office_crashed") from None

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self):
        try:
            return runner.tail(self.log_path.read_text(errors="replace"), 400)
        except OSError:
            return ""

    def stop(self):
        """Ask politely (soffice saves nothing, but exits cleanly), then kill the group."""
        if self.alive():
            try:
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            pass
        if getattr(self, "proc", None) is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                logger.warning("office bridge pid=%s did not die", self.proc.pid)
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:  # another file system (WORK_DIR on a volume), or links refused
        shutil.copyfile(src, dst)


class _Slot:
    """One place in the pool: at most one bridge, used by one conversion at a time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.bridge = None


class OfficeManager:
    """The process's pool of warm bridges: lazy starts, one call per bridge, restarts.

    OFFICE_POOL_SIZE bridges (default 1) let that many conversions run at once
    in one worker process; each LibreOffice still converts one document at a
    time. A bridge starts only when a call finds every started one busy, so a
    quiet worker keeps one soffice, not the whole pool.
    """

    def __init__(self, size=None):
        self.size = max(1, size or settings.OFFICE_POOL_SIZE)
        self._slots = [_Slot() for _ in range(self.size)]
        self._freed = threading.Condition()
        self._pid = os.getpid()
        self._unavailable_until = 0.0
        self._count_lock = threading.Lock()
        self.starts = 0
        self.calls = 0  # answered by a warm bridge (the cold fallback does not count)

    @tool_span("libreoffice")
    def convert(self, request, *, timeout=None, on_tick=None):
        """Send one conversion; retried once on a fresh bridge after a crash or hang.

        Raises BridgeUnavailable (caller falls back to a cold soffice) or
        ConversionFailed (code "timeout" or "office_crashed") when the retry broke too.
        """
        timeout = timeout or settings.OFFICE_BRIDGE_TIMEOUT_SECONDS
        slot = self._acquire(on_tick)
        try:
            for attempt in (1, 2):
                bridge = self._ensure(slot)
                try:
                    reply = bridge.call(request, timeout, on_tick)
                except BridgeBroken as exc:
                    slot.bridge = None
                    logger.warning("office bridge broke attempt=%s code=%s: %s", attempt, exc.code, exc)
                    if attempt == 2:
                        raise ConversionFailed(str(exc), code=exc.code) from None
                    continue
                except BaseException:
                    # Canceled, a worker time limit, anything: a reply may still be in
                    # flight, so this bridge can no longer pair requests with replies.
                    slot.bridge = None
                    bridge.kill()
                    raise
                with self._count_lock:
                    self.calls += 1
                if bridge.uses >= settings.OFFICE_BRIDGE_RESTART_AFTER:
                    logger.info("office bridge restarting after %s conversions", bridge.uses)
                    self._discard(slot)
                return reply
        finally:
            slot.lock.release()
            with self._freed:
                self._freed.notify()

    def _acquire(self, on_tick):
        """A free slot, a warm one first; waiting threads keep their job's lease alive."""
        if self._pid != os.getpid():
            # Forked after the parent started bridges: those are not ours to use.
            self._slots = [_Slot() for _ in range(self.size)]
            self._pid = os.getpid()
        while True:
            slots = sorted(self._slots, key=lambda s: s.bridge is None)
            for slot in slots:
                if slot.lock.acquire(blocking=False):
                    return slot
            with self._freed:
                self._freed.wait(TICK_SECONDS)
            if on_tick is not None:
                on_tick()

    def _ensure(self, slot):
        if slot.bridge is not None and slot.bridge.alive():
            return slot.bridge
        if slot.bridge is not None:
            self._discard(slot)
        if time.monotonic() < self._unavailable_until:
            raise BridgeUnavailable("the LibreOffice bridge failed to start recently")
        try:
            slot.bridge = BridgeProcess()
        except BridgeUnavailable as exc:
            logger.warning("office bridge unavailable, using a cold soffice for a minute: %s", exc)
            self._unavailable_until = time.monotonic() + 60
            raise
        with self._count_lock:
            self.starts += 1
        return slot.bridge

    @staticmethod
    def _discard(slot):
        bridge, slot.bridge = slot.bridge, None
        if bridge is not None:
            bridge.stop()

    def shutdown(self):
        """Stop every bridge (atexit, tests); waits for calls in flight."""
        for slot in self._slots:
            with slot.lock:
                if self._pid == os.getpid():
                    self._discard(slot)
                slot.bridge = None

    @property
    def bridge_pids(self):
        return [s.bridge.proc.pid for s in self._slots if s.bridge is not None and s.bridge.alive()]

    @property
    def bridge_pid(self):
        """The first slot's bridge (the only one with a pool of 1)."""
        bridge = self._slots[0].bridge
        return bridge.proc.pid if bridge is not None and bridge.alive() else None


_manager = None
_manager_lock = threading.Lock()


def manager():
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = OfficeManager()
            atexit.register(_manager.shutdown)
        return _manager

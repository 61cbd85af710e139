"""ffprobe started ahead of need: its start-up off the job's path.

Profiled on a 30 s 720p mp4 (bench/RESULTS.md, media): of the ~130 ms the
probe took in a job, ~80 ms is ffprobe resolving the symbols of the ~215
libraries Debian's ffmpeg links (perf: two thirds of it in ld.so's
do_lookup_x) and ~30 ms the sandbox (bubblewrap, the launcher); reading the
headers is the rest. So each worker process keeps a spare per recent source
format: ffprobe with that format's argv, started through the runner with the
cold probe's sandbox and limits, in a folder of its own, blocked at a gate
once its libraries are loaded. A job hard-links its source into the spare's
folder (the spare never sees the job's folder), opens the gate and reads the
answer as from a cold run. One file per spare: nothing survives from one
user's file to the next.

The gate is ffmpeg's report file: FFREPORT names a FIFO, which ffprobe opens
for writing first thing in main(), after the dynamic loader and before it
reads an option or its input; open() of a FIFO waits for a reader. At level
-8 (quiet) only the report's header, a few hundred bytes, goes into it.
"""

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

from django.conf import settings

from conversions.engine import runner, sandbox
from conversions.errors import Canceled

logger = logging.getLogger(__name__)

GATE = "gate"
GATE_ENV = {"FFREPORT": f"file={GATE}:level=-8"}
IDLE_SECONDS = 600  # a spare nobody used exits (the runner's timeout); the next job of its format starts another
STALE_SECONDS = IDLE_SECONDS - 30  # never hand out one about to be stopped


class Spare:
    """One ffprobe for one source format, started through the runner, waiting at its gate."""

    def __init__(self, root, argv):
        self.argv = list(argv)
        self.key = config_key(self.argv)
        self.dir = Path(tempfile.mkdtemp(prefix="ffprobe-", dir=root))
        os.mkfifo(self.dir / GATE, 0o600)
        self.born = time.monotonic()
        self.result = self.error = self.stop = None
        self.used = False
        self.done = threading.Event()
        self._gate = None
        self.thread = threading.Thread(target=self._run, name="ffprobe-spare", daemon=True)
        self.thread.start()

    def _run(self):
        timeout, memory_mb = settings.MEDIA_PROBE_TIMEOUT_SECONDS, settings.MEDIA_MEMORY_MB
        try:
            # The CPU allowance is the cold probe's (the runner's default, twice its timeout): waiting costs none.
            self.result = runner.run(
                self.argv, cwd=self.dir, timeout=IDLE_SECONDS + timeout, cpu_seconds=2 * timeout,
                memory_mb=memory_mb, env=GATE_ENV, check=False, tool="ffprobe", on_tick=self._tick,
            )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001  (handed to the job's thread, which re-raises)
            self.error = exc
        finally:
            self.done.set()

    def _tick(self):
        if self.stop is not None:
            raise self.stop

    def usable(self, argv):
        return not self.done.is_set() and self.key == config_key(argv) and time.monotonic() - self.born < STALE_SECONDS

    def run(self, ctx, source, name):
        """Probe `source` (linked in as `name`): the runner's result, or its error raised."""
        self.used = True
        _link(source, self.dir / name)
        self._gate = os.open(self.dir / GATE, os.O_RDONLY | os.O_NONBLOCK)
        timeout = ctx.remaining_seconds(settings.MEDIA_PROBE_TIMEOUT_SECONDS)
        deadline = time.monotonic() + timeout
        try:
            while not self.done.wait(runner.TICK_SECONDS):
                if time.monotonic() > deadline:
                    ctx.budget.check_time()  # the job's budget ran out: say so, as ctx.run does
                    raise runner.ToolTimeout(f"ffprobe did not finish within {timeout} seconds and was stopped.")
                ctx.tick()
        except BaseException as exc:
            self.kill(exc if isinstance(exc, Exception) else Canceled("job stopped"))
            raise
        if self.error is not None:
            raise self.error
        return self.result

    def kill(self, reason):
        self.stop = reason
        self.done.wait(5)

    def cleanup(self):
        if self._gate is not None:
            os.close(self._gate)
            self._gate = None
        shutil.rmtree(self.dir, ignore_errors=True)


def config_key(argv):
    # Layers compare by value: a spare started before the sandbox settings changed is not used after.
    return (tuple(argv), settings.MEDIA_PROBE_TIMEOUT_SECONDS, settings.MEDIA_MEMORY_MB, sandbox.current())


class Pool:
    """Up to MEDIA_PROBE_SPARES idle spares per worker process, one per source format, the least recent dropped."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spares = OrderedDict()  # format -> Spare
        self._exit_hook = False

    def take(self, fmt, argv):
        """The idle spare for `fmt`, or None (the caller probes cold)."""
        if settings.MEDIA_PROBE_SPARES <= 0:
            return None
        with self._lock:
            spare = self._spares.pop(fmt, None)
        if spare is not None and not spare.usable(argv):
            _discard(spare, "stale spare", wait=False)
            spare = None
        return spare

    def refill(self, fmt, argv):
        """Start the next spare for `fmt` (after a probe, so that it never competes with one)."""
        limit = settings.MEDIA_PROBE_SPARES
        dropped = []
        with self._lock:
            if limit <= 0 or fmt in self._spares:
                return
            if not self._exit_hook:
                atexit.register(self.close)
                self._exit_hook = True
            self._spares[fmt] = Spare(work_root(), argv)
            while len(self._spares) > limit:
                dropped.append(self._spares.popitem(last=False)[1])
        for spare in dropped:
            _discard(spare, "too many spares", wait=False)

    def spare(self, fmt):
        """The idle spare of a format, if any (tests)."""
        return self._spares.get(fmt)

    def close(self):
        with self._lock:
            spares, self._spares = list(self._spares.values()), OrderedDict()
        for spare in spares:
            _discard(spare, "worker stopping")


def _discard(spare, why, wait=True):
    """Stop a spare; `wait=False` on a job's path: the runner's next tick (<= 0.25 s) kills it meanwhile."""
    spare.stop = Canceled(why)
    if wait:
        spare.done.wait(5)
    spare.cleanup()


def _link(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)  # another filesystem: a copy


def work_root():
    root = Path(settings.WORK_DIR) / "ffprobe"
    root.mkdir(parents=True, exist_ok=True)
    return root


pool = Pool()

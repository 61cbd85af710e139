"""Run a decoder of untrusted bytes in a sandboxed child, never in the worker.

Pillow, libvips, pikepdf and friends parse whatever a user uploads; a bug in
one of them (think CVE-2023-4863) would otherwise be code execution in the
worker, and an out-of-memory would kill it with every job it holds. Every
call here runs in `decoder_child.py`, started through the runner, so the
child gets the runner's sandbox (rlimits, no network, its private folder,
whatever layers the runner adds) plus the decoder budget: DECODER_MEMORY_MB
of address space and DECODER_TIMEOUT_SECONDS. A crash fails the job with
`decoder_crashed`; the worker carries on.

Starting Python and importing libvips costs ~0.17 s, a sixth of a 12 MP
JPEG -> WebP. So one spare child per worker process is started ahead of
need: it imports its libraries, then waits on a FIFO in its own folder for
exactly one request, runs it and exits (no state survives from one user's
file to the next). The job's input is hard-linked into the spare's folder
and the output moved back, so the child never sees the job's folder, nor the
job's folder the child's temporary files.
"""

import atexit
import errno
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings

from conversions.engine import runner, sandbox
from conversions.errors import Canceled, ConversionFailed

logger = logging.getLogger(__name__)

# What the child imports, and nothing else of the application, is visible in its sandbox
# (a read-only copy made once per process): a task that imports another module of ours adds it here.
CHILD_FILES = (
    "conversions/__init__.py",
    "conversions/decoder_child.py",
    "conversions/decode_errors.py",
    "conversions/engine/__init__.py",
    "conversions/engine/zipcheck.py",
    "filters/__init__.py",
    "filters/image_pixels.py",
    "media/__init__.py",
    "media/images/__init__.py",
    "media/images/caps.py",
    "media/images/kinds.py",
    "media/imaging.py",
    "media/imaging_more.py",
    "media/vips.py",
)
USER_ERROR = 3
IDLE_SECONDS = 600  # a spare nobody used exits (the next job starts a fresh one)
READY_POLL_SECONDS = 0.002


def child_env():
    # glibc gives each thread its own 64 MB malloc arena: under an address-space
    # limit, libvips' thread pool would spend the budget on empty arenas.
    env = {"MALLOC_ARENA_MAX": "2"}
    marker = getattr(settings, "DECODER_TEST_CRASH_MARKER", "")
    if marker:
        env["DECODER_TEST_CRASH"] = marker
    return env


# Which tasks a spare child loads the libraries of before it waits. A zip check
# (every office document) needs no image library: a child that imported pyvips,
# Pillow and pillow-heif for it spent ~150 ms of CPU per document.
KINDS = {"zip": ("zip.check",), "image": ("image.convert", "image.more", "image.filter")}


def kind_of(task):
    return next(kind for kind, tasks in KINDS.items() if task in tasks)


class Spare:
    """One decoder child, started through the runner, waiting for its one request."""

    def __init__(self, root, kind="image"):
        self.kind = kind
        self.dir = Path(tempfile.mkdtemp(prefix="decoder-", dir=root))
        self.fifo = self.dir / "request"
        os.mkfifo(self.fifo, 0o600)
        self.key = config_key()
        self.result = None
        self.error = None
        self.stop = None  # an exception the runner's tick raises to kill the child
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="decoder-spare", daemon=True)
        self.thread.start()

    def _run(self):
        memory_mb, timeout, env = self.key[0], self.key[1], dict(self.key[2])
        view = sandbox.code_view(CHILD_FILES)
        child = view / "conversions" / "decoder_child.py"
        argv = [sys.executable, "-I", str(child), "--wait", self.fifo.name, str(IDLE_SECONDS), *KINDS[self.kind]]
        try:
            self.result = runner.run(
                argv, cwd=self.dir, timeout=IDLE_SECONDS + timeout, memory_mb=memory_mb,
                cpu_seconds=2 * timeout, env=env, check=False, tool="decoder", on_tick=self._tick,
                read_only=(view,),
            )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001  (handed to the job's thread, which re-raises)
            self.error = exc
        finally:
            self.done.set()

    def _tick(self):
        if self.stop is not None:
            raise self.stop

    def send(self, request):
        """Hand the request over once the child listens; False when it died first."""
        data = (json.dumps(request) + "\n").encode()
        while not self.done.is_set():
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet (still importing)
                    raise
                time.sleep(READY_POLL_SECONDS)
                continue
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return True
        return False

    def kill(self, reason):
        self.stop = reason
        self.done.wait(5)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def config_key():
    env = tuple(sorted(child_env().items()))
    return (settings.DECODER_MEMORY_MB, settings.DECODER_TIMEOUT_SECONDS, env)


class Pool:
    """At most one idle spare per kind and worker process; a busy moment starts more on demand."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spares = {}
        self._exit_hook = False

    def take(self, kind="image"):
        with self._lock:
            if not self._exit_hook:
                # atexit runs last-registered first: after the code view's own cleanup is registered
                # (its first use), so the spares are stopped before their code disappears under them.
                sandbox.code_view(CHILD_FILES)
                atexit.register(self.close)
                self._exit_hook = True
            spare = self._spares.pop(kind, None)
            if spare is None or spare.done.is_set() or spare.key != config_key():
                if spare is not None:
                    spare.kill(Canceled("stale spare"))
                    spare.cleanup()
                spare = Spare(work_root(), kind)
            if settings.DECODER_WARM_SPARE:
                self._spares[kind] = Spare(work_root(), kind)
        return spare

    def spare(self, kind="image"):
        """The idle spare of a kind, if any (tests)."""
        return self._spares.get(kind)

    def close(self):
        with self._lock:
            spares, self._spares = list(self._spares.values()), {}
        for spare in spares:
            spare.kill(Canceled("worker stopping"))
            spare.cleanup()


def work_root():
    root = Path(settings.WORK_DIR) / "decoders"
    root.mkdir(parents=True, exist_ok=True)
    return root


pool = Pool()


def run_decoder(ctx, task, request, *, tool, inputs=(), outputs=()):
    """Run `task` in a decoder child; return its JSON result or raise ConversionFailed.

    `inputs` are files the child reads and `outputs` files it writes (paths in
    the job's folder); the request names them by their base names.
    """
    spare = pool.take(kind_of(task))
    try:
        for path in inputs:
            _link(Path(path), spare.dir / Path(path).name)
        result = _exchange(ctx, spare, {"task": task, **request}, tool)
        for path in outputs:
            produced = spare.dir / Path(path).name
            if produced.exists():
                os.replace(produced, path)
        return result
    finally:
        spare.cleanup()


def _exchange(ctx, spare, request, tool):
    """`ctx` None: a check outside a conversion's context (no lease to renew, no job budget)."""
    budget = settings.DECODER_TIMEOUT_SECONDS
    if ctx is not None:
        budget = ctx.remaining_seconds(budget)
    try:
        if not spare.send(request):
            spare.done.wait()
        deadline = time.monotonic() + budget
        while not spare.done.wait(runner.TICK_SECONDS):
            if time.monotonic() > deadline:
                raise runner.ToolTimeout(f"The {tool} did not finish within {budget:g} seconds and was stopped.")
            if ctx is not None:
                ctx.tick()
    except BaseException as exc:
        spare.kill(exc if isinstance(exc, Exception) else Canceled("job stopped"))
        raise
    if spare.error is not None:
        raise spare.error
    result = spare.result
    return interpret(result.returncode, result.stdout, result.stderr, tool)


def _link(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)  # another filesystem: a copy


def interpret(returncode, stdout, stderr, tool):
    if returncode in (0, USER_ERROR):
        try:
            payload = json.loads(stdout or "{}")
        except ValueError:
            payload = None
        if returncode == 0 and isinstance(payload, dict):
            return payload
        if isinstance(payload, dict) and payload.get("code"):
            raise ConversionFailed(payload["message"], code=payload["code"])
    logger.warning("decoder child failed tool=%s rc=%s stderr=%s", tool, returncode, (stderr or "")[-2000:])
    raise ConversionFailed(crash_message(returncode, tool), code=crash_code(returncode))


def crash_code(returncode):
    if returncode == -signal.SIGXCPU:
        return "decode_time_exceeded"
    if returncode == -signal.SIGKILL:
        return "decode_memory_exceeded"
    return "decoder_crashed"


def crash_message(returncode, tool):
    if returncode == -signal.SIGXCPU:
        return f"The {tool} used up its CPU time allowance; the file may be too large or malformed."
    if returncode == -signal.SIGKILL:
        return f"The {tool} was stopped, most likely out of memory; the file may be too large or malformed."
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"The {tool} crashed ({name}) on this file; it may be damaged or hostile. Nothing else was affected."
    return f"The {tool} failed on this file (exit code {returncode}); it may be damaged."

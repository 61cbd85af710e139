"""Run a decoder of untrusted bytes in a sandboxed child, never in the worker.

Pillow, libvips, pikepdf and friends parse whatever a user uploads; a bug in
one of them (think CVE-2023-4863) would otherwise be code execution in the
worker, and an out-of-memory would kill it with every job it holds. Each call
here starts `decoder_child.py` through the runner, so the child gets the
runner's sandbox (memory and CPU rlimits, a wall-clock timeout, no network,
the job's private folder) and its budget: DECODER_MEMORY_MB of address space
and DECODER_TIMEOUT_SECONDS. A crash fails the job with `decoder_crashed`;
the worker carries on.
"""

import json
import logging
import signal
import sys
from pathlib import Path

from django.conf import settings

from .errors import ConversionFailed

logger = logging.getLogger(__name__)

CHILD = Path(__file__).resolve().parent / "decoder_child.py"
USER_ERROR = 3


def child_env():
    # glibc gives each thread its own 64 MB malloc arena: under an address-space
    # limit, libvips' thread pool would spend the budget on empty arenas.
    env = {"MALLOC_ARENA_MAX": "2"}
    marker = getattr(settings, "DECODER_TEST_CRASH_MARKER", "")
    if marker:
        env["DECODER_TEST_CRASH"] = marker
    return env


def relative(path, workdir):
    """Paths inside the job's folder as the child sees them (its cwd is that folder)."""
    path, workdir = Path(path), Path(workdir)
    try:
        return str(path.relative_to(workdir))
    except ValueError:
        return str(path)


def run_decoder(ctx, task, request, *, tool, timeout=None, memory_mb=None):
    """Run `task` on `request` in a child; return its JSON result or raise ConversionFailed."""
    argv = [sys.executable, "-I", str(CHILD), task, json.dumps(request)]
    result = ctx.run(
        argv,
        timeout=timeout or settings.DECODER_TIMEOUT_SECONDS,
        memory_mb=memory_mb or settings.DECODER_MEMORY_MB,
        env=child_env(),
        check=False,
        tool=tool,
    )
    return interpret(result.returncode, result.stdout, result.stderr, tool)


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

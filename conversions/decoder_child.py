"""The decoder child: untrusted pixels and zips are parsed here, never in the worker.

Usage: python -I decoder_child.py --wait FIFO IDLE_SECONDS [TASK ...]

`conversions.decoders` starts it through the runner (memory, CPU and time
limits, no network, a private folder), so a decoder that crashes, is
exploited or exhausts its memory takes down this process only, and the job
fails with a clear error. It imports no Django. It loads its libraries
first, then waits on FIFO for one JSON request {"task": ..., ...}, runs it
and exits. Exit 0: stdout holds the task's JSON result; exit 3: stdout holds
{"code", "message"} for the user; anything else is a crash.
"""

import importlib
import json
import os
import select
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# One fixed table: a request names a task, never a module to import.
TASKS = {
    "image.convert": ("media.imaging", "convert"),
    "image.more": ("media.imaging_more", "convert"),
    "image.filter": ("filters.image_pixels", "run"),
    "zip.check": ("conversions.engine.zipcheck", "run"),
}
USER_ERROR = 3
IDLE = 4  # no request came: a quiet exit, the pool starts another spare when needed


def _test_crash_hook(request):
    """Tests only (the worker passes DECODER_TEST_CRASH only under settings_test):
    a source holding the marker in its first 4 KB (a PNG text chunk, say) makes
    this child die the way a decoder bug would, by a segfault."""
    marker = os.environ.get("DECODER_TEST_CRASH", "").encode()
    source = request.get("source")
    if marker and source and Path(source).is_file():
        with open(source, "rb") as f:
            if marker in f.read(4096):
                import ctypes

                ctypes.string_at(0)


def run(request):
    from conversions.decode_errors import DecodeFailed

    module, name = TASKS[request["task"]]
    _test_crash_hook(request)
    try:
        result = getattr(importlib.import_module(module), name)(request)
    except DecodeFailed as exc:
        return USER_ERROR, {"code": exc.code, "message": exc.message}
    except MemoryError:
        return USER_ERROR, {
            "code": "decode_memory_exceeded",
            "message": "The file needs more memory to decode than is allowed; it may be too large or malformed.",
        }
    return 0, result or {}


def wait_for_request(fifo, idle_seconds):
    """One request line from the FIFO, or None after idle_seconds or when the worker is gone."""
    parent = os.getppid()
    # Opened read-write, so opening never blocks and no writer closing it reads as end-of-file.
    fd = os.open(fifo, os.O_RDWR)
    deadline = time.monotonic() + idle_seconds
    data = b""
    while time.monotonic() < deadline and os.getppid() == parent:
        if select.select([fd], [], [], 1.0)[0]:
            data += os.read(fd, 65536)
            if data.endswith(b"\n"):
                return json.loads(data)
    return None


def main(argv):
    sys.path.insert(0, str(ROOT))
    preload = argv[4:] or list(TASKS)
    for task in preload:
        importlib.import_module(TASKS[task][0])  # before waiting: a request finds its libraries loaded
    request = wait_for_request(argv[2], float(argv[3]))
    if request is None:
        return IDLE
    code, payload = run(request)
    sys.stdout.write(json.dumps(payload))
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The decoder child: untrusted pixels, PDFs and zips are parsed here, never in the worker.

Usage: python -I decoder_child.py TASK REQUEST_JSON

`conversions.decoders` starts it through the runner (memory, CPU and time
limits, no network), so a decoder that crashes, is exploited or exhausts its
memory takes down this process only and the job fails with a clear error.
It imports no Django. Exit 0: stdout holds the task's JSON result; exit 3:
stdout holds {"code", "message"} for the user; anything else is a crash.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# One fixed table: argv names a task, never a module to import.
TASKS = {
    "image.convert": ("media.imaging", "convert"),
}
USER_ERROR = 3


def _test_crash_hook(request):
    """Tests only (the worker passes DECODER_TEST_CRASH only under settings_test):
    a source starting with the marker makes this child die the way a decoder
    bug would, by a segfault."""
    marker = os.environ.get("DECODER_TEST_CRASH", "").encode()
    source = request.get("source")
    if marker and source and Path(source).is_file():
        with open(source, "rb") as f:
            if f.read(len(marker)) == marker:
                import ctypes

                ctypes.string_at(0)


def run(task, request):
    import importlib

    from conversions.decode_errors import DecodeFailed

    module, name = TASKS[task]
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


def main(argv):
    sys.path.insert(0, str(ROOT))
    code, payload = run(argv[1], json.loads(argv[2]))
    sys.stdout.write(json.dumps(payload))
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))

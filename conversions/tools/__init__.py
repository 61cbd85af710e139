"""Python libraries that parse untrusted files, run as sandboxed children.

fontTools, pysubs2, openpyxl, odfpy, PyYAML, Pillow's rarer decoders and
libvips never parse an upload inside the worker: each script in this folder
is run by the runner (`ctx.run`) as `python -I <script> ...`, with the
runner's limits, no network and the job's folder as its whole world. The
scripts import only the standard library, their one library and their
neighbours here (`common.py`, `data_*.py`; `-I` keeps the project off
sys.path), so a decoder crash or a runaway allocation ends the child, never
the worker.

A script that refuses its input prints `CONVERTALL-ERROR <code> <message>` as
its last stderr line and exits 3; that becomes the job's error as written.
"""

import signal
import sys
from pathlib import Path

from conversions.errors import ConversionFailed
from conversions.engine import sandbox
from conversions.engine.runner import tail
from conversions.tools.common import ERROR

ERROR_MARK = ERROR + " "
# The scripts and what they import beside them (common.py, data_*.py): the child's whole view of our code.
SCRIPTS = tuple(sorted(f"conversions/tools/{p.name}" for p in Path(__file__).parent.glob("*.py") if p.name != "__init__.py"))


def run_tool(ctx, name, *args, timeout=120, memory_mb=1024, **kwargs):
    """Run conversions/tools/<name>.py in the sandbox; raise ConversionFailed with its own words."""
    # The sandbox hides the application: the child sees a read-only copy of this folder's scripts.
    rel = f"conversions/tools/{name}.py"
    view = sandbox.code_view(SCRIPTS)
    argv = [sys.executable, "-I", str(view / rel), *map(str, args)]
    result = ctx.run(argv, timeout=timeout, memory_mb=memory_mb, tool=name, check=False,
                     read_only=(view,), env={"MALLOC_ARENA_MAX": "2"}, **kwargs)
    if result.returncode == 0:
        return result
    raise failure(name, result.returncode, result.stderr)


def failure(name, returncode, stderr):
    for line in reversed((stderr or "").strip().splitlines()):
        if line.startswith(ERROR_MARK):
            code, _, message = line[len(ERROR_MARK):].partition(" ")
            return ConversionFailed(message.strip(), code=code)
    if "MemoryError" in (stderr or "") or returncode == -signal.SIGKILL:
        return ConversionFailed(
            f"{name} ran out of memory; the file may be too large or malformed.", code="tool_failed"
        )
    if returncode < 0:
        sig = signal.Signals(-returncode).name
        return ConversionFailed(f"{name} crashed ({sig}); the file may be damaged.", code="tool_failed")
    return ConversionFailed(f"{name} could not convert the file: {tail(stderr, 300)}", code="tool_failed")

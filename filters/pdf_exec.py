"""Run a PDF operation chain: pikepdf batches in a sandboxed subprocess, Ghostscript runs.

Ghostscript always gets -dSAFER and the runner's private TMPDIR (the job's
work dir); pdftool.py imports no Django and runs under the same limits.
"""

import json
import logging
import sys
from pathlib import Path

from conversions.errors import ConversionFailed

logger = logging.getLogger(__name__)

PDFTOOL = Path(__file__).resolve().parent / "pdftool.py"


def run_pdf_chain(ctx, sources, ops, step):
    """`sources`: local PDF paths in order (several for merge). Returns (path, fmt)."""
    from filters.vocabulary import operations

    current = list(sources)
    batch = []
    counter = iter(range(1, 1000))

    def flush():
        nonlocal current, batch
        if not batch:
            return
        fmt = "zip" if batch[-1]["op"] == "split" else "pdf"
        out = ctx.workdir / f"pdf-step-{next(counter)}.{fmt}"
        _run_pdftool(ctx, batch, current, out)
        current, batch = [out], []

    for index, params in enumerate(ops):
        op = operations.get("pdf", params["op"])
        if op.engine == "gs":
            flush()
            out = ctx.workdir / f"pdf-step-{next(counter)}.pdf"
            _run_gs(ctx, op.gs_args(params), current[0], out)
            current = [out]
        else:
            batch.append(op.tool_params(params, where=f"operation {index + 1} ({op.name})"))
        step(index, len(ops))
    flush()
    result = current[0]
    return result, "zip" if result.suffix == ".zip" else "pdf"


def _run_pdftool(ctx, batch, inputs, out):
    argv = [sys.executable, "-I", str(PDFTOOL), json.dumps(batch), out.name, *(p.name for p in inputs)]
    # The script is ours but lives with the application, which the sandbox hides: expose it alone.
    result = ctx.run(argv, timeout=300, memory_mb=2048, check=False, tool="pikepdf", read_only=(PDFTOOL,))
    if result.returncode in (2, 3):
        code = "invalid_operation" if result.returncode == 2 else "invalid_pdf"
        raise ConversionFailed(result.stderr.strip()[-500:], code=code)
    if result.returncode != 0 or not out.exists():
        logger.warning("pdftool failed rc=%s stderr=%s", result.returncode, result.stderr[-2000:])
        raise ConversionFailed("The PDF could not be processed; it may be damaged.", code="invalid_pdf")


def _run_gs(ctx, extra, src, out):
    argv = [
        "gs", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dQUIET", "-sDEVICE=pdfwrite", "-dCompatibilityLevel=1.5",
        # Without AutoRotatePages=/None, pdfwrite turns pages to follow their text (a diagonal watermark!).
        "-dDetectDuplicateImages=true", "-dAutoRotatePages=/None", *extra, f"-sOutputFile={out.name}", src.name,
    ]
    ctx.run(argv, timeout=300, memory_mb=2048, tool="gs")
    if not out.exists() or out.stat().st_size == 0:
        raise ConversionFailed("Ghostscript produced no PDF; the file may be damaged.", code="invalid_pdf")

"""Which targets a filter job may ask for, and running a chain in a job.

A filter job keeps its family (image, audio, video, pdf); the target format
defaults to the source format and may be any format that family's executor
writes (a video may also become audio, a thumbnail makes an image, a PDF
split makes a zip).
"""

import logging
import time

from conversions.engine import formats
from conversions.errors import BadRequest
from filters import av_exec, image_exec, pdf_exec
from filters.vocabulary import family_of

logger = logging.getLogger(__name__)

SOURCES = {
    "image": image_exec.SOURCES,
    "audio": tuple(f for f in av_exec.DEMUXERS if formats.FORMATS[f].category == "audio"),
    "video": tuple(f for f in av_exec.DEMUXERS if formats.FORMATS[f].category == "video"),
    "pdf": ("pdf",),
}
TARGETS = {
    "image": image_exec.TARGETS,
    "audio": av_exec.AUDIO_TARGETS,
    "video": av_exec.VIDEO_TARGETS + av_exec.AUDIO_TARGETS,
    "pdf": ("pdf",),
}


def filter_sources():
    return {f for group in SOURCES.values() for f in group}


def output_format(family, source_fmt, target, ops):
    """The format a chain produces, or a 400 when the family cannot write `target`."""
    names = [o["op"] for o in ops]
    if family == "pdf" and names and names[-1] == "split":
        if target not in (None, "pdf", "zip"):
            raise BadRequest("'split' returns a zip of PDFs; leave targetFormat empty.", code="unsupported_conversion")
        return "zip"
    if family == "video" and names and names[-1] == "thumbnail":
        return target if target in av_exec.FRAME_TARGETS else "jpg"
    target = target or source_fmt
    if target not in TARGETS[family]:
        valid = ", ".join(TARGETS[family])
        raise BadRequest(
            f"A {family} filter cannot write {target}. Valid targetFormat values: {valid} "
            f"(or use /api/v1/convert with 'operations').",
            code="unsupported_conversion",
        )
    return target


def run_chain(ctx, sources, src_fmt, target, ops, *, span=(0, 100)):
    """Apply `ops` to local files `sources` (several only for merge); return (path, fmt).

    `span` is this chain's share of the job's progress bar (a convert job
    with operations gives the conversion the first part).
    """
    family = family_of(src_fmt)
    lo, hi = span
    ctx.progress_span = (lo, hi)
    ctx.set_progress(0)

    def step(index, total):
        # Building the chain is quick; the tools' own progress fills the rest of the span.
        ctx.set_progress(10 * (index + 1) / max(total, 1))

    started = time.monotonic()
    if family == "image":
        out = image_exec.run_image_chain(ctx, sources[0], src_fmt, target, ops, step)
    elif family in ("audio", "video"):
        out = av_exec.run_av_chain(ctx, sources[0], src_fmt, target, ops, family, step)
    elif family == "pdf":
        out = pdf_exec.run_pdf_chain(ctx, sources, ops, step)
    else:
        raise BadRequest(f"{src_fmt} files have no filters.", code="unsupported_conversion")
    ctx.set_progress(100)
    ctx.progress_span = (0, 100)
    logger.info(
        "filters ran job=%s family=%s ops=%s seconds=%.3f",
        ctx.job_id, family, ",".join(o["op"] for o in ops), time.monotonic() - started,
    )
    return out


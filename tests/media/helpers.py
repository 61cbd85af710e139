"""Run a converter on a file the way a worker does, without the database."""

import shutil
from pathlib import Path

from conversions.engine.context import ConversionContext
from conversions.engine.registry import registry


def convert(source, target, workdir, options=None, *, job_id=None):
    """Copy `source` into a fresh work dir, validate options, convert; return (output path, ctx)."""
    source = Path(source)
    fmt = source.suffix.lstrip(".")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / f"source.{fmt}"
    shutil.copyfile(source, local)
    converter = registry.find(fmt, target)
    assert converter is not None, f"no converter for {fmt} -> {target}"
    cleaned = converter.clean_options(fmt, target, options or {})
    ctx = ConversionContext(
        workdir=workdir, source_path=local, source_format=fmt, target_format=target, options=cleaned, job_id=job_id
    )
    out = converter.convert(ctx)
    return Path(out or ctx.output_path), ctx


def duration(info):
    return float(info["format"]["duration"])


def kinds(info):
    return [s["codec_type"] for s in info["streams"]]


def codec(info, kind):
    return next((s["codec_name"] for s in info["streams"] if s["codec_type"] == kind), None)

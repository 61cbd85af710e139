"""Convert a local file with the same sniffing, registry and runner as a job.

For operators and scripts (`manage.py convert`): no web server, no queue,
no database row. The file is copied into a private temporary folder, the
converter runs there exactly as in a worker, and the result is copied out.
"""

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from conversions.engine import formats
from conversions.engine import sniff
from conversions.engine.context import ConversionContext
from conversions.errors import BadRequest, ConversionFailed
from conversions.engine.registry import registry

logger = logging.getLogger(__name__)


@dataclass
class LocalResult:
    source_format: str
    output_format: str
    output_path: Path
    size: int
    converter: str
    seconds: float


def resolve(input_path, target_format, options=None):
    """(source format, target, converter, cleaned options) or a domain error."""
    fmt, _mime = sniff.identify(input_path, input_path.name, accepted=set(registry.sources()))
    target = formats.normalize(target_format)
    converter = registry.find(fmt, target) if target else None
    if converter is None:
        valid = ", ".join(registry.targets(fmt)) or "none"
        raise BadRequest(
            f"Cannot convert {fmt} to {target_format}. Valid targets for {fmt}: {valid}.", code="unsupported_conversion"
        )
    return fmt, target, converter, converter.clean_options(fmt, target, options or {})


def default_output(input_path, output_format, output=None):
    """Where the result goes: OUTPUT as given, inside OUTPUT if it is a folder, else beside the input."""
    name = f"{input_path.stem}.{output_format}"
    if output is None:
        return input_path.with_name(name)
    output = Path(output)
    return output / name if output.is_dir() else output


def convert_file(input_path, target_format, *, output=None, options=None):
    """Convert one file; return a LocalResult or raise ConvertAllError."""
    input_path = Path(input_path)
    if not input_path.is_file():
        raise BadRequest(f"{input_path}: no such file.", code="missing_file")
    if input_path.stat().st_size == 0:
        raise BadRequest(f"{input_path}: the file is empty.", code="empty_file")
    fmt, target, converter, cleaned = resolve(input_path, target_format, options)
    work_root = Path(settings.WORK_DIR)
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="local-", dir=work_root) as workdir:
        workdir = Path(workdir)
        source = workdir / f"source.{fmt}"
        shutil.copyfile(input_path, source)
        ctx = ConversionContext(
            workdir=workdir,
            source_path=source,
            source_format=fmt,
            target_format=target,
            options=cleaned,
            display_name=input_path.stem,
        )
        t0 = time.monotonic()
        produced = Path(converter.convert(ctx) or ctx.output_path)
        seconds = time.monotonic() - t0
        if not produced.is_file() or produced.stat().st_size == 0:
            raise ConversionFailed(f"{converter.name} produced no output for this file.", code="empty_output")
        dest = default_output(input_path, ctx.output_format, output)
        if dest.resolve() == input_path.resolve():
            raise BadRequest(f"{dest}: refusing to overwrite the input file; pass -o.", code="output_is_input")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, dest)
    logger.info("local convert family=%s tool=%s seconds=%.3f", converter.family, converter.tool or converter.name, seconds)
    return LocalResult(fmt, ctx.output_format, dest, dest.stat().st_size, converter.tool or converter.name, seconds)

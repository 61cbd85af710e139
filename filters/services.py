"""Filter jobs: create (validate every operation first), run, and wait for them.

A filter job (kind `filter`) goes to the `filters` queue; its uploads are
stored as `uploads/<job>/source-<n>.<ext>` (several only for merge). A
convert job may carry operations too: they run on the converted file in the
same job (`apply_after_convert`), the conversion taking the first half of
the progress bar. Jobs are created, run and ended by the one lifecycle in
conversions/jobs/; this module validates filter jobs and registers how
operations run (FilterOperations).
"""

import logging
import time

from conversions.engine import formats, sniff
from conversions.engine.context import ConversionContext
from conversions.errors import BadRequest, ConversionFailed, UnsupportedType
from conversions.files import storage
from conversions.jobs import direct, result_cache
from conversions.jobs.operations import Operations
from conversions.jobs.quotas import enforce
from conversions.jobs.create import direct_submit, job_submit
from conversions.jobs.services import fetch_sources
from conversions.models import Job
from filters.pipeline import SOURCES, filter_sources, output_format, run_chain
from filters.vocabulary import OperationError, clean_operations, family_of, parse_operations
from filters.vocabulary import operations as vocabulary_registry

logger = logging.getLogger(__name__)

MAX_FILES = 20


def _identify(uploads):
    """Sniff every upload; they must all be the same format family."""
    found = []
    for n, upload in enumerate(uploads, start=1):
        if upload.size == 0:
            raise UnsupportedType(f"Uploaded file {n} is empty.", code="empty_file")
        fmt, mime = sniff.identify(upload.temporary_file_path(), upload.name, accepted=filter_sources())
        found.append((fmt, mime))
    families = {family_of(fmt) for fmt, _ in found}
    if len(families) > 1:
        raise BadRequest("All files of one filter job must be of the same kind (e.g. all PDF).", code="mixed_files")
    if len({fmt for fmt, _ in found}) > 1 and families != {"pdf"}:
        raise BadRequest("All files of one filter job must have the same format.", code="mixed_files")
    return found


def filter_job_create(*, uploads, operations, target_format="", owner=None, session_key="", client_ip=None,
                      use_cache=True, upload_id=None):
    """A filter job: validate every upload and operation, then submit it through the one lifecycle."""
    uploads = [u for u in uploads if u is not None]
    if upload_id:
        with direct_submit():
            enforce(user=owner, client_ip=client_ip, session_key=session_key)  # early 429
            return _filter_stored(upload_id, uploads, operations, target_format, owner, session_key, client_ip)
    if not uploads:
        raise BadRequest(
            "Attach the file to filter as the multipart field 'file' (or name a direct upload by 'uploadId').",
            code="missing_file",
        )
    if len(uploads) > MAX_FILES:
        raise BadRequest(f"At most {MAX_FILES} files per job.", code="too_many_files")
    raw_ops = _required_operations(operations)
    found = _identify(uploads)
    fmt, mime = found[0]
    family = family_of(fmt)
    ops = clean_operations(raw_ops, family, files=len(uploads))
    out_fmt = output_format(family, fmt, _target(target_format), ops)
    first = uploads[0]
    job = Job(
        kind=Job.Kind.FILTER, family="filters", converter="filters", source_format=fmt, target_format=out_fmt,
        operations=ops, original_filename=storage.safe_filename(first.name, default=f"file.{fmt}"),
        source_size=sum(u.size for u in uploads), source_sha256=getattr(first, "sha256", ""), detected_type=mime,
        owner=owner if owner is not None and owner.is_authenticated else None, session_key=session_key or "",
        client_ip=client_ip,
    )
    job.source_keys = [f"uploads/{job.id}/source-{n}.{fmt_}" for n, (fmt_, _) in enumerate(found, start=1)]
    job.source_key = job.source_keys[0]
    job.cache_key = result_cache.cache_key(
        hashes=[getattr(u, "sha256", "") for u in uploads], kind=job.kind, source_format=fmt,
        target_format=out_fmt, operations=ops,
    )
    names = ",".join(o["op"] for o in ops)
    message = f"{fmt} -> {out_fmt}: {names} ({job.source_size} bytes)"
    return job_submit(job, uploads, use_cache=use_cache, message=message, operations=names)


def _filter_stored(upload_id, uploads, operations, target_format, owner, session_key, client_ip):
    """A filter job on one direct upload: described from its name; the worker sniffs it (direct.check_stored)."""
    if uploads:
        raise BadRequest("Send either the multipart field 'file' or 'uploadId', not both.", code="file_and_upload")
    raw_ops = _required_operations(operations)
    source = direct.stored_source(
        upload_id, owner=owner, session_key=session_key, client_ip=client_ip, accepted=filter_sources()
    )
    family = family_of(source.fmt)
    ops = clean_operations(raw_ops, family, files=1)
    out_fmt = output_format(family, source.fmt, _target(target_format), ops)
    job = Job(
        kind=Job.Kind.FILTER, family="filters", converter="filters", source_format=source.fmt, target_format=out_fmt,
        operations=ops, original_filename=source.upload.filename,
        owner=owner if owner is not None and owner.is_authenticated else None, session_key=session_key or "",
        client_ip=client_ip, source_key=source.upload.key, source_keys=[source.upload.key],
    )
    names = ",".join(o["op"] for o in ops)
    message = f"{source.fmt} -> {out_fmt}: {names} (direct upload)"
    return job_submit(job, [], use_cache=False, message=message, direct_upload=source, operations=names)


def _required_operations(operations):
    raw_ops = parse_operations(operations)
    if not raw_ops:
        raise OperationError("'operations' is required: a JSON list such as [{\"op\": \"grayscale\"}].",
                             code="missing_operations")
    return raw_ops


def _target(target_format):
    if not target_format:
        return None
    target = formats.normalize(target_format)
    if target is None:
        raise BadRequest(f"Unknown targetFormat {target_format!r}.", code="unsupported_conversion")
    return target


# --- Running: registered with the job lifecycle (filters/apps.py) ----------------------------


class FilterOperations(Operations):
    """How the job lifecycle plans and runs operations; conversions/ never imports filters/."""

    vocabulary = vocabulary_registry

    def family_of(self, fmt):
        return family_of(fmt)

    def create_job(self, **kwargs):
        return filter_job_create(**kwargs)

    def sources(self, family):
        return tuple(sorted(SOURCES.get(family, ())))

    def plan_for_convert(self, target, operations):
        """Validate operations to run after a conversion to `target`; the cleaned list."""
        raw_ops = parse_operations(operations)
        if not raw_ops:
            return []
        family = family_of(target)
        if family is None:
            raise OperationError(
                f"operations cannot be applied to {target} results (they apply to images, audio, video and PDF).",
                code="invalid_operations",
            )
        ops = clean_operations(raw_ops, family, files=1)
        output_format(family, target, target, ops)
        return ops

    def run_job(self, job, workdir, budget):
        """The filter counterpart of a conversion: (seconds, output path, output format)."""
        sources = fetch_sources(job, workdir)
        ctx = ConversionContext(
            workdir=workdir, source_path=sources[0], source_format=job.source_format,
            target_format=job.target_format, options=job.options, job_id=job.id, budget=budget,
        )
        started = time.monotonic()
        out, out_fmt = run_chain(ctx, sources, job.source_format, job.target_format, job.operations)
        return time.monotonic() - started, out, out_fmt

    def apply_after_convert(self, ctx, job, out_path, out_fmt):
        """Run a convert job's operations on its converted file; (path, format)."""
        if family_of(out_fmt) is None:
            raise ConversionFailed(
                f"The conversion produced a {out_fmt} file; operations cannot be applied to it.",
                code="invalid_operation",
            )
        return run_chain(ctx, [out_path], out_fmt, out_fmt, job.operations, span=(50, 100))

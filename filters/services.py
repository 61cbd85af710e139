"""Filter jobs: create (validate every operation first), run, and wait for them.

A filter job (kind `filter`) goes to the `filters` queue; its uploads are
stored as `uploads/<job>/source-<n>.<ext>` (several only for merge). A
convert job may carry operations too: they run on the converted file in the
same job (`apply_after_convert`), the conversion taking the first half of
the progress bar.
"""

import logging
import os
import time

from django.db import transaction

from conversions.jobs import admission
from conversions.engine import formats
from conversions.ops import metrics
from conversions.engine import sniff
from conversions.files import storage
from conversions.engine.context import ConversionContext
from conversions.errors import BadRequest, ConversionFailed, TransientError, UnsupportedType
from conversions.models import ACTIVE_STATUSES, Job
from conversions.jobs import result_cache as cache
from filters.pipeline import filter_sources, output_format, run_chain
from filters.vocabulary import OperationError, clean_operations, family_of, parse_operations

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60
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
                      use_cache=True):
    """Validate uploads and operations, then store and enqueue a filter job (or reuse a result)."""
    from conversions.jobs.services import event, job_enqueue
    from conversions.jobs.quotas import admitted, enforce

    enforce(user=owner, client_ip=client_ip, session_key=session_key)  # early 429, before any work
    uploads = [u for u in uploads if u is not None]
    if not uploads:
        raise BadRequest("Attach the file to filter as the multipart field 'file'.", code="missing_file")
    if len(uploads) > MAX_FILES:
        raise BadRequest(f"At most {MAX_FILES} files per job.", code="too_many_files")
    raw_ops = parse_operations(operations)
    if not raw_ops:
        raise OperationError("'operations' is required: a JSON list such as [{\"op\": \"grayscale\"}].",
                             code="missing_operations")
    found = _identify(uploads)
    fmt, mime = found[0]
    family = family_of(fmt)
    ops = clean_operations(raw_ops, family, files=len(uploads))
    target = _target(target_format)
    out_fmt = output_format(family, fmt, target, ops)
    first = uploads[0]
    job = Job(
        kind=Job.Kind.FILTER, family="filters", converter="filters", source_format=fmt, target_format=out_fmt,
        operations=ops, original_filename=storage.safe_filename(first.name, default=f"file.{fmt}"),
        source_size=sum(u.size for u in uploads), source_sha256=getattr(first, "sha256", ""), detected_type=mime,
        owner=owner if owner is not None and owner.is_authenticated else None, session_key=session_key or "",
        client_ip=client_ip,
    )
    job.cache_key = cache.cache_key(
        hashes=[getattr(u, "sha256", "") for u in uploads], kind=job.kind, source_format=fmt,
        target_format=out_fmt, operations=ops,
    )
    if use_cache and (hit := cache.reuse(job)) is not None:
        metrics.job_reused(hit)
        return hit
    admission.check_queue(job.family)  # 503 before the uploads are stored
    job.source_keys = [f"uploads/{job.id}/source-{n}.{fmt_}" for n, (fmt_, _) in enumerate(found, start=1)]
    job.source_key = job.source_keys[0]
    stored = []
    try:
        # Storage first, outside any transaction: a row never points at a missing file.
        for key, upload in zip(job.source_keys, uploads):
            storage.save_file(storage.uploads(), key, upload)
            stored.append(key)
        with admitted(job):  # the quotas, counted and kept atomically with this insert
            job.save(force_insert=True)
            names = ",".join(o["op"] for o in ops)
            event(job.id, "created", f"{fmt} -> {out_fmt}: {names} ({job.source_size} bytes)", operations=names)
            transaction.on_commit(lambda: job_enqueue(job))
            transaction.on_commit(lambda: metrics.job_created(job))
    except Exception:
        for key in stored:
            storage.delete_quietly(storage.uploads(), key)
        raise
    return job


def _target(target_format):
    if not target_format:
        return None
    target = formats.normalize(target_format)
    if target is None:
        raise BadRequest(f"Unknown targetFormat {target_format!r}.", code="unsupported_conversion")
    return target


def plan_for_convert(target, operations):
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


# --- Running ------------------------------------------------------------------


def run_filter_job(job, workdir, budget=None):
    """The filter counterpart of services._convert: (seconds, output path, output format)."""
    sources = []
    for n, key in enumerate(job.source_keys or [job.source_key], start=1):
        path = workdir / f"source-{n}.{key.rsplit('.', 1)[-1]}"
        try:
            _fetch(key, path)
        except FileNotFoundError:
            raise ConversionFailed("The uploaded file is no longer stored; upload it again.", code="source_missing") from None
        except OSError as exc:
            # The OS error names server paths: log it, tell the user something they can use.
            logger.warning("reading the upload failed job=%s: %s", job.pk, exc)
            raise TransientError("The uploaded file could not be read from storage.") from exc
        sources.append(path)
    ctx = ConversionContext(
        workdir=workdir, source_path=sources[0], source_format=job.source_format,
        target_format=job.target_format, options=job.options, job_id=job.id, budget=budget,
    )
    started = time.monotonic()
    out, out_fmt = run_chain(ctx, sources, job.source_format, job.target_format, job.operations)
    return time.monotonic() - started, out, out_fmt


def _fetch(key, path):
    """The upload into the work dir: a hard link on local storage (the tools only read it), else a copy."""
    uploads = storage.uploads()
    if storage.is_local(uploads):
        try:
            os.link(uploads.path(key), path)
            return
        except FileNotFoundError:
            raise
        except OSError:  # another file system: copy
            pass
    storage.fetch_to(uploads, key, path)


def apply_after_convert(ctx, job, out_path, out_fmt):
    """Run a convert job's operations on its converted file; (path, format)."""
    if family_of(out_fmt) is None:
        raise ConversionFailed(
            f"The conversion produced a {out_fmt} file; operations cannot be applied to it.", code="invalid_operation"
        )
    return run_chain(ctx, [out_path], out_fmt, out_fmt, job.operations, span=(50, 100))


# --- Waiting --------------------------------------------------------------------


def parse_wait(raw):
    if raw in (None, ""):
        return 0
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = -1
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise BadRequest(f"'wait' must be a number of seconds from 0 to {MAX_WAIT_SECONDS}.", code="invalid_wait")
    return seconds


def wait_for_job(job_id, seconds):
    """The finished job, polling its row until `seconds` pass; None if still active.

    The web thread only sleeps and reads: the job runs on a worker (a thread
    of this process in the embedded default, another process otherwise), so
    nothing here holds a lock or a transaction that the worker needs.
    """
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        job = Job.objects.filter(pk=job_id).first()
        if job is None or job.status not in ACTIVE_STATUSES:
            return job
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(delay, left))
        delay = min(delay * 1.5, 0.2)

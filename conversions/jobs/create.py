"""Creating a job: validate, describe, then submit through the one path every kind of job takes."""

from django.db import transaction

from conversions.engine import formats, sniff
from conversions.engine.registry import registry
from conversions.errors import BadRequest, UnsupportedType
from conversions.files import storage
from conversions.jobs import admission, result_cache
from conversions.jobs import operations as job_operations
from conversions.jobs.quotas import admitted, enforce
from conversions.jobs.services import event, job_enqueue
from conversions.models import Job
from conversions.ops import metrics


def resolve_pair(upload, target_format, options):
    """Sniff the upload and check the pair and options against the registry."""
    fmt, mime = sniff.identify(upload.temporary_file_path(), upload.name, accepted=set(registry.sources()))
    target = formats.normalize(target_format)
    valid = registry.targets(fmt)
    if not target_format:
        raise BadRequest(f"targetFormat is required. {fmt} converts to: {', '.join(valid)}.", code="missing_target")
    converter = registry.find(fmt, target) if target else None
    if converter is None:
        raise BadRequest(
            f"Cannot convert {fmt} to {target_format}. Valid targets for {fmt}: {', '.join(valid) or 'none'}.",
            code="unsupported_conversion",
        )
    return fmt, mime, target, converter, converter.clean_options(fmt, target, options)


def job_create(
    *, upload, target_format, options=None, owner=None, session_key="", client_ip=None, operations=None, use_cache=True
):
    """A convert job from one upload: validate it, then submit it (store, admit, enqueue)."""
    enforce(user=owner, client_ip=client_ip, session_key=session_key)  # early 429, before any work
    if upload is None:
        raise BadRequest("Attach the file to convert as the multipart field 'file'.", code="missing_file")
    if upload.size == 0:
        raise UnsupportedType("The uploaded file is empty.", code="empty_file")
    fmt, mime, target, converter, cleaned = resolve_pair(upload, target_format, options)
    ops = job_operations.current().plan_for_convert(target, operations)  # 400 before anything is stored
    job = Job(
        family=converter.family,
        converter=converter.name,
        source_format=fmt,
        target_format=target,
        options=cleaned,
        original_filename=storage.safe_filename(upload.name, default=f"file.{fmt}"),
        source_size=upload.size,
        source_sha256=getattr(upload, "sha256", ""),
        detected_type=mime,
        owner=owner if owner is not None and owner.is_authenticated else None,
        session_key=session_key or "",
        client_ip=client_ip,
        operations=ops,
    )
    job.source_key = storage.source_key(job.id, fmt)
    job.cache_key = result_cache.cache_key(
        hashes=[getattr(upload, "sha256", "")], kind=job.kind, source_format=fmt, target_format=target,
        converter=converter.name, options=cleaned, operations=ops,
    )
    return job_submit(
        job, [upload], use_cache=use_cache, message=f"{fmt} -> {target} ({upload.size} bytes)", converter=converter.name
    )


def job_submit(job, uploads, *, use_cache=True, message="", **event_data):
    """The one way a job comes to exist, whatever its kind (convert or filter).

    The caller has validated everything and described the job (an unsaved
    row with its source keys and cache key). Then, in this order: a cached
    result is reused (no worker needed); a full queue answers 503 before
    anything is stored; the uploads are stored outside any transaction (a row
    never points at a missing file); the quotas are counted and kept
    atomically with the insert; the job is enqueued once the row commits.
    """
    if use_cache and (hit := result_cache.reuse(job)) is not None:
        metrics.job_reused(hit)
        return hit
    admission.check_queue(job.family)
    keys = job.source_keys or [job.source_key]
    stored = []
    try:
        for key, upload in zip(keys, uploads):
            storage.save_file(storage.uploads(), key, upload)
            stored.append(key)
        with admitted(job):
            job.save(force_insert=True)
            event(job.id, "created", message, **event_data)
            transaction.on_commit(lambda: job_enqueue(job))
            transaction.on_commit(lambda: metrics.job_created(job))
    except Exception:
        for key in stored:
            storage.delete_quietly(storage.uploads(), key)
        raise
    return job



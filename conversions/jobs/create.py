"""Creating a job: validate, describe, then submit through the one path every kind of job takes."""

from contextlib import nullcontext

from django.db import transaction

from conversions.engine import formats, sniff
from conversions.engine.registry import registry
from conversions.errors import BadRequest, UnsupportedType
from conversions.files import storage
from conversions.jobs import admission, direct, result_cache
from conversions.jobs import operations as job_operations
from conversions.jobs.quotas import admitted, enforce
from conversions.jobs.services import event, job_enqueue
from conversions.models import Job
from conversions.ops import metrics


def resolve_pair(upload, target_format, options):
    """Sniff the upload and check the pair and options against the registry."""
    fmt, mime = sniff.identify(upload.temporary_file_path(), upload.name, accepted=set(registry.sources()))
    return (fmt, mime, *resolve_target(fmt, target_format, options))


def resolve_target(fmt, target_format, options):
    """(target, converter, cleaned options) of `fmt` -> `target_format`; 400 when the registry has no such pair."""
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
    return target, converter, converter.clean_options(fmt, target, options)


def job_create(
    *, upload, target_format, options=None, owner=None, session_key="", client_ip=None, operations=None, use_cache=True,
    upload_id=None,
):
    """A convert job from one upload (multipart `file`, or `uploadId` of a direct upload): validate, then submit.

    The quotas' early check of a multipart upload is made by job_submit, in one
    read transaction with the result cache and the queue depth.
    """
    if upload_id:
        with direct_submit():
            enforce(user=owner, client_ip=client_ip, session_key=session_key)  # early 429
            return _job_from_stored(upload_id, upload, target_format, options, owner, session_key, client_ip,
                                    operations)
    if upload is None:
        raise BadRequest(
            "Attach the file to convert as the multipart field 'file' (or name a direct upload by 'uploadId').",
            code="missing_file",
        )
    if upload.size == 0:
        raise UnsupportedType("The uploaded file is empty.", code="empty_file")
    fmt, mime, target, converter, cleaned = resolve_pair(upload, target_format, options)
    job = _describe(converter, fmt, target, cleaned, operations, owner, session_key, client_ip)
    job.original_filename = storage.safe_filename(upload.name, default=f"file.{fmt}")
    job.source_size, job.source_sha256, job.detected_type = upload.size, getattr(upload, "sha256", ""), mime
    job.source_key = storage.source_key(job.id, fmt)
    job.cache_key = result_cache.cache_key(
        hashes=[job.source_sha256], kind=job.kind, source_format=fmt, target_format=target,
        converter=converter.name, options=cleaned, operations=job.operations,
    )
    return job_submit(
        job, [upload], use_cache=use_cache, message=f"{fmt} -> {target} ({upload.size} bytes)", converter=converter.name
    )


def _job_from_stored(upload_id, upload, target_format, options, owner, session_key, client_ip, operations):
    """The job of a direct upload: described from its name; the worker fetches, sizes and sniffs it (direct.check_stored)."""
    if upload is not None:
        raise BadRequest("Send either the multipart field 'file' or 'uploadId', not both.", code="file_and_upload")
    source = direct.stored_source(
        upload_id, owner=owner, session_key=session_key, client_ip=client_ip, accepted=set(registry.sources())
    )
    target, converter, cleaned = resolve_target(source.fmt, target_format, options)
    job = _describe(converter, source.fmt, target, cleaned, operations, owner, session_key, client_ip)
    job.original_filename = source.upload.filename
    job.source_key = source.upload.key  # no hash of bytes the web never sees: no result cache
    message = f"{source.fmt} -> {target} (direct upload)"
    return job_submit(job, [], use_cache=False, message=message, direct_upload=source, converter=converter.name)


def _describe(converter, fmt, target, cleaned, operations, owner, session_key, client_ip):
    ops = job_operations.current().plan_for_convert(target, operations)  # 400 before anything is stored
    return Job(
        family=converter.family, converter=converter.name, source_format=fmt, target_format=target, options=cleaned,
        owner=owner if owner is not None and owner.is_authenticated else None,
        session_key=session_key or "", client_ip=client_ip, operations=ops,
    )


def job_submit(job, uploads, *, use_cache=True, message="", direct_upload=None, **event_data):
    """The one way a job comes to exist, whatever its kind (convert or filter).

    The caller has validated everything and described the job (an unsaved
    row with its source keys and cache key). Then, in this order: the early
    checks read together (the caller's quotas, a cached result reused with no
    worker needed, a full queue answered 503) before anything is stored; the
    uploads are stored outside any transaction (a row never points at a
    missing file); the quotas are counted and kept atomically with the
    insert; the job is enqueued once the row commits.
    """
    with _reads_together():  # reads only: the cache hit's storage checks and copy come after it
        if direct_upload is None:  # a direct upload's caller was checked before its row was read
            enforce(user=job.owner, client_ip=job.client_ip, session_key=job.session_key)  # early 429
        found = result_cache.candidates(job) if use_cache else []
        full = admission.is_full(job.family)
    if found and (hit := result_cache.reuse(job, found)) is not None:
        metrics.job_reused(hit)
        return hit
    admission.check_queue(job.family, full)
    keys = job.source_keys or [job.source_key]
    stored = []
    try:
        for key, upload in zip(keys, uploads):
            storage.save_file(storage.uploads(), key, upload)
            stored.append(key)
        with admitted(job):
            job.save(force_insert=True)
            if direct_upload is not None:
                direct.hand_to_job(direct_upload, job)  # a second use rolls this insert back
            event(job.id, "created", message, **event_data)
            transaction.on_commit(lambda: job_enqueue(job))
            transaction.on_commit(lambda: metrics.job_created(job))
    except Exception:
        for key in stored:
            storage.delete_quietly(storage.uploads(), key)
        raise
    return job


def direct_submit():
    """The whole submit of a direct upload as one PostgreSQL transaction.

    Nothing is stored in between (the bytes are in the bucket already), so
    the early checks, the upload's row, the admission, the insert and the
    upload's hand-over commit once: the web's one commit of the job (the
    worker's claim and finish are the other two).
    """
    return _reads_together()


def _reads_together():
    """One transaction for several reads on PostgreSQL (each autocommit read is a commit of its own).

    Not on SQLite: its transactions begin IMMEDIATE (quotas.py), so even a
    read-only block would take the database's one write lock.
    """
    if transaction.get_connection().vendor == "postgresql":
        return transaction.atomic()
    return nullcontext()

"""The result cache: the same input bytes, target and operations reuse a stored output.

The key is a SHA-256 over the inputs' SHA-256 (computed while the upload
streamed in), the kind, formats, converter, options and operations. A hit
makes a new job that has succeeded at once with its own copy of the output
(a hard link on local storage, a server-side copy on S3), so each job keeps
its own retention and deleting one never removes the other's file. A source
whose output was purged, expired or is missing from storage is never used.

Hits are scoped to the caller (their account, or for anonymous callers the
same session or client IP): a hit answers faster than a miss, and that must
not tell a stranger that someone else converted this exact file.
"""

import hashlib
import json
import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from conversions.files import storage
from conversions.jobs.status_cache import remember
from conversions.models import Job, JobEvent, JobStatus
from conversions.jobs.selectors import job_status_payload

logger = logging.getLogger(__name__)

CANDIDATES = 3


def cache_key(*, hashes, kind, source_format, target_format, converter="", options=None, operations=None):
    if not hashes or not all(hashes):
        return ""
    material = {
        "v": 1, "in": list(hashes), "kind": kind, "src": source_format, "tgt": target_format,
        "conv": converter, "opt": options or {}, "ops": operations or [],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _scope(job):
    if job.owner_id:
        return Q(owner_id=job.owner_id)
    anonymous = Q(pk__in=[])
    if job.session_key:
        anonymous |= Q(session_key=job.session_key)
    if job.client_ip:
        anonymous |= Q(client_ip=job.client_ip)
    return Q(owner__isnull=True) & anonymous


def candidates(job):
    """The succeeded jobs with this key (newest first) whose output should still be stored: one query."""
    if not job.cache_key:
        return []
    now = timezone.now()
    return list(
        Job.objects.filter(_scope(job), cache_key=job.cache_key, status=JobStatus.SUCCEEDED,
                           files_purged_at__isnull=True, expires_at__gt=now)
        .exclude(output_key="")
        .order_by("-finished_at")[:CANDIDATES]
    )


def find_source(job, found=None):
    """A succeeded job with this key whose output is still stored, or None; `found`: its `candidates()`, read already."""
    out = storage.outputs()
    for candidate in candidates(job) if found is None else found:
        if out.exists(candidate.output_key):
            return candidate
    return None


def reuse(job, found=None):
    """Finish the unsaved `job` from a cached output; return it, or None on a miss."""
    from conversions.jobs.quotas import admitted, retention_hours

    source = find_source(job, found)
    if source is None:
        return None
    out_fmt = source.output_key.rsplit(".", 1)[-1]
    now = timezone.now()
    job.output_key = storage.output_key(job.id, out_fmt)
    try:
        copy_output(source.output_key, job.output_key)
    except FileNotFoundError:
        return None  # purged between the check and the copy: run the job instead
    job.status, job.progress, job.cached = JobStatus.SUCCEEDED, 100, True
    job.output_filename = storage.output_filename(job.original_filename, out_fmt)
    job.output_content_type = source.output_content_type
    job.output_size = source.output_size
    job.started_at = job.finished_at = now
    job.converter_seconds = 0.0
    job.expires_at = now + timedelta(hours=retention_hours(job.owner_id))
    summary = f"{job.source_format} -> {job.target_format} ({job.source_size} bytes)"
    try:
        with admitted(job):  # a reused result is a job of the day too
            job.save(force_insert=True)
            JobEvent.objects.bulk_create([
                JobEvent(job_id=job.id, kind="created", message=summary, data={}),
                JobEvent(job_id=job.id, kind="succeeded", message=f"reused the result of job {source.pk}",
                         data={"cached_from": str(source.pk)}),
            ])
    except Exception:
        storage.delete_quietly(storage.outputs(), job.output_key)
        raise
    logger.info("cache hit job=%s from=%s family=%s", job.pk, source.pk, job.family)
    remember(job.pk, job_status_payload(job))  # the row is exactly this object: no re-read
    return job


def copy_output(src_key, dst_key):
    """Give `dst_key` its own copy of `src_key` (hard link locally, server-side copy on S3)."""
    out = storage.outputs()
    if storage.is_local(out):
        src, dst = Path(out.path(src_key)), Path(out.path(dst_key))
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except FileNotFoundError:
            raise
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(src, dst)
        return
    bucket = getattr(out, "bucket_name", None)
    normalize = getattr(out, "_normalize_name", None)
    if bucket and normalize:
        from botocore.exceptions import ClientError

        client = out.connection.meta.client
        try:
            client.copy_object(Bucket=bucket, Key=normalize(dst_key), CopySource={"Bucket": bucket, "Key": normalize(src_key)})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(src_key) from None
            raise
        return
    with out.open(src_key, "rb") as fh:
        storage.save_file(out, dst_key, fh)

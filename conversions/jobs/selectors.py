"""Selectors that read: jobs scoped to the caller, and their public shape."""

import uuid

from django.urls import reverse

from conversions.errors import Gone, NotFound, NotReady
from conversions.models import Job, JobStatus


def _iso(dt):
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def parse_job_id(raw):
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError, AttributeError):
        raise NotFound("No job with this id.", code="job_not_found") from None


def job_get_visible(job_id, user):
    """The job if this caller may read it; a 404 otherwise (never a 403: ids are not leaked)."""
    job = Job.objects.visible_to(user).filter(pk=parse_job_id(job_id)).first()
    if job is None:
        raise NotFound("No job with this id.", code="job_not_found")
    return job


def jobs_of_caller(user, session_key):
    """The caller's own jobs: an account's, or this browser's anonymous ones (none without a session)."""
    if user is not None and user.is_authenticated:
        return Job.objects.filter(owner=user)
    if session_key:
        return Job.objects.filter(owner__isnull=True, session_key=session_key)
    return Job.objects.none()


def job_get_downloadable(job_id, user):
    """The job whose result this caller may download now; the error that says why not otherwise."""
    job = job_get_visible(job_id, user)
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        raise NotReady(f"The job is {job.status} ({job.progress}%); poll its status until it succeeds.")
    if job.status == JobStatus.FAILED:
        raise NotReady(f"The job failed: {job.error_message}", code="job_failed")
    if job.status == JobStatus.CANCELED:
        raise Gone("The job was canceled; there is nothing to download.", code="canceled")
    if job.status == JobStatus.EXPIRED or job.files_purged_at:
        raise Gone("The result was deleted after its retention period; convert the file again.")
    return job


def job_downloadable_cached(job_id, user):
    """The (key, filename, content type) of a succeeded job's result from its cached status; None: ask the database.

    The same visibility as `job_get_visible` (an owned job to its owner only);
    anything but a cached success (errors, not ready, not cached) goes to the database.
    """
    from conversions.jobs.status_cache import cached_status

    payload = cached_status(parse_job_id(job_id))
    if not payload or payload.get("status") != JobStatus.SUCCEEDED or not payload.get("_outputKey"):
        return None
    owner = payload.get("_owner")
    if owner is not None and (user is None or not user.is_authenticated or user.pk != owner):
        return None
    result = payload["result"]
    return payload["_outputKey"], result["filename"], result["contentType"]


def job_status_payload(job):
    """The public status of a job (camelCase), with URLs relative to the site."""
    job_id = str(job.pk)
    download = reverse("api-download", args=[job_id])
    result = None
    if job.status == JobStatus.SUCCEEDED:
        result = {
            "filename": job.output_filename,
            "size": job.output_size,
            "contentType": job.output_content_type,
            "downloadUrl": download,
            "expiresAt": _iso(job.expires_at),
        }
    error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
    if job.status == JobStatus.EXPIRED and error is None:
        error = {"code": "expired", "message": "The files of this job were deleted; convert the file again."}
    return {
        "jobId": job_id,
        "status": job.status,
        "progress": job.progress,
        "kind": job.kind,
        "cached": job.cached,
        "family": job.family,
        "filename": job.original_filename,
        "sourceFormat": job.source_format,
        "targetFormat": job.target_format,
        "createdAt": _iso(job.created_at),
        "startedAt": _iso(job.started_at),
        "finishedAt": _iso(job.finished_at),
        "error": error,
        "result": result,
        "statusUrl": reverse("api-status", args=[job_id]),
        "downloadUrl": download,
        "_owner": job.owner_id,
        # Lets the download answer from the cached copy (stripped from every answer).
        "_outputKey": job.output_key if result else "",
    }


def public_payload(payload, request):
    """Drop internal keys and make every URL absolute for this request."""
    out = {k: v for k, v in payload.items() if not k.startswith("_")}
    for key in ("statusUrl", "downloadUrl"):
        out[key] = request.build_absolute_uri(out[key])
    if out.get("result"):
        out["result"] = {**out["result"], "downloadUrl": request.build_absolute_uri(out["result"]["downloadUrl"])}
    return out

"""Selectors that read: jobs scoped to the caller, and their public shape."""

import uuid

from django.urls import reverse

from conversions.errors import NotFound
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
    }


def public_payload(payload, request):
    """Drop internal keys and make every URL absolute for this request."""
    out = {k: v for k, v in payload.items() if not k.startswith("_")}
    for key in ("statusUrl", "downloadUrl"):
        out[key] = request.build_absolute_uri(out[key])
    if out.get("result"):
        out["result"] = {**out["result"], "downloadUrl": request.build_absolute_uri(out["result"]["downloadUrl"])}
    return out

"""A short-lived cached copy of each job's status, written on every change.

The status endpoint is polled hard; it answers from this copy (Redis in
production, process memory in the embedded default) before it touches the
database.
"""

from django.core.cache import cache

TTL_SECONDS = 60


def _key(job_id):
    return f"job-status:{job_id}"


def job_changed(job_or_id, fresh=False):
    """Refresh the cached status; `fresh=True`: the Job given was just read, skip re-reading it."""
    from .models import Job
    from .selectors import job_status_payload

    job = job_or_id if fresh else Job.objects.filter(pk=getattr(job_or_id, "pk", job_or_id)).first()
    if job is None:
        return
    try:
        cache.set(_key(job.pk), job_status_payload(job), TTL_SECONDS)
    except Exception:  # a cache outage must never fail a job
        cache_delete(job.pk)


def cached_status(job_id):
    try:
        return cache.get(_key(job_id))
    except Exception:
        return None


def remember(job_id, payload):
    try:
        cache.set(_key(job_id), payload, TTL_SECONDS)
    except Exception:
        pass


def cache_delete(job_id):
    try:
        cache.delete(_key(job_id))
    except Exception:
        pass

"""A short-lived cached copy of each job's status, written on every change.

The status endpoint is polled hard; it answers from this copy (Redis in
production, process memory in the embedded default) before it touches the
database.
"""

import json
import logging

from django.conf import settings
from django.core.cache import cache

TTL_SECONDS = 60
_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"
_clients = {}

logger = logging.getLogger(__name__)


def _key(job_id):
    return f"job-status:{job_id}"


def _progress_key(job_id):
    return f"job-progress:{job_id}"


def _redis():
    """One long-lived client when the cache is Redis, else None (Django's cache).

    Django's Redis backend builds a new client object on every call, about
    0.2 ms: a third of a status answer.
    """
    conf = settings.CACHES["default"]
    location = conf.get("LOCATION")
    if conf["BACKEND"] != _REDIS_CACHE or not isinstance(location, str) or "," in location:
        return None
    client = _clients.get(location)
    if client is None:
        import redis

        # Bounded waits: a stalled Redis makes the status endpoint read the database instead.
        client = redis.Redis.from_url(location, socket_timeout=1, socket_connect_timeout=1)
        _clients[location] = client
    return client


def _set(job_id, payload):
    client = _redis()
    if client is None:
        cache.set(_key(job_id), payload, TTL_SECONDS)
    else:
        client.set(_key(job_id), json.dumps(payload), ex=TTL_SECONDS)


def job_changed(job_or_id, fresh=False):
    """Refresh the cached status; `fresh=True`: the Job given was just read, skip re-reading it."""
    from conversions.models import Job
    from conversions.jobs.selectors import job_status_payload

    job = job_or_id if fresh else Job.objects.filter(pk=getattr(job_or_id, "pk", job_or_id)).first()
    if job is None:
        return
    try:
        _set(job.pk, job_status_payload(job))
    except Exception:  # a cache outage must never fail a job
        logger.warning("status cache: could not store job=%s", job.pk, exc_info=True)
        cache_delete(job.pk)


def shared():
    """True when every process sees one cache (Redis): a worker may then learn of a cancel from it."""
    return _redis() is not None


def progress_changed(job_id, percent):
    """A running job's progress, kept apart from its status: no database write, the status never rewritten."""
    try:
        client = _redis()
        if client is None:
            cache.set(_progress_key(job_id), percent, TTL_SECONDS)
        else:
            client.set(_progress_key(job_id), percent, ex=TTL_SECONDS)
    except Exception:  # the status shows the progress of the last database write instead
        logger.warning("status cache: could not store progress job=%s", job_id, exc_info=True)


def cached_status(job_id):
    """The cached status of a job with its latest progress; None when not cached (or the cache is down)."""
    try:
        return read_status(job_id)
    except Exception:  # the database answers instead
        read_failed(job_id)
        return None


def read_status(job_id):
    """`cached_status` that raises when the cache does (the status fast path then leaves it to Django)."""
    client = _redis()
    if client is None:
        got = cache.get_many([_key(job_id), _progress_key(job_id)])
        payload, progress = got.get(_key(job_id)), got.get(_progress_key(job_id))
    else:
        raw, progress = client.mget(_key(job_id), _progress_key(job_id))
        payload = json.loads(raw) if raw else None
    if payload is not None and progress is not None and payload.get("status") == "running":
        payload = {**payload, "progress": max(payload.get("progress") or 0, int(progress))}
    return payload


def read_failed(job_id):
    """Log a failed read (call from an except block: the traceback goes with it)."""
    logger.warning("status cache: could not read job=%s", job_id, exc_info=True)


def remember(job_id, payload):
    try:
        _set(job_id, payload)
    except Exception:  # the next read falls back to the database
        logger.warning("status cache: could not store job=%s", job_id, exc_info=True)


def cache_delete(job_id):
    try:
        client = _redis()
        if client is None:
            cache.delete(_key(job_id))
        else:
            client.delete(_key(job_id))
    except Exception:  # entries expire on their own within the cache's TTL
        logger.warning("status cache: could not drop job=%s", job_id, exc_info=True)

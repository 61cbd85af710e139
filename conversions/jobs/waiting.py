"""`?wait=N`: a submit may wait for its job to end before it answers."""

import threading
import time

from conversions.errors import BadRequest
from conversions.jobs import status_cache
from conversions.models import ACTIVE_STATUSES, Job

MAX_WAIT_SECONDS = 60


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


# Waiters of this process by job id: a worker thread of the same process (the embedded
# default) wakes them the moment it ends the job (job_ended), instead of their next poll.
_waiters = {}
_lock = threading.Lock()
CACHE_POLL_SECONDS = 0.01  # a status cache read: a dict lookup, or one Redis MGET
DB_POLL_FIRST_SECONDS = 0.01
DB_POLL_MAX_SECONDS = 0.2


def wait_for_job(job_id, seconds):
    """The finished job once it ends, or None if it is still active after `seconds`.

    The web thread only sleeps and reads: the job runs on a worker (a thread
    of this process in the embedded default, another process otherwise), so
    nothing here holds a lock or a transaction that the worker needs. It
    learns of the end from the worker itself when they share the process,
    else from the status cache (read every 10 ms; the worker writes it as it
    ends the job), and the row is read to confirm it. Without a cached copy
    it reads the row, at growing intervals.
    """
    deadline = time.monotonic() + seconds
    ended = threading.Event()
    with _lock:
        _waiters.setdefault(str(job_id), []).append(ended)
    try:
        delay, next_row = DB_POLL_FIRST_SECONDS, 0.0
        while True:
            now = time.monotonic()
            cached = status_cache.cached_status(job_id)
            if ended.is_set() or now >= next_row or (cached and cached.get("status") not in ACTIVE_STATUSES):
                job = Job.objects.filter(pk=job_id).first()
                if job is None or job.status not in ACTIVE_STATUSES:
                    return job
                next_row, delay = now + delay, min(delay * 1.5, DB_POLL_MAX_SECONDS)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ended.wait(min(CACHE_POLL_SECONDS if cached else next_row - time.monotonic(), left))
    finally:
        with _lock:
            events = _waiters.get(str(job_id), [])
            if ended in events:
                events.remove(ended)
            if not events:
                _waiters.pop(str(job_id), None)


def job_ended(job_id):
    """Wake this process's waiters of `job_id` (called once its end is committed and cached)."""
    with _lock:
        events = list(_waiters.get(str(job_id), ()))
    for ended in events:
        ended.set()

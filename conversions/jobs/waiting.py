"""`?wait=N`: a submit may wait for its job to end before it answers."""

import time

from conversions.errors import BadRequest
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

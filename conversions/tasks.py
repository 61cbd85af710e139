"""Dramatiq actors: one per family queue, thin and idempotent, ids in."""

import dramatiq
from django.conf import settings

from conversions.engine.registry import FAMILIES
from conversions.errors import ConversionFailed

def _make_actor(queue):
    def run_job(job_id, enqueued_at=None):
        # enqueued_at: the send time (epoch seconds); messages sent before it existed lack it.
        from conversions.jobs.services import job_execute

        job_execute(job_id, enqueued_at)

    run_job.__name__ = f"run_{queue}_job"
    return dramatiq.actor(
        run_job,
        actor_name=f"run_{queue}_job",
        queue_name=queue,
        max_retries=settings.JOB_MAX_ATTEMPTS,
        min_backoff=500,
        max_backoff=10_000,
        # The runner enforces each tool's own timeout; this is the backstop
        # per queue (QUEUE_TIME_LIMITS, e.g. DOCUMENTS_TIME_LIMIT_SECONDS).
        time_limit=settings.QUEUE_TIME_LIMITS[queue] * 1000,
        throws=(ConversionFailed,),
    )


_ACTORS = {queue: _make_actor(queue) for queue in FAMILIES}


def actor_for(family):
    return _ACTORS[family]

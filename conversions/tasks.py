"""Dramatiq actors: one per family queue, thin and idempotent, ids in."""

import dramatiq
from django.conf import settings

from conversions.errors import ConversionFailed

# The subprocess runner enforces each tool's own timeout; this is a backstop
# (per queue: QUEUE_TIME_LIMITS, e.g. DOCUMENTS_TIME_LIMIT_SECONDS).
ACTOR_TIME_LIMIT_MS = 60 * 60 * 1000


def _make_actor(queue):
    def run_job(job_id):
        from conversions.jobs.services import job_execute

        job_execute(job_id)

    run_job.__name__ = f"run_{queue}_job"
    return dramatiq.actor(
        run_job,
        actor_name=f"run_{queue}_job",
        queue_name=queue,
        max_retries=settings.JOB_MAX_ATTEMPTS,
        min_backoff=500,
        max_backoff=10_000,
        time_limit=getattr(settings, "QUEUE_TIME_LIMITS", {}).get(queue, ACTOR_TIME_LIMIT_MS // 1000) * 1000,
        throws=(ConversionFailed,),
    )


run_documents_job = _make_actor("documents")
run_media_job = _make_actor("media")
run_filters_job = _make_actor("filters")

_ACTORS = {"documents": run_documents_job, "media": run_media_job, "filters": run_filters_job}


def actor_for(family):
    return _ACTORS[family]

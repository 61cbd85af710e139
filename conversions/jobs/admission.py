"""Admission control: refuse work the workers cannot take on soon.

A full queue answers 503 with Retry-After before the upload is stored,
instead of accepting a job that would sit for an hour. The depth counted is
the number of jobs `queued` in the database for the family (the truth, also
when the broker lost messages), bounded by a LIMIT so the check stays cheap
however long the backlog.
"""

import logging

from django.conf import settings

from conversions.errors import ServiceUnavailable
from conversions.models import Job, JobStatus

logger = logging.getLogger(__name__)


def queued_count(family, limit):
    return Job.objects.filter(status=JobStatus.QUEUED, family=family)[:limit].count()


def is_full(family):
    """True when `family` has QUEUE_MAX_DEPTH jobs waiting (one read; never with no limit)."""
    limit = settings.QUEUE_MAX_DEPTH
    return bool(limit) and queued_count(family, limit) >= limit


def check_queue(family, full=None):
    """Raise 503 (code queue_full, Retry-After) when `family` is full; `full`: `is_full()` read already."""
    if not (is_full(family) if full is None else full):
        return
    limit, retry = settings.QUEUE_MAX_DEPTH, settings.QUEUE_FULL_RETRY_AFTER
    logger.warning("queue full family=%s depth>=%s", family, limit, extra={"family": family})
    raise ServiceUnavailable(
        f"The {family} queue is full ({limit} jobs waiting); try again in {retry} seconds.",
        code="queue_full",
        headers={"Retry-After": str(retry)},
    )

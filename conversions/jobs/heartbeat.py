"""A running job's heartbeat: its progress, its lease and the news of a cancel.

Called once a second while a tool runs (ConversionContext.tick). With a
shared status cache (Redis) the progress goes to the cache only, a cancel is
read from the cached status (job_delete writes it), and the database is
written when the lease needs renewing (every quarter of JOB_LEASE_SECONDS),
so a job of a few seconds costs the database nothing between its claim and
its finish. Without one (process memory, the embedded default) every beat
writes the row, as the cache of one process says nothing about another's.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversions.errors import Canceled
from conversions.jobs import status_cache
from conversions.models import Job, JobStatus

# When this process last set each running job's lease (monotonic seconds): the claim, then
# each renewal. Per job, not per context: a filter chain runs several contexts in one lease.
_renewed = {}


def renew_seconds():
    return settings.JOB_LEASE_SECONDS / 4


def claimed(job_id):
    """The claim set the lease just now (and entries of jobs long gone are dropped)."""
    now = time.monotonic()
    for old in [k for k, at in _renewed.items() if now - at > 2 * settings.JOB_LEASE_SECONDS]:
        _renewed.pop(old, None)
    _renewed[str(job_id)] = now


class Heartbeat:
    def __init__(self, job_id):
        self.job_id = job_id
        self.progress_sent = -1

    def beat(self, progress):
        """Raises Canceled when the job is no longer running (canceled, taken back, or finished by another)."""
        renewed = _renewed.get(str(self.job_id))
        if not status_cache.shared() or renewed is None or time.monotonic() - renewed >= renew_seconds():
            return self.renew(progress)
        if progress != self.progress_sent:
            self.progress_sent = progress
            status_cache.progress_changed(self.job_id, progress)
        cached = status_cache.cached_status(self.job_id)
        if cached is None:  # not cached, or the cache is down: the database says
            return self.renew(progress)
        if cached.get("status") != JobStatus.RUNNING:
            raise Canceled(str(self.job_id))
        return None

    def renew(self, progress):
        """The lease and progress to the row, in one commit with the re-read that refreshes the cached status.

        With a shared cache the status is refreshed on every renewal (it must
        outlive its TTL while the job runs); otherwise when the progress moved.
        """
        _renewed[str(self.job_id)] = time.monotonic()
        refresh = status_cache.shared() or progress != self.progress_sent
        with transaction.atomic():
            updated = Job.objects.filter(pk=self.job_id, status=JobStatus.RUNNING).update(
                progress=progress, lease_until=timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
            )
            job = Job.objects.filter(pk=self.job_id).first() if updated and refresh else None
        if not updated:
            raise Canceled(str(self.job_id))
        if job is not None:
            self.progress_sent = progress
            status_cache.job_changed(job, fresh=True)
        return None

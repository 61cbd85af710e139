"""The reconciler: re-send lost messages, reclaim dead workers' jobs, purge old files.

Each function is idempotent: a job re-sent twice is claimed once (the claim
is a conditional UPDATE), a purged file is deleted once.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from conversions.jobs.status_cache import job_changed
from conversions.models import Job, JobStatus

logger = logging.getLogger(__name__)


def requeue_stuck(*, older_than_seconds=None, include_running=True):
    """Re-enqueue queued jobs nobody picked up, and running jobs whose lease ran out."""
    from conversions.jobs.services import event, job_enqueue

    if older_than_seconds is None:
        older_than_seconds = settings.REQUEUE_AFTER_SECONDS
    jobs = _probably_lost(list(Job.objects.stale_queued(timedelta(seconds=older_than_seconds))))
    if include_running:
        jobs += _release_dead_leases()
    sent = 0
    for job in jobs:
        if job_enqueue(job):
            sent += 1
            event(job.pk, "requeued", f"re-enqueued by the reconciler (was {job.status})")
        # Touch it so the next pass waits its turn again.
        Job.objects.filter(pk=job.pk, status=job.status).update(updated_at=timezone.now())
    logger.info("requeue_stuck: requeued=%s examined=%s", sent, len(jobs))
    return sent


def _probably_lost(stale):
    """The stale queued jobs whose messages are missing from their queue, oldest first.

    A job also sits in `queued` for a long time behind a backlog, with its
    message still waiting; re-sending every such job on every pass would
    multiply the backlog. So per family only as many jobs are re-sent as the
    queue lacks messages for (jobs queued in the database minus messages
    waiting in the broker): all of them after a Redis restart, a handful (the
    workers' prefetched messages) under a backlog.
    """
    from convertall.broker import queue_depths

    if not stale:
        return stale
    try:
        depths = queue_depths()
    except Exception as exc:  # broker down: re-sending will fail and be logged anyway
        logger.warning("requeue_stuck: queue depths unavailable (%s); considering every stale job", exc)
        return stale
    chosen = []
    for family in sorted({job.family for job in stale}):
        queued = Job.objects.filter(status=JobStatus.QUEUED, family=family).count()
        missing = max(queued - depths.get(family, 0), 0)
        chosen += sorted((j for j in stale if j.family == family), key=lambda j: j.created_at)[:missing]
    return chosen


def _release_dead_leases():
    """Running jobs whose lease ran out go back to queued, one conditional UPDATE each.

    Released, they are re-sent once now and then only after
    REQUEUE_AFTER_SECONDS like any queued job (not on every pass while the
    workers are busy); a late finish by the presumed-dead worker matches no row.
    A job that has used JOB_MAX_ATTEMPTS fails with `worker_lost` instead:
    a file that kills its worker must not go round the fleet for ever.
    """
    from conversions.jobs.services import job_fail_lost

    released = []
    for job in Job.objects.lease_expired():
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            job_fail_lost(job)
            continue
        if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_until=job.lease_until).update(
            status=JobStatus.QUEUED, lease_until=None, updated_at=timezone.now()
        ):
            job.status = JobStatus.QUEUED
            job_changed(job.pk)
            released.append(job)
    return released


def purge_expired(now=None):
    """Delete uploads after UPLOAD_RETENTION_HOURS and outputs after OUTPUT_RETENTION_HOURS."""
    from conversions.jobs.services import job_purge_files

    now = now or timezone.now()
    upload_cutoff = now - timedelta(hours=settings.UPLOAD_RETENTION_HOURS)
    output_cutoff = now - timedelta(hours=settings.OUTPUT_RETENTION_HOURS)
    due = Job.objects.filter(files_purged_at__isnull=True).filter(
        Q(status=JobStatus.SUCCEEDED, expires_at__lt=now)
        | Q(status=JobStatus.SUCCEEDED, expires_at__isnull=True, finished_at__lt=output_cutoff)
        | Q(status__in=[JobStatus.FAILED, JobStatus.CANCELED], created_at__lt=upload_cutoff)
    )
    count = 0
    for job in due.iterator():
        job_purge_files(job)
        # The status endpoint answers from a cached copy: it must say `expired` now too.
        job_changed(job.pk)
        count += 1
    logger.info("purge_expired: purged=%s", count)
    return count


def purge_old_uploads(now=None):
    """Delete the uploads of finished jobs after UPLOAD_RETENTION_HOURS.

    A succeeded job keeps its output until OUTPUT_RETENTION_HOURS, but its
    source file goes after the shorter upload retention. Clearing source_key
    in the same conditional UPDATE makes a second pass a no-op. Direct uploads
    that no job took go after the same time (direct.purge_unused).
    """
    from conversions.files import storage
    from conversions.jobs import direct

    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.UPLOAD_RETENTION_HOURS)
    finished = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED]
    due = Job.objects.filter(status__in=finished, created_at__lt=cutoff, files_purged_at__isnull=True).exclude(
        source_key=""
    )
    count = 0
    for job_id, key in due.values_list("pk", "source_key").iterator():
        storage.delete_quietly(storage.uploads(), key)
        count += Job.objects.filter(pk=job_id, source_key=key).update(source_key="", updated_at=timezone.now())
    logger.info("purge_old_uploads: deleted=%s", count)
    return count + direct.purge_unused(now)


def remove_orphan_workdirs(work_dir=None):
    """Remove the work dirs that workers killed mid-job left behind (`job-<id>-*` under WORK_DIR).

    A dir is an orphan when its job is no longer running or its lease ran out
    (the worker that made it is dead: a live one renews its lease every
    second). Run when a worker starts, on the disk it shares with its siblings.
    """
    import shutil
    import uuid
    from pathlib import Path

    root = Path(work_dir or settings.WORK_DIR)
    if not root.is_dir():
        return 0
    dirs = {}
    for path in root.glob("job-*"):
        try:
            dirs[path] = uuid.UUID(path.name[4:40])
        except ValueError:
            continue
    alive = set(
        Job.objects.filter(pk__in=set(dirs.values()), status=JobStatus.RUNNING, lease_until__gte=timezone.now())
        .values_list("pk", flat=True)
    )
    removed = 0
    for path, job_id in dirs.items():
        if job_id not in alive:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    if removed:
        logger.info("removed %s work dirs of dead workers' jobs under %s", removed, root)
    return removed

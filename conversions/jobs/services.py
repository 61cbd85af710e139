"""Services that write: run, finish, retry, cancel and purge jobs (creating them: create.py).

The database row is the truth; the queue only carries job ids. Every state
change is one conditional UPDATE so that two deliveries of one message, or a
worker that comes back after its lease was taken over, change nothing twice.
"""

import logging
import tempfile
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from dramatiq.middleware.time_limit import TimeLimitExceeded

from conversions.engine import formats
from conversions.engine.context import ConversionContext
from conversions.engine.registry import registry
from conversions.errors import Canceled, ConversionFailed, TransientError
from conversions.files import storage
from conversions.jobs import direct, failures, heartbeat, waiting
from conversions.jobs import operations as job_operations
from conversions.jobs.budget import JobBudget, time_limit_seconds
from conversions.jobs.quotas import retention_hours
from conversions.jobs.status_cache import job_changed
from conversions.models import ACTIVE_STATUSES, Job, JobEvent, JobStatus
from conversions.ops import metrics

logger = logging.getLogger(__name__)


def event(job_id, kind, message="", **data):
    JobEvent.objects.create(job_id=job_id, kind=kind, message=message[:2000], data=data)


def job_enqueue(job):
    """Send the job's id to its family's queue. A lost message is re-sent by the reconciler.

    The message carries its send time; the claim writes it to `enqueued_at`
    (no commit of its own for a timing mark).
    """
    from conversions.tasks import actor_for

    try:
        actor_for(job.family).send(str(job.id), time.time())
    except Exception:
        logger.exception("enqueue failed job=%s family=%s; the reconciler will retry", job.id, job.family)
        return False
    return True


# --- Running ------------------------------------------------------------------


def job_claim(job_id, enqueued_at=None):
    """Claim a job with one conditional UPDATE; None when someone else has it.

    Matches a queued job, or a running one whose lease ran out (its worker
    died) with attempts left. Two workers racing for one job: exactly one
    UPDATE matches. A dead worker's job with no attempts left (Dramatiq
    re-delivers its unacked message) fails with `worker_lost` instead.
    """
    now = timezone.now()
    claimed = _claim(job_id, now, _sent_at(enqueued_at, now))
    if claimed is None:
        _fail_if_lost(Job.objects.filter(pk=job_id).claimable(now))
        return None
    heartbeat.claimed(job_id)
    job_changed(claimed, fresh=True)
    return claimed


def _sent_at(timestamp, now):
    """The message's send time (seconds since the epoch) as a datetime; the claim's own time without one."""
    if timestamp is None:
        return now
    return min(datetime.fromtimestamp(float(timestamp), tz=dt_timezone.utc), now)


def _claim(job_id, now, enqueued_at):
    # One commit for the claim and its history row (each commit is a WAL flush).
    with transaction.atomic():
        claimed = (
            Job.objects.filter(pk=job_id, attempts__lt=settings.JOB_MAX_ATTEMPTS)
            .claimable(now)
            .update(
                status=JobStatus.RUNNING,
                started_at=now,
                lease_until=now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
                attempts=F("attempts") + 1,
                progress=0,
                enqueued_at=enqueued_at,
                updated_at=now,
            )
        )
        if not claimed:
            return None
        job = Job.objects.get(pk=job_id)
        event(job.id, "started", f"attempt {job.attempts}", attempt=job.attempts)
    return job


def job_fail_lost(job):
    """Fail a job whose worker died on its last allowed attempt, instead of running it again.

    A poison file that kills its worker (out of memory, a crashing decoder)
    would otherwise be reclaimed and kill a worker for good.
    """
    return _fail_if_lost(Job.objects.filter(pk=job.pk, status=job.status, lease_until=job.lease_until))


def _fail_if_lost(jobs):
    """Those of `jobs` that used up their attempts end `failed`/`worker_lost`, one conditional UPDATE each."""
    failed = 0
    for job in jobs.filter(attempts__gte=settings.JOB_MAX_ATTEMPTS):
        now = timezone.now()
        message = (
            f"The worker running this job stopped during each of its {job.attempts} attempts; "
            "the file may be too large or too damaged for this server to convert."
        )
        if not jobs.filter(pk=job.pk, attempts=job.attempts).update(
            status=JobStatus.FAILED, error_code="worker_lost", error_message=message,
            finished_at=now, lease_until=None, updated_at=now,
        ):  # fmt: skip
            continue
        failed += 1
        logger.warning("job failed job=%s family=%s code=worker_lost attempts=%s", job.pk, job.family, job.attempts)
        event(job.pk, "failed", message, code="worker_lost")
        storage.delete_quietly(storage.outputs(), job.output_key)
        metrics.job_failed(job, "worker_lost")
        job_changed(job.pk)
    return failed


def job_execute(job_id, enqueued_at=None):
    """Run one job end to end. Safe to call twice for the same id.

    Every attempt ends with the row out of `running` (or, for a transient
    error, back in `queued`): Dramatiq's time limit arrives as an Interrupt, a
    BaseException that no `except Exception` sees, so it is caught by name.
    """
    job = job_claim(job_id, enqueued_at)
    if job is None:
        logger.info("claim matched no row job=%s (done, canceled or taken)", job_id)
        return None
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=f"job-{job.id}-", dir=_work_dir()) as workdir:
            budget = JobBudget.for_job(job.family, Path(workdir))
            converter_seconds, out_path, out_fmt = _convert(job, Path(workdir), budget)
            budget.check_disk()
            _store_output(job, out_path, out_fmt)
    except Canceled:
        logger.info("job canceled while running job=%s", job.id)
        storage.delete_quietly(storage.outputs(), job.output_key)
        return None
    except ConversionFailed as exc:
        return _fail(job, exc.code, exc.message)
    except TimeLimitExceeded:
        # The work dir is gone already (the with-block's exit ran); the message is
        # acked as handled so that Dramatiq's Retries middleware does not run it again.
        return _time_limit_exceeded(job, time.monotonic() - started)
    except Exception as exc:
        return _retry_or_fail(job, exc)
    return _succeed(job, converter_seconds, time.monotonic() - started)


def _time_limit_exceeded(job, seconds):
    logger.warning("job hit the queue time limit job=%s family=%s seconds=%.1f", job.pk, job.family, seconds)
    storage.delete_quietly(storage.outputs(), job.output_key)
    message = (
        f"The job did not finish within its {time_limit_seconds(job.family):g}-second time limit and was stopped; "
        "try a smaller or shorter file."
    )
    try:
        return _fail(job, "timeout", message)
    except DatabaseError:
        # The interrupt may have landed inside a query: start over on a fresh connection.
        close_old_connections()
        connection.close()
        return _fail(job, "timeout", message)

def _work_dir():
    path = Path(settings.WORK_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _convert(job, workdir, budget):
    if job.kind == Job.Kind.FILTER:
        return job_operations.current().run_job(job, workdir, budget)
    converter = registry.find(job.source_format, job.target_format)
    if converter is None:
        raise ConversionFailed(
            f"{job.source_format} -> {job.target_format} is not available on this server.", code="unsupported_conversion"
        )
    (source_path,) = fetch_sources(job, workdir)
    ctx = ConversionContext(
        workdir=workdir,
        source_path=source_path,
        source_format=job.source_format,
        target_format=job.target_format,
        options=job.options,
        job_id=job.id,
        budget=budget,
        display_name=Path(job.original_filename).stem,
    )
    if job.operations:
        ctx.progress_span = (0, 50)  # the operations take the second half
    t0 = time.monotonic()
    result = converter.convert(ctx)
    seconds = time.monotonic() - t0
    out_path = Path(result) if result else ctx.output_path
    if not out_path.exists() or out_path.stat().st_size == 0:
        raise ConversionFailed(f"{converter.name} produced no output for this file.", code="empty_output")
    tool = converter.tool or converter.name
    logger.info(
        "converted job=%s family=%s tool=%s seconds=%.3f", job.id, job.family, tool, seconds,
        extra={"tool": tool, "seconds": round(seconds, 3)},  # fields in JSON logs
    )  # fmt: skip
    out_fmt = ctx.output_format
    if job.operations:
        out_path, out_fmt = job_operations.current().apply_after_convert(ctx, job, out_path, out_fmt)
        seconds = time.monotonic() - t0
    return seconds, out_path, out_fmt


def fetch_sources(job, workdir):
    """Every upload of the job into its work dir, in order; storage faults in words a user can act on.

    Named `source.<fmt>` (one upload) or `source-<n>.<fmt>` (several): the
    extension is the sniffed format, never the user's.
    """
    keys = job.source_keys or [job.source_key]
    paths = []
    for n, key in enumerate(keys, start=1):
        # A direct upload's key has no extension (it was fixed before anyone knew the format).
        name = key.rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1] if "." in name else job.source_format
        path = workdir / (f"source.{ext}" if len(keys) == 1 and job.kind == Job.Kind.CONVERT else f"source-{n}.{ext}")
        try:
            storage.fetch_to(storage.uploads(), key, path)
        except FileNotFoundError:
            raise direct.source_missing(job) from None
        except OSError as exc:
            # The OS error names server paths: log it, tell the user something they can use.
            logger.warning("reading the upload failed job=%s: %s", job.pk, exc)
            raise TransientError("The uploaded file could not be read from storage.") from exc
        direct.check_stored(job, path)  # a direct upload is sniffed here, before any tool reads it
        paths.append(path)
    return paths


def _store_output(job, out_path, out_fmt):
    job.output_key = storage.output_key(job.id, out_fmt)
    job.output_filename = storage.output_filename(job.original_filename, out_fmt)
    job.output_content_type = formats.FORMATS[out_fmt].content_type
    job.output_size = out_path.stat().st_size
    # The key derives from the job id: a second delivery overwrites, never duplicates.
    storage.save_file(storage.outputs(), job.output_key, out_path)


def _succeed(job, converter_seconds, wall_seconds):
    now = timezone.now()
    done = {
        "status": JobStatus.SUCCEEDED, "progress": 100, "finished_at": now, "lease_until": None,
        "converter_seconds": converter_seconds, "output_key": job.output_key, "output_filename": job.output_filename,
        "output_content_type": job.output_content_type, "output_size": job.output_size,
        "detected_type": job.detected_type, "source_size": job.source_size,  # a direct upload's: learnt here
        "expires_at": now + timedelta(hours=_retention_hours(job)), "error_code": "", "error_message": "",
        "updated_at": now,
    }  # fmt: skip
    message = f"{job.output_size} bytes in {converter_seconds:.3f}s"
    if not _finish(job, done, "succeeded", message, seconds=wall_seconds):
        # Canceled meanwhile, or another worker took over after our lease ran out.
        current = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if current == JobStatus.CANCELED:
            storage.delete_quietly(storage.outputs(), job.output_key)
        logger.info("finish matched no row job=%s status=%s", job.pk, current)
        return None
    metrics.job_succeeded(job, converter_seconds)
    return job.pk


def _finish(job, fields, kind, message, **data):
    """The attempt's last write: one conditional UPDATE and its history row in one commit.

    The status cache is written from `job` with `fields` applied (the row
    holds exactly that now), not re-read. False when the UPDATE matched no row.
    """
    with transaction.atomic():
        if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(**fields):
            return False
        event(job.pk, kind, message, **data)
    for name, value in fields.items():
        setattr(job, name, value)
    job_changed(job, fresh=True)
    waiting.job_ended(job.pk)  # a `?wait` answer of this process goes now, not at its next poll
    return True


def _retention_hours(job):
    return retention_hours(job.owner_id)


def _fail(job, code, message):
    """End the job `failed`; the user sees `message` without server paths or tool versions (the event keeps it whole)."""
    now = timezone.now()
    fields = {
        "status": JobStatus.FAILED, "error_code": code, "error_message": failures.public_message(message),
        "finished_at": now, "lease_until": None, "updated_at": now,
        "source_size": job.source_size,  # a direct upload's, once fetched
    }  # fmt: skip
    if _finish(job, fields, "failed", message, code=code):
        logger.info("job failed job=%s family=%s code=%s", job.pk, job.family, code)
        metrics.job_failed(job, code)
    return None


def _retry_or_fail(job, exc):
    exc = failures.explain(exc)  # disk full, storage unreachable: say so
    code = getattr(exc, "code", "internal_error")
    if job.attempts >= settings.JOB_MAX_ATTEMPTS:
        logger.exception("job failed after %s attempts job=%s", job.attempts, job.pk)
        message = getattr(exc, "message", None) or "The conversion failed repeatedly because of a server error."
        return _fail(job, code, f"{message} (after {job.attempts} attempts)")
    released = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=JobStatus.QUEUED, lease_until=None, updated_at=timezone.now()
    )
    logger.warning("job attempt %s failed job=%s: %r; will retry", job.attempts, job.pk, exc)
    if released:
        event(job.pk, "retry", f"attempt {job.attempts} failed: {exc}", code=code)
        job_changed(job.pk)
    raise TransientError(str(exc)) from exc


# --- Canceling and purging ----------------------------------------------------


def job_retry(job, *, by):
    """Send a failed or stuck job round again, attempts reset (the admin's retry)."""
    if not job.source_key or job.status not in (JobStatus.FAILED, JobStatus.QUEUED):
        return False
    if not Job.objects.filter(pk=job.pk, status=job.status).update(
        status=JobStatus.QUEUED, error_code="", error_message="", attempts=0, finished_at=None
    ):
        return False
    event(job.pk, "retry", f"retried by {by}")
    job_changed(job.pk)
    job_enqueue(job)
    return True


def jobs_claim_for_user(*, user, session_key):
    """A browser's anonymous jobs join the account it signs in to; their cached status follows."""
    if not session_key:
        return 0
    ids = list(Job.objects.filter(owner__isnull=True, session_key=session_key).values_list("pk", flat=True))
    moved = Job.objects.filter(pk__in=ids, owner__isnull=True).update(owner=user, session_key="")
    for job_id in ids:
        job_changed(job_id)  # the cached copy still says "anyone with the id"
    if moved:
        logger.info("anonymous jobs claimed user=%s jobs=%s", user.pk, moved)
    return moved


def job_delete(job):
    """Cancel a job that is still active; delete its files now either way."""
    now = timezone.now()
    if job.status in ACTIVE_STATUSES:
        canceled = Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
            status=JobStatus.CANCELED, finished_at=now, lease_until=None, updated_at=now
        )
        if canceled:
            event(job.pk, "canceled", "canceled by its owner")
    job_purge_files(job)
    job.refresh_from_db()
    job_changed(job.pk)
    return job


def job_purge_files(job):
    """Delete a job's stored files now; a succeeded job becomes `expired`."""
    storage.delete_quietly(storage.uploads(), job.source_key)
    for key in job.source_keys[1:]:  # the other uploads of a multi-file job
        storage.delete_quietly(storage.uploads(), key)
    storage.delete_quietly(storage.outputs(), job.output_key)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(files_purged_at=now, updated_at=now)
    Job.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).update(status=JobStatus.EXPIRED)
    event(job.pk, "purged", "files deleted")

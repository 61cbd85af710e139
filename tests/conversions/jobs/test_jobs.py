"""The job lifecycle on real PostgreSQL and local storage: claim, run, retry, reconcile."""

import threading
from datetime import timedelta

import dramatiq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversions.jobs import reconcile
from conversions.jobs import services
from conversions.files import storage
from conversions.errors import TransientError
from conversions.models import Job, JobStatus
from tests.builders import image_bytes, upload, wait_until
from tests.conftest import drain
from tests.media.test_images import png_header_only


def submit(api, name="photo.png", data=None, target="webp"):
    data = image_bytes(size=(64, 48)) if data is None else data
    resp = api.post("/api/v1/convert", {"file": upload(name, data), "targetFormat": target}, format="multipart")
    assert resp.status_code == 202, resp.content
    return Job.objects.get(pk=resp.json()["jobId"])


def kinds(job):
    return [e.kind for e in job.events.order_by("at", "id")]


def queued_messages():
    return sum(q.qsize() for q in dramatiq.get_broker().queues.values())


def output_files(job):
    try:
        return storage.outputs().listdir(f"outputs/{job.pk}")[1]
    except FileNotFoundError:
        return []


def truncated_png():
    data = image_bytes(size=(300, 200))
    return data[: len(data) // 2]


# --- Claim ------------------------------------------------------------------


@pytest.mark.django_db
def test_claim_is_one_conditional_update_and_only_once(api):
    job = submit(api)
    with CaptureQueriesContext(connection) as queries:
        claimed = services.job_claim(job.pk)
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "jobs"')]
    assert len(updates) == 1
    assert '"status" = \'queued\'' in updates[0] and '"lease_until" <' in updates[0]
    assert claimed.status == JobStatus.RUNNING and claimed.attempts == 1
    assert claimed.lease_until > timezone.now()

    assert services.job_claim(job.pk) is None
    job.refresh_from_db()
    assert job.attempts == 1
    assert kinds(job) == ["created", "started"]


@pytest.mark.django_db
def test_an_expired_lease_is_claimable_again(api):
    job = submit(api)
    services.job_claim(job.pk)
    assert services.job_claim(job.pk) is None  # lease still valid
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    again = services.job_claim(job.pk)
    assert again is not None and again.attempts == 2


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.EXPIRED])
def test_finished_jobs_are_never_claimed(api, status):
    job = submit(api)
    Job.objects.filter(pk=job.pk).update(status=status)
    assert services.job_claim(job.pk) is None


@pytest.mark.django_db(transaction=True)
def test_racing_workers_claim_a_job_exactly_once():
    job = Job.objects.create(family="media", source_format="png", target_format="webp", original_filename="a.png")
    workers = 8
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def claim():
        try:
            barrier.wait()
            results.append(services.job_claim(job.pk))
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == workers
    assert sum(r is not None for r in results) == 1
    job.refresh_from_db()
    assert job.attempts == 1 and job.events.filter(kind="started").count() == 1


# --- Running ------------------------------------------------------------------


@pytest.mark.django_db
def test_delivery_twice_makes_one_output_and_one_success(api, run_jobs):
    with run_jobs():
        job = submit(api)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    first_finish = job.finished_at

    # The broker delivers the same message again (at-least-once).
    assert services.job_execute(str(job.pk)) is None
    services.job_enqueue(job)
    assert drain() == 1

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 1 and job.finished_at == first_finish
    assert kinds(job).count("succeeded") == 1
    assert output_files(job) == ["result.webp"]


@pytest.mark.django_db
def test_a_rerun_after_a_dead_worker_overwrites_and_the_late_finish_is_ignored(api):
    job = submit(api)
    dead = services.job_claim(job.pk)  # worker A claims, then stops renewing its lease
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    assert services.job_execute(str(job.pk)) == job.pk  # worker B takes over
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2

    # Worker A wakes up and tries to finish with its stale attempt number: no row matches.
    dead.output_key, dead.output_filename = job.output_key, job.output_filename
    dead.output_content_type, dead.output_size = job.output_content_type, job.output_size
    assert services._succeed(dead, 0.1, 0.1) is None
    assert kinds(job).count("succeeded") == 1
    assert output_files(job) == ["result.webp"]


def break_upload(job):
    """A real storage fault: the upload's path turns into a directory (open() gives EISDIR)."""
    path = storage.uploads().path(job.source_key)
    import os

    os.remove(path)
    os.mkdir(path)


@pytest.mark.django_db
def test_transient_failure_is_retried_then_fails_with_a_clear_code(api, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = submit(api)
    break_upload(job)

    for attempt in (1, 2):
        with pytest.raises(TransientError):
            services.job_execute(str(job.pk))
        job.refresh_from_db()
        assert job.status == JobStatus.QUEUED and job.attempts == attempt
        assert job.lease_until is None and job.error_code == ""

    assert services.job_execute(str(job.pk)) is None  # the last attempt fails the job
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert job.error_code == "transient_error"
    assert "could not be read from storage" in job.error_message and "(after 3 attempts)" in job.error_message
    assert "/" not in job.error_message  # no server paths
    assert kinds(job) == ["created", "started", "retry", "started", "retry", "started", "failed"]
    assert output_files(job) == []

    status = api.get(f"/api/v1/status/{job.pk}").json()
    assert status["status"] == "failed" and status["error"]["code"] == "transient_error"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "code"),
    [(truncated_png, "invalid_image"), (lambda: png_header_only(20000, 20000), "image_too_large")],
    ids=["truncated", "pixel-bomb"],
)
def test_bad_input_fails_at_once_without_retry(api, run_jobs, data, code):
    with run_jobs():
        job = submit(api, data=data())
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 1 and job.error_code == code
    assert "retry" not in kinds(job)
    assert output_files(job) == []
    status = api.get(f"/api/v1/status/{job.pk}").json()
    assert status["error"] == {"code": code, "message": job.error_message}
    assert api.get(f"/api/v1/download/{job.pk}").status_code in (409, 410, 422)


@pytest.mark.django_db
def test_timings_are_recorded(api, run_jobs):
    with run_jobs():
        job = submit(api)
    job.refresh_from_db()
    assert job.created_at <= job.enqueued_at <= job.started_at <= job.finished_at
    wall = (job.finished_at - job.started_at).total_seconds()
    assert 0 < job.converter_seconds <= wall + 0.001
    assert job.end_to_end_seconds == (job.finished_at - job.created_at).total_seconds()
    assert job.expires_at > job.finished_at
    status = api.get(f"/api/v1/status/{job.pk}").json()
    assert status["createdAt"] and status["startedAt"] and status["finishedAt"]


# --- Reconciling ----------------------------------------------------------------


@pytest.mark.django_db
def test_requeue_stuck_resends_lost_queued_jobs_which_then_run(api):
    lost, fresh = submit(api), submit(api)  # on_commit never ran: no message exists
    assert queued_messages() == 0
    Job.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(minutes=10))

    assert reconcile.requeue_stuck(older_than_seconds=60) == 1
    assert queued_messages() == 1
    drain()
    lost.refresh_from_db(), fresh.refresh_from_db()
    assert lost.status == JobStatus.SUCCEEDED and "requeued" in kinds(lost)
    assert fresh.status == JobStatus.QUEUED


@pytest.mark.django_db
def test_requeue_stuck_reclaims_a_dead_workers_job(api):
    job = submit(api)
    services.job_claim(job.pk)
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=5))

    assert reconcile.requeue_stuck(older_than_seconds=3600) == 1
    drain()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert output_files(job) == ["result.webp"]


@pytest.mark.django_db
def test_requeue_stuck_leaves_healthy_running_jobs_alone(api):
    job = submit(api)
    services.job_claim(job.pk)
    assert reconcile.requeue_stuck(older_than_seconds=0) == 0
    assert queued_messages() == 0


def age(job, hours, **fields):
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=hours), **fields)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_purge_expired_deletes_files_and_marks_expired(api, run_jobs):
    with run_jobs():
        done, keep = submit(api), submit(api)
        failed = submit(api, data=truncated_png())
    done = age(done, 49, expires_at=timezone.now() - timedelta(hours=1))
    failed = age(failed, 25)
    source, output = done.source_key, done.output_key
    assert storage.uploads().exists(source) and storage.outputs().exists(output)

    assert reconcile.purge_expired() == 2
    done.refresh_from_db(), keep.refresh_from_db(), failed.refresh_from_db()
    assert done.status == JobStatus.EXPIRED and done.files_purged_at is not None
    assert not storage.uploads().exists(source) and not storage.outputs().exists(output)
    assert failed.status == JobStatus.FAILED and not storage.uploads().exists(failed.source_key)
    assert keep.status == JobStatus.SUCCEEDED and storage.outputs().exists(keep.output_key)
    assert api.get(f"/api/v1/download/{done.pk}").status_code == 410
    assert api.get(f"/api/v1/status/{done.pk}").json()["status"] == "expired"
    assert reconcile.purge_expired() == 0


@pytest.mark.django_db
def test_uploads_go_after_upload_retention_while_outputs_stay(api, run_jobs, settings):
    settings.UPLOAD_RETENTION_HOURS, settings.OUTPUT_RETENTION_HOURS = 24, 48
    with run_jobs():
        old, young = submit(api), submit(api)
    old = age(old, 30)
    source = old.source_key

    assert reconcile.purge_expired() == 0  # the output is kept 48 h
    assert reconcile.purge_old_uploads() == 1
    old.refresh_from_db(), young.refresh_from_db()
    assert old.status == JobStatus.SUCCEEDED and old.source_key == ""
    assert not storage.uploads().exists(source)
    assert storage.outputs().exists(old.output_key)
    assert api.get(f"/api/v1/download/{old.pk}").status_code == 200
    assert storage.uploads().exists(young.source_key)
    assert reconcile.purge_old_uploads() == 0


@pytest.mark.django_db(transaction=True)
def test_a_real_dramatiq_worker_retries_a_transient_failure(api):
    """Through Dramatiq's own Retries middleware: fail, back to queued, retried, succeeded."""
    import os

    data = image_bytes(size=(64, 48))
    job = submit(api, data=data)  # autocommit: on_commit sent the message already
    assert queued_messages() == 1
    break_upload(job)
    worker = dramatiq.Worker(dramatiq.get_broker(), worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        assert wait_until(lambda: "retry" in kinds(job)), kinds(job)
        job.refresh_from_db()
        assert job.status == JobStatus.QUEUED and job.attempts == 1
        path = storage.uploads().path(job.source_key)
        os.rmdir(path)
        with open(path, "wb") as fh:
            fh.write(data)
        assert wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED), kinds(job)
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.attempts == 2
    assert kinds(job) == ["created", "started", "retry", "started", "succeeded"]
    assert output_files(job) == ["result.webp"]


@pytest.mark.django_db
def test_a_filter_job_storage_failure_names_no_server_path(api, settings):
    """The convert path kept server paths out of storage errors; the filter path drifted (issue 11)."""
    settings.JOB_MAX_ATTEMPTS = 1
    resp = api.post(
        "/api/v1/filter",
        {"file": upload("photo.png", image_bytes("PNG")), "operations": '[{"op": "grayscale"}]', "targetFormat": "png"},
        format="multipart",
    )
    assert resp.status_code == 202, resp.content
    job = Job.objects.get(pk=resp.json()["jobId"])
    break_upload(job)
    assert services.job_execute(str(job.pk)) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "transient_error"
    assert "could not be read from storage" in job.error_message
    assert "/" not in job.error_message

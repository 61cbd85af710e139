"""The scheduler's tasks (purge, requeue) and its one-at-a-time Redis lock."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import dramatiq
import pytest
from django.core.management import call_command
from django.utils import timezone

from conversions.jobs import maintenance
from conversions.files import storage
from conversions.models import Job, JobStatus
from tests import services
from tests.builders import image_bytes, upload
from tests.throwaway import ThrowawayRedis

ROOT = Path(__file__).resolve().parents[3]


def submit(api):
    resp = api.post("/api/v1/convert", {"file": upload("a.png", image_bytes()), "targetFormat": "webp"})
    assert resp.status_code == 202, resp.content
    return Job.objects.get(pk=resp.json()["jobId"])


def age(job, hours=0, **fields):
    then = timezone.now() - timedelta(hours=hours)
    Job.objects.filter(pk=job.pk).update(created_at=then, **fields)
    job.refresh_from_db()
    return job


def queued_messages():
    broker = dramatiq.get_broker()
    return sum(q.qsize() for q in broker.queues.values())


@pytest.mark.django_db
def test_purge_expires_old_outputs_and_drops_old_uploads_once(api, run_jobs):
    with run_jobs():
        old, mid, fresh = submit(api), submit(api), submit(api)
    old = age(old, 50, expires_at=timezone.now() - timedelta(hours=2))
    mid = age(mid, 30)
    fresh.refresh_from_db()
    for job in (old, mid, fresh):
        assert job.status == JobStatus.SUCCEEDED

    result = maintenance.purge_expired()
    assert result == {"expired": 1, "uploads": 1}
    old.refresh_from_db(), mid.refresh_from_db(), fresh.refresh_from_db()
    assert old.status == JobStatus.EXPIRED and old.files_purged_at is not None
    assert not storage.outputs().exists(old.output_key)
    # 30 h old: the upload is gone (24 h), the output stays (48 h).
    assert mid.status == JobStatus.SUCCEEDED and mid.source_key == ""
    assert storage.outputs().exists(mid.output_key)
    assert not storage.uploads().exists(f"uploads/{mid.pk}/source.png")
    assert storage.uploads().exists(fresh.source_key)
    assert api.get(f"/api/v1/download/{old.pk}").status_code == 410

    # Idempotent: a second run finds nothing.
    assert maintenance.purge_expired() == {"expired": 0, "uploads": 0}


@pytest.mark.django_db
def test_requeue_resends_lost_queued_jobs_and_reclaims_dead_leases(api, settings):
    settings.REQUEUE_AFTER_SECONDS = 60
    lost, waiting, running = submit(api), submit(api), submit(api)
    dramatiq.get_broker().flush_all()  # the broker lost every message
    long_ago = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=lost.pk).update(updated_at=long_ago)
    Job.objects.filter(pk=running.pk).update(status=JobStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=1))

    assert maintenance.requeue_stuck() == 2
    assert queued_messages() == 2
    # The touched rows wait their turn again: a second pass sends nothing.
    assert maintenance.requeue_stuck() == 0
    waiting.refresh_from_db()
    assert waiting.status == JobStatus.QUEUED


@pytest.mark.django_db
def test_a_backlog_whose_messages_still_wait_is_not_resent(api, settings, django_capture_on_commit_callbacks):
    settings.REQUEUE_AFTER_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        jobs = [submit(api) for _ in range(3)]  # three messages waiting in the media queue
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert maintenance.requeue_stuck() == 0
    assert queued_messages() == 3

    # One message lost (two still wait): only the oldest stale job is re-sent.
    broker = dramatiq.get_broker()
    broker.queues["media"].get_nowait()
    assert maintenance.requeue_stuck() == 1
    assert queued_messages() == 3


@pytest.mark.django_db
def test_manual_commands_print_their_counts(capsys):
    call_command("purge_expired")
    call_command("requeue_stuck")
    out = capsys.readouterr().out
    assert "expired 0 job(s)" in out and "requeued 0 job(s)" in out


def _database_url():
    from django.db import connection

    d = connection.settings_dict
    return f"postgres://{d['USER']}@{d['HOST']}:{d['PORT']}/{d['NAME']}"


def _scheduler(redis_url, log):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "convertall.settings",
        "REDIS_URL": redis_url,
        "EMBEDDED_WORKERS": "0",
        "RECONCILE_INTERVAL_SECONDS": "1",
        "SCHEDULER_LOCK_TIMEOUT": "3",
        "SCHEDULER_LOCK_REFRESH": "1",
        "LOG_FORMAT": "plain",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "scheduler"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _wait_for(path, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_one_scheduler_runs_the_other_waits_and_takes_over(tmp_path):
    services.require(ThrowawayRedis.available(), "redis-server is not installed")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with ThrowawayRedis() as redis_server:
        procs = []
        try:
            for log in logs:
                procs.append(_scheduler(redis_server.url, open(log, "w")))
                assert _wait_for(log, "scheduler lock", 30) or _wait_for(log, "standby", 15), log.read_text()
            leader, standby = (0, 1) if "lock acquired" in logs[0].read_text() else (1, 0)
            assert "task=requeue_stuck" in logs[leader].read_text() or _wait_for(logs[leader], "task=requeue_stuck", 10)
            assert "standby" in logs[standby].read_text() or _wait_for(logs[standby], "standby", 10)
            assert "task=requeue_stuck" not in logs[standby].read_text()

            # The leader dies without releasing the lock: the standby leads once its TTL runs out.
            t0 = time.monotonic()
            procs[leader].send_signal(signal.SIGKILL)
            assert _wait_for(logs[standby], "task=requeue_stuck", 20), logs[standby].read_text()
            print(f"standby took over in {time.monotonic() - t0:.1f}s")

            # Redis restarts empty: the lock key is gone; the scheduler carries on.
            redis_server.restart()
            size = len(logs[standby].read_text())
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "task=requeue_stuck" not in logs[standby].read_text()[size:]:
                time.sleep(0.2)
            assert "task=requeue_stuck" in logs[standby].read_text()[size:], logs[standby].read_text()[-3000:]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(15)
    assert procs[standby].returncode == 0


def test_each_queue_has_its_own_time_limit(settings):
    from conversions import tasks

    for queue, seconds in settings.QUEUE_TIME_LIMITS.items():
        assert tasks.actor_for(queue).options["time_limit"] == seconds * 1000
    assert settings.QUEUE_TIME_LIMITS["documents"] < settings.QUEUE_TIME_LIMITS["media"]


@pytest.mark.django_db
def test_a_worker_presumed_dead_cannot_finish_a_job_it_lost(api, run_jobs):
    from conversions.jobs import services

    job = submit(api)
    dramatiq.get_broker().flush_all()
    stale = services.job_claim(job.pk)  # attempt 1, then its worker stalls past the lease
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert maintenance.requeue_stuck() == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED

    # The stalled worker wakes up and reports success: its attempt no longer matches.
    stale.output_key, stale.output_filename, stale.output_content_type, stale.output_size = "x", "x", "x", 1
    assert services._succeed(stale, 0.1, 0.1) is None
    with run_jobs():
        pass  # runs the re-sent message: attempt 2
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert job.events.filter(kind="succeeded").count() == 1

"""The heartbeat of a running job on a shared status cache (Redis): progress and cancel without the database."""

import time

import pytest

from conversions.errors import Canceled
from conversions.jobs import heartbeat, services
from conversions.jobs.heartbeat import Heartbeat
from conversions.models import Job, JobStatus
from tests.conversions.jobs.test_job_cost import counting
from tests.conversions.jobs.test_jobs import submit


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}


@pytest.mark.django_db(transaction=True)
def test_a_beat_within_the_lease_writes_progress_to_the_cache_only(api, redis_cache, monkeypatch):
    job = services.job_claim(submit(api).pk)
    beat = Heartbeat(job.pk)
    with counting(monkeypatch) as tx:
        beat.beat(40)
        beat.beat(40)
    assert tx.count == 0, tx.report()
    status = api.get(f"/api/v1/status/{job.pk}").json()
    assert status["status"] == "running" and status["progress"] == 40
    assert Job.objects.get(pk=job.pk).progress == 0  # the row is written at the next renewal


@pytest.mark.django_db(transaction=True)
def test_a_cancel_reaches_the_beat_through_the_cache(api, redis_cache):
    job = services.job_claim(submit(api).pk)
    beat = Heartbeat(job.pk)
    beat.beat(10)
    assert api.delete(f"/api/v1/jobs/{job.pk}").status_code == 200
    with pytest.raises(Canceled):
        beat.beat(20)


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_when_due_in_one_commit(api, redis_cache, settings, monkeypatch):
    job = services.job_claim(submit(api).pk)
    heartbeat._renewed[str(job.pk)] = time.monotonic() - settings.JOB_LEASE_SECONDS / 4
    with counting(monkeypatch) as tx:
        Heartbeat(job.pk).beat(55)
    assert tx.count == 1, tx.report()  # UPDATE lease and progress, re-read for the status cache
    row = Job.objects.get(pk=job.pk)
    assert row.progress == 55 and row.lease_until > job.lease_until
    assert api.get(f"/api/v1/status/{job.pk}").json()["progress"] == 55


@pytest.mark.django_db(transaction=True)
def test_a_missing_cached_status_falls_back_to_the_database(api, redis_cache, monkeypatch):
    from conversions.jobs import status_cache

    job = services.job_claim(submit(api).pk)
    status_cache.cache_delete(job.pk)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELED)
    with pytest.raises(Canceled):
        Heartbeat(job.pk).beat(5)

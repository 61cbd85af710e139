"""Progress and cancel on a real worker thread running real ffmpeg.

These tests commit for real (transaction=True): the worker thread has its own
database connection and must see the job row the API created.
"""

import json
import os
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from conversions.files import storage
from conversions.models import Job, JobStatus
from conversions.jobs.services import job_execute
from tests.builders import upload
from tests.media.media_builders import ffmpeg_processes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, params=["memory", "redis"])
def status_cache_kind(request, settings):
    """Process memory: every beat writes the row. Redis (shared): progress and cancel go through the cache."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    return request.param


class Worker(threading.Thread):
    """What a Dramatiq worker thread does with a job id: job_execute, then close its connection."""

    def __init__(self, job_id):
        super().__init__(daemon=True)
        self.job_id = job_id
        self.error = None

    def run(self):
        try:
            job_execute(self.job_id)
        except BaseException as exc:  # surfaced by the test
            self.error = exc
        finally:
            connection.close()


def submit(api, path, target):
    # The fast VP9 preset: these tests time progress and cancel, not the default's quality.
    resp = api.post("/api/v1/convert", {"file": upload(path.name, path.read_bytes()), "targetFormat": target,
                                        "options": json.dumps({"preset": "faster"})}, format="multipart")
    assert resp.status_code == 202, resp.content
    return resp.json()["jobId"]


def wait_for(predicate, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def test_progress_rises_while_ffmpeg_runs(api, long_clip):
    job_id = submit(api, long_clip, "webm")
    worker = Worker(job_id)
    worker.start()
    seen = []  # (seconds, progress) each time the status endpoint shows a new value
    started = time.monotonic()
    while worker.is_alive() and time.monotonic() - started < 120:
        status = api.get(f"/api/v1/status/{job_id}").json()
        if status["status"] == "running" and (not seen or status["progress"] != seen[-1][1]):
            seen.append((time.monotonic() - started, status["progress"]))
        time.sleep(0.1)
    worker.join(5)
    assert worker.error is None
    assert api.get(f"/api/v1/status/{job_id}").json()["status"] == "succeeded"
    values = [p for _, p in seen]
    assert values == sorted(values), values
    assert len([p for p in values if 0 < p < 100]) >= 3, seen
    running = [t for t, p in seen if p > 1]
    gaps = [b - a for a, b in zip(running, running[1:])]
    assert max(gaps, default=0) <= 2.0, seen


def test_cancel_stops_ffmpeg_within_two_seconds_and_leaves_nothing(api, long_clip):
    job_id = submit(api, long_clip, "webm")
    marker = f"job-{job_id}-"
    worker = Worker(job_id)
    worker.start()
    assert wait_for(lambda: api.get(f"/api/v1/status/{job_id}").json()["progress"] >= 5, 60), "ffmpeg never got going"
    pids = ffmpeg_processes(marker)
    assert len(pids) == 1, pids

    resp = api.delete(f"/api/v1/jobs/{job_id}")
    canceled_at = time.monotonic()
    assert resp.status_code == 200 and resp.json()["status"] == "canceled"
    assert wait_for(lambda: not Path(f"/proc/{pids[0]}").exists(), 2.0), "ffmpeg still running 2 s after cancel"
    assert time.monotonic() - canceled_at < 2.0
    worker.join(10)
    assert not worker.is_alive() and worker.error is None

    job = Job.objects.get(pk=job_id)
    assert job.status == JobStatus.CANCELED
    assert [e.kind for e in job.events.all()][-2:] == ["canceled", "purged"] or "canceled" in [
        e.kind for e in job.events.all()
    ]
    assert not job.output_key or not storage.outputs().exists(job.output_key)
    assert not storage.outputs().exists(f"outputs/{job_id}/result.webm")
    assert not [p for p in os.listdir(settings.WORK_DIR) if p.startswith(marker)], "work dir left behind"
    assert ffmpeg_processes(marker) == []

"""The result cache (same bytes + target + operations) and `?wait=N` answers."""

import time

import dramatiq
import pytest

from conversions.files import storage
from conversions.models import Job, JobStatus

OPS = [{"op": "resize", "width": 320}, {"op": "grayscale"}]


def download(api, job_id):
    resp = api.get(f"/api/v1/download/{job_id}")
    assert resp.status_code == 200, resp.content
    return b"".join(resp.streaming_content)


def queued_messages():
    broker = dramatiq.get_broker()
    return sum(q.qsize() for q in broker.queues.values())


def first_run(submit, ops=OPS, target="png", **kw):
    with submit.run_jobs():
        resp = submit.post("photo.jpg", ops, target, **kw)
    job_id = resp.json()["jobId"]
    assert Job.objects.get(pk=job_id).status == JobStatus.SUCCEEDED
    return job_id


@pytest.mark.django_db
class TestResultCache:
    def test_a_hit_succeeds_at_once_with_the_same_bytes_and_no_worker(self, submit, api, django_capture_on_commit_callbacks):
        original = first_run(submit)
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            resp = submit.post("photo.jpg", OPS, "png")
        assert time.monotonic() - started < 2
        assert callbacks == []  # nothing was enqueued
        assert resp.status_code == 202
        body = resp.json()
        assert body["status"] == "succeeded" and body["cached"] is True
        assert queued_messages() == 0
        job = Job.objects.get(pk=body["jobId"])
        assert job.cached and job.attempts == 0 and job.progress == 100 and job.pk != original
        assert job.output_key == f"outputs/{job.pk}/result.png"  # its own object
        status = api.get(body["statusUrl"]).json()
        assert status["cached"] is True and status["result"]["size"] == job.output_size
        assert download(api, job.pk) == download(api, original)
        assert [e.kind for e in job.events.all()] == ["created", "succeeded"]

    def test_a_hit_with_wait_answers_200_with_the_result(self, submit):
        first_run(submit)
        resp = submit.post("photo.jpg", OPS, "png", query="?wait=10")
        assert resp.status_code == 200
        body = resp.json()
        assert body["status"] == "succeeded" and body["cached"] is True
        assert body["result"]["downloadUrl"].endswith(f"/api/v1/download/{body['jobId']}")

    def test_cache_false_runs_the_job_again(self, submit):
        first_run(submit)
        resp = submit.post("photo.jpg", OPS, "png", query="?cache=false")
        assert resp.json()["status"] == "queued" and "cached" not in resp.json()
        resp = submit.post("photo.jpg", OPS, "png", cache="false")  # as a form field too
        assert resp.json()["status"] == "queued"
        assert Job.objects.filter(cached=False).count() == 3 and not Job.objects.filter(cached=True).exists()

    @pytest.mark.parametrize(
        "ops, target",
        [([{"op": "resize", "width": 321}, {"op": "grayscale"}], "png"), (OPS, "webp"), (OPS[:1], "png")],
    )
    def test_other_operations_or_target_miss(self, submit, ops, target):
        first_run(submit)
        assert submit.post("photo.jpg", ops, target).json()["status"] == "queued"

    def test_another_client_does_not_hit(self, submit):
        first_run(submit)
        resp = submit.post("photo.jpg", OPS, "png", REMOTE_ADDR="10.9.8.7")
        assert resp.json()["status"] == "queued"

    def test_a_purged_output_is_never_served(self, submit, api):
        original = first_run(submit)
        assert api.delete(f"/api/v1/jobs/{original}").status_code == 200
        assert submit.post("photo.jpg", OPS, "png").json()["status"] == "queued"

    def test_an_output_missing_from_storage_is_never_served(self, submit):
        original = first_run(submit)
        storage.outputs().delete(Job.objects.get(pk=original).output_key)
        assert submit.post("photo.jpg", OPS, "png").json()["status"] == "queued"

    def test_an_expired_output_is_never_served(self, submit):
        original = first_run(submit)
        Job.objects.filter(pk=original).update(expires_at=Job.objects.get(pk=original).finished_at)
        assert submit.post("photo.jpg", OPS, "png").json()["status"] == "queued"

    def test_each_copy_keeps_its_own_retention(self, submit, api):
        original = first_run(submit)
        cached = submit.post("photo.jpg", OPS, "png").json()["jobId"]
        expected = download(api, original)
        api.delete(f"/api/v1/jobs/{cached}")
        assert download(api, original) == expected
        again = submit.post("photo.jpg", OPS, "png").json()["jobId"]
        api.delete(f"/api/v1/jobs/{original}")
        assert download(api, again) == expected

    def test_convert_jobs_are_cached_too(self, submit, api):
        with submit.run_jobs():
            first = submit.post("photo.png", None, "webp", path="/api/v1/convert").json()["jobId"]
        resp = submit.post("photo.png", None, "webp", path="/api/v1/convert")
        assert resp.json()["status"] == "succeeded" and resp.json()["cached"] is True
        assert download(api, resp.json()["jobId"]) == download(api, first)
        assert submit.post("photo.png", None, "webp", path="/api/v1/convert", options='{"quality": 40}').json()["status"] == "queued"


@pytest.fixture
def live_worker(transactional_db):
    """Worker threads on the stub broker, as in the embedded default: the request thread only waits."""
    import conversions.tasks  # noqa: F401

    worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()


def wait_until_finished(job_id, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_wait_returns_200_with_the_finished_job(live_worker, submit):
    started = time.monotonic()
    resp = submit.post("photo.jpg", OPS, "png", query="?wait=30")
    assert resp.status_code == 200, resp.json()
    assert time.monotonic() - started < 30
    body = resp.json()
    assert body["status"] == "succeeded" and body["progress"] == 100 and body["cached"] is False
    assert body["result"]["contentType"] == "image/png" and body["result"]["downloadUrl"].startswith("http")
    assert body["kind"] == "filter"


def test_wait_on_convert_with_operations(live_worker, submit):
    resp = submit.post("photo.png", [{"op": "rotate", "degrees": 90}], "jpg", path="/api/v1/convert", query="?wait=30")
    assert resp.status_code == 200
    assert resp.json()["status"] == "succeeded" and resp.json()["kind"] == "convert"


def test_wait_returns_202_when_the_job_is_slower(live_worker, submit):
    slow = [{"op": "resize", "width": 1920, "height": 1080, "fit": "fill", "upscale": True},
            {"op": "speed", "factor": 0.5}, {"op": "compress", "crf": 12}]
    started = time.monotonic()
    resp = submit.post("clip.mp4", slow, query="?wait=1")
    waited = time.monotonic() - started
    assert resp.status_code == 202, resp.json()
    assert set(resp.json()) == {"jobId", "status", "statusUrl", "downloadUrl"}
    assert 0.9 <= waited < 5
    job = wait_until_finished(resp.json()["jobId"])
    assert job.status == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_a_hit_on_s3_is_a_server_side_copy_with_its_own_key(submit, s3_storages):
    client, bucket = s3_storages
    original = first_run(submit)
    body = submit.post("photo.jpg", OPS, "png").json()
    assert body["status"] == "succeeded" and body["cached"] is True
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    first, second = (Job.objects.get(pk=pk).output_key for pk in (original, body["jobId"]))
    assert first != second and {first, second} <= keys
    get = lambda key: client.get_object(Bucket=bucket, Key=key)["Body"].read()  # noqa: E731
    assert get(first) == get(second)
    assert submit.api.get(f"/api/v1/download/{body['jobId']}").status_code == 302
    client.delete_object(Bucket=bucket, Key=first)  # gone from storage: never served again
    client.delete_object(Bucket=bucket, Key=second)
    assert submit.post("photo.jpg", OPS, "png").json()["status"] == "queued"


def test_a_waiter_is_woken_by_the_worker_that_ends_the_job(live_worker, submit, monkeypatch):
    """In one process (the embedded default) the worker wakes `?wait` itself: no poll interval in between."""
    from conversions.jobs import waiting

    monkeypatch.setattr(waiting, "DB_POLL_FIRST_SECONDS", 600)  # the row is read once, then only when woken
    monkeypatch.setattr(waiting, "CACHE_POLL_SECONDS", 600)
    woken = []
    job_ended = waiting.job_ended
    monkeypatch.setattr(waiting, "job_ended", lambda job_id: (woken.append(str(job_id)), job_ended(job_id)))
    resp = submit.post("photo.jpg", OPS, "png", query="?wait=30")
    assert resp.status_code == 200 and resp.json()["status"] == "succeeded"
    assert woken == [resp.json()["jobId"]]
    assert not waiting._waiters  # nothing left behind

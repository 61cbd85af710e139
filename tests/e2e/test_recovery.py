"""Proofs that no job is lost: real worker processes, PostgreSQL, Redis and S3.

One production-shaped stack (scripts/stack.py) runs on servers of its own
that these tests may break: a throwaway PostgreSQL and a throwaway Redis
(nothing persisted), and the S3 server behind a TCP proxy that can be cut.
Timings are short on purpose (see RECOVERY_ENV): a dead worker's job is
reclaimed once its JOB_LEASE_SECONDS lease runs out, by the scheduler that
looks every RECONCILE_INTERVAL_SECONDS; Dramatiq also hands the dead
worker's unacked message to another worker after DRAMATIQ_HEARTBEAT_TIMEOUT_MS
(the claim makes that second delivery a no-op). Each test prints what it
measured.
"""

import io
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import psycopg
import pytest
import redis
import requests
from PIL import Image

from tests import services
from tests.builders import image_bytes, wait_until
from tests.e2e.tcpproxy import TcpProxy
from tests.throwaway import ThrowawayPostgres, ThrowawayRedis

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(300)]

LEASE, RECONCILE, REQUEUE_AFTER = 3, 1, 4
SLOW_JOB_SECONDS = 12  # the job killed mid-conversion
RECOVERY_ENV = {
    "EXTRA_CONVERTER_MODULES": "tests.e2e.slow_converter",
    "JOB_LEASE_SECONDS": str(LEASE),
    "RECONCILE_INTERVAL_SECONDS": str(RECONCILE),
    "REQUEUE_AFTER_SECONDS": str(REQUEUE_AFTER),
    "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "3000",
    "SCHEDULER_LOCK_TIMEOUT": "3",
    "SCHEDULER_LOCK_REFRESH": "1",
    "WORKER_HEARTBEAT_SECONDS": "1",
    "DATABASE_CONNECT_TIMEOUT": "2",
    "RATE_LIMIT": "150/min",
    "QUEUE_MAX_DEPTH": "100",
    "QUOTA_ANONYMOUS_CONCURRENT_JOBS": "0",
    "QUOTA_ANONYMOUS_JOBS_PER_DAY": "0",
    "TRUSTED_PROXIES": "127.0.0.1/32",
    "LOG_FORMAT": "json",
}
TINY_DISK_BYTES = 8 * 1024 * 1024


class Recovery:
    """The stack plus handles on the servers a test may break."""

    def __init__(self, stack, pg, redis_server, proxy, s3_endpoint):
        self.stack, self.pg, self.redis, self.proxy, self.s3_endpoint = stack, pg, redis_server, proxy, s3_endpoint
        self.http = requests.Session()

    def submit(self, data=None, target="bmp", seconds=0.0, ip=None, timeout=30):
        data = image_bytes("PNG", size=(32, 24)) if data is None else data
        fields = {"targetFormat": target, "cache": "false"}  # a real conversion every time, no result reuse
        if target == "bmp":
            fields["options"] = f'{{"seconds": {seconds}}}'
        headers = {"X-Forwarded-For": ip} if ip else {}
        return requests.post(
            self.stack.url + "/api/v1/convert",
            files={"file": ("a.png", data, "image/png")},
            data=fields,
            headers=headers,
            timeout=timeout,
        )

    def accepted(self, **kw):
        resp = self.submit(**kw)
        assert resp.status_code == 202, resp.text
        return resp.json()["jobId"]

    def sql(self, query, *params):
        with psycopg.connect(self.pg.url, connect_timeout=3) as conn:
            return conn.execute(query, params).fetchall()

    def job(self, job_id):
        rows = self.sql("SELECT status, attempts, error_code, error_message FROM jobs WHERE id = %s", job_id)
        return dict(zip(("status", "attempts", "error_code", "error_message"), rows[0], strict=True))

    def events(self, job_id):
        return [k for (k,) in self.sql("SELECT kind FROM conversions WHERE job_id = %s ORDER BY at, id", job_id)]

    def wait(self, job_ids, want=("succeeded", "failed"), timeout=60, poll=0.1):
        job_ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        deadline = time.monotonic() + timeout
        while True:
            rows = dict(self.sql("SELECT id::text, status FROM jobs WHERE id::text = ANY(%s)", job_ids))
            if all(rows.get(j) in want for j in job_ids):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs not {want} in {timeout}s: {Counter(rows.values())}\n{self.logs()}")
            time.sleep(poll)

    def s3_keys(self, prefix):
        client = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1", **services._creds())
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.stack.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def live_workers(self, queue):
        client = redis.Redis.from_url(self.redis.url)
        try:
            stamps = client.zrangebyscore(f"convertall:workers:{queue}", time.time() - 3, "+inf")
            return len(stamps)
        finally:
            client.close()

    def wait_workers(self, queue, count, timeout=60):
        deadline = time.monotonic() + timeout
        while self.live_workers(queue) < count:
            assert time.monotonic() < deadline, f"{count} {queue} worker(s) not up in {timeout}s\n{self.logs()}"
            time.sleep(0.2)

    def media_workers(self):
        return [p for p in self.stack.processes if p.name.startswith("worker-media") and p.alive]

    def logs(self, lines=15):
        return "\n".join(f"--- {p.name}\n{p.tail(lines)}" for p in self.stack.processes)


def _mount_tiny_disk():
    """A tmpfs of TINY_DISK_BYTES for one worker's WORK_DIR, or None when mounting is not allowed."""
    if os.environ.get("TEST_TINY_DISK") == "rlimit":  # exercise the fallback where mounting works too
        return None
    path = Path(tempfile.mkdtemp(prefix="convertall-tinydisk-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TINY_DISK_BYTES}", "tmpfs", str(path)], capture_output=True
    )
    return path if done.returncode == 0 else None


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    pg = ThrowawayPostgres()
    services.require(pg.available(), "PostgreSQL binaries are not installed (apt-get install postgresql)")
    services.require(ThrowawayRedis.available(), "redis-server is not installed")
    s3 = services.s3_endpoint()
    services.require(s3, "moto_server could not be started")
    from scripts.stack import Stack

    parts = urlsplit(s3)
    with pg, ThrowawayRedis() as redis_server, TcpProxy(parts.hostname, parts.port) as proxy:
        stack = Stack(
            log_dir=tmp_path_factory.mktemp("recovery-logs"),
            database_url=pg.url,
            redis_url=redis_server.url,
            scheduler=True,
            web_workers=2,
            threads={"media": 1},
            worker_timeout_ms=50,
            extra_env={**RECOVERY_ENV, "S3_ENDPOINT_URL": proxy.url},
        )
        try:
            stack.start()
        except RuntimeError as exc:
            stack.stop()
            pytest.fail(f"the stack did not start: {exc}", pytrace=False)
        try:
            yield Recovery(stack, pg, redis_server, proxy, s3)
        finally:
            stack.stop()


def test_health_and_metrics_see_every_worker_and_the_scheduler(rec):
    deadline = time.monotonic() + 30
    while not (health := requests.get(rec.stack.url + "/api/v1/health", timeout=10).json())["checks"]["workers"].get(
        "scheduler"
    ):
        assert time.monotonic() < deadline, health
        time.sleep(0.3)
    assert health["status"] == "healthy", health
    assert all(q["workers"] >= 1 for q in health["checks"]["workers"]["queues"].values()), health
    text = requests.get(rec.stack.url + "/metrics", timeout=10).text
    assert "convertall_scheduler_up 1.0" in text
    for queue in ("documents", "media", "filters"):
        assert f'convertall_workers_alive{{queue="{queue}"}} 1.0' in text


def test_a_worker_killed_mid_conversion_is_replaced_and_the_job_succeeds_once(rec):
    # Long enough that a replacement worker can start on a loaded machine before the first one finishes.
    job_id = rec.accepted(seconds=SLOW_JOB_SECONDS)
    rec.wait(job_id, want=("running",), timeout=30, poll=0.05)
    first = rec.media_workers()[0]
    second = rec.stack.start_worker("media", name="worker-media-2")
    rec.wait_workers("media", 2)

    t0 = time.monotonic()
    first.signal_group(signal.SIGKILL)
    first.proc.wait(10)
    rec.wait(job_id, timeout=60)
    recovered = time.monotonic() - t0

    job = rec.job(job_id)
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2
    assert rec.events(job_id).count("succeeded") == 1
    assert rec.s3_keys(f"outputs/{job_id}/") == [f"outputs/{job_id}/result.bmp"]
    # Lease + one reconcile pass + the 4 s conversion again, with slack for a loaded machine.
    # The worker's stdout is JSON lines carrying the job id and family (LOG_FORMAT=json).
    def logged():
        return [json.loads(x) for x in second.log_path.read_text().splitlines() if x.startswith("{") and x.endswith("}")]

    # The worker's log may still sit in its buffer on a loaded machine.
    wait_until(lambda: any(x.get("job_id") == job_id and "tool" in x for x in logged()), timeout=10)
    lines = logged()
    assert any(x.get("job_id") == job_id and x.get("family") == "media" for x in lines), lines[-5:]
    converted = [x for x in lines if x.get("job_id") == job_id and "tool" in x]
    assert converted and converted[0]["seconds"] >= SLOW_JOB_SECONDS, lines[-5:]
    bound = LEASE + RECONCILE + SLOW_JOB_SECONDS + 12
    print(f"\nworker killed -> job succeeded on {second.name} in {recovered:.1f}s (bound {bound}s)")
    assert recovered < bound


def test_a_job_whose_worker_is_killed_on_every_attempt_fails_with_worker_lost(rec):
    """A file that kills its worker must not go round the fleet for ever: JOB_MAX_ATTEMPTS (3), then worker_lost."""
    job_id = rec.accepted(seconds=60)
    t0 = time.monotonic()
    for attempt in (1, 2, 3):
        deadline = time.monotonic() + 60
        while not ((job := rec.job(job_id))["status"] == "running" and job["attempts"] == attempt):
            assert time.monotonic() < deadline, (attempt, job, rec.logs())
            time.sleep(0.05)
        for proc in rec.media_workers():
            proc.signal_group(signal.SIGKILL)
            proc.proc.wait(10)
        rec.stack.start_worker("media", name=f"worker-media-attempt-{attempt}")
    rec.wait(job_id, want=("failed",), timeout=60)
    took = time.monotonic() - t0
    job = rec.job(job_id)
    assert job["error_code"] == "worker_lost" and job["attempts"] == 3, job
    assert "each of its 3 attempts" in job["error_message"]
    time.sleep(LEASE + RECONCILE + 1)  # neither the reconciler nor a re-delivered message runs it again
    assert rec.job(job_id)["attempts"] == 3 and rec.events(job_id).count("started") == 3
    assert rec.s3_keys(f"outputs/{job_id}/") == []
    status = requests.get(rec.stack.url + f"/api/v1/status/{job_id}", timeout=10).json()
    assert status["status"] == "failed" and status["error"]["code"] == "worker_lost", status
    print(f"\nworker killed -9 on each of 3 attempts -> failed/worker_lost {took:.1f}s after the first start")
    rec.wait_workers("media", 1)


def test_a_job_past_its_time_limit_in_a_real_worker_ends_failed_timeout(rec):
    """Dramatiq's time limit (an Interrupt, a BaseException) in a `rundramatiq` process ends the row."""
    from scripts.stack import PY

    for proc in rec.media_workers():
        proc.stop()
    env = {**rec.stack.env, "MEDIA_TIME_LIMIT_SECONDS": "3", "JOB_LEASE_SECONDS": "60"}  # no reclaim meanwhile
    argv = [PY, "manage.py", "rundramatiq", "--queues", "media", "--processes", "1", "--threads", "1", "--skip-logging"]
    limited = rec.stack.spawn("worker-media-timelimit", argv, env=env)
    try:
        rec.wait_workers("media", 1)
        resp = requests.post(
            rec.stack.url + "/api/v1/convert",
            files={"file": ("a.png", image_bytes("PNG", size=(32, 24)), "image/png")},
            data={"targetFormat": "bmp", "cache": "false", "options": '{"seconds": 60, "busy": true}'},
            timeout=30,
        )
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["jobId"]
        t0 = time.monotonic()
        rec.wait(job_id, want=("failed",), timeout=30)
        took = time.monotonic() - t0
        job = rec.job(job_id)
        assert job["error_code"] == "timeout" and "3-second time limit" in job["error_message"], job
        time.sleep(3)  # no Dramatiq retry runs it again
        assert rec.job(job_id)["attempts"] == 1 and rec.events(job_id).count("started") == 1
        assert limited.alive
        print(f"\nbusy job in a real worker: failed/timeout {took:.1f}s after submit (limit 3 s)")
        assert took < 15
    finally:
        limited.stop()
        rec.stack.start_worker("media")
        rec.wait_workers("media", 1)


def test_redis_restarted_empty_while_jobs_wait_every_job_still_succeeds(rec):
    ids = [rec.accepted(seconds=0.5) for _ in range(6)]
    rec.wait(ids[0], want=("running", "succeeded"), timeout=30, poll=0.05)
    t0 = time.monotonic()
    rec.redis.stop()
    try:
        # While Redis is down an upload is still accepted: the row is the truth, the message comes later.
        during = rec.submit()
    finally:
        rec.redis.start()
    assert during.status_code == 202, during.text
    ids.append(during.json()["jobId"])
    rows = rec.wait(ids, timeout=90)
    print(f"\nRedis restarted empty with {len(ids)} jobs waiting -> all finished {time.monotonic() - t0:.1f}s later")
    assert set(rows.values()) == {"succeeded"}, rows
    for job_id in ids:
        assert rec.events(job_id).count("succeeded") == 1
        assert len(rec.s3_keys(f"outputs/{job_id}/")) == 1
    rec.wait_workers("media", 1)


def _timed(fn):
    t0 = time.monotonic()
    resp = fn()
    return resp, time.monotonic() - t0


def test_postgres_down_10s_answers_503_fast_creates_nothing_and_work_resumes(rec):
    before = rec.sql("SELECT count(*) FROM jobs")[0][0]
    uploads_before = len(rec.s3_keys("uploads/"))
    known = rec.accepted()
    rec.wait(known)
    rec.pg.stop()
    answers = []
    try:
        stop_until = time.monotonic() + 10
        while time.monotonic() < stop_until:
            answers.append(("convert",) + _timed(lambda: rec.submit(timeout=15)))
            answers.append(("health",) + _timed(lambda: requests.get(rec.stack.url + "/api/v1/health", timeout=15)))
            unknown = f"{rec.stack.url}/api/v1/status/00000000-0000-4000-8000-000000000000"  # not in the cache
            answers.append(("status",) + _timed(lambda: requests.get(unknown, timeout=15)))
            time.sleep(0.3)
    finally:
        rec.pg.start()
    for kind, resp, seconds in answers:
        assert resp.status_code == 503, (kind, resp.status_code, resp.text[:500])
        assert seconds < 5, (kind, seconds)
        assert "Traceback" not in resp.text
    assert all(r.json()["error"]["code"] == "service_unavailable" for k, r, _ in answers if k == "convert")
    slowest = max(s for _, _, s in answers)
    print(f"\nPostgreSQL down 10s: {len(answers)} answers, all 503, slowest {slowest * 1000:.0f} ms")

    # Back: nothing half-created during the outage, and new work runs.
    deadline = time.monotonic() + 30
    while (resp := rec.submit()).status_code != 202:
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.5)
    job_id = resp.json()["jobId"]
    assert rec.wait(job_id, timeout=60)[job_id] == "succeeded"
    assert rec.sql("SELECT count(*) FROM jobs")[0][0] == before + 2
    assert len(rec.s3_keys("uploads/")) == uploads_before + 2


def test_s3_unreachable_during_upload_retries_and_succeeds(rec):
    job_id = rec.accepted(seconds=1.5)
    rec.wait(job_id, want=("running",), timeout=30, poll=0.05)
    rec.proxy.cut()
    try:
        deadline = time.monotonic() + 30
        while "retry" not in rec.events(job_id):
            assert time.monotonic() < deadline, rec.logs()
            time.sleep(0.1)
    finally:
        rec.proxy.restore()
    assert rec.wait(job_id, timeout=60)[job_id] == "succeeded", rec.job(job_id)
    assert rec.job(job_id)["attempts"] >= 2
    assert rec.s3_keys(f"outputs/{job_id}/") == [f"outputs/{job_id}/result.bmp"]
    download = requests.get(rec.stack.url + f"/api/v1/download/{job_id}", timeout=10)
    assert Image.open(io.BytesIO(download.content)).format == "BMP"
    print(f"\nS3 cut during the upload: succeeded after {rec.job(job_id)['attempts']} attempts")


def test_s3_unreachable_for_good_fails_clearly_with_no_output(rec):
    job_id = rec.accepted(seconds=1)
    rec.wait(job_id, want=("running",), timeout=30, poll=0.05)
    rec.proxy.cut()
    try:
        job = None
        rec.wait(job_id, want=("failed",), timeout=90)
        job = rec.job(job_id)
    finally:
        rec.proxy.restore()
    assert job["error_code"] == "storage_unavailable", job
    assert "could not be reached" in job["error_message"] and "3 attempts" in job["error_message"]
    assert rec.s3_keys(f"outputs/{job_id}/") == []
    resp = requests.get(rec.stack.url + f"/api/v1/download/{job_id}", timeout=10)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "job_failed"
    print(f"\nS3 down for good: failed with {job['error_code']}: {job['error_message']}")


def _noise_png(megabytes):
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def test_a_full_temporary_disk_fails_the_job_clearly_and_the_next_job_succeeds(rec):
    tiny = _mount_tiny_disk()
    from scripts.stack import PY

    argv = [PY, "manage.py", "rundramatiq", "--queues", "media", "--processes", "1", "--threads", "1", "--skip-logging"]
    env = dict(rec.stack.env)
    if tiny is not None:
        env["WORK_DIR"] = str(tiny)
        how = f"WORK_DIR on a {TINY_DISK_BYTES >> 20} MB tmpfs"
    else:  # no mount permission: a file-size limit makes writes fail the same way (EFBIG)
        argv = ["prlimit", f"--fsize={TINY_DISK_BYTES}", "--", *argv]
        how = f"RLIMIT_FSIZE {TINY_DISK_BYTES >> 20} MB"
    for proc in rec.media_workers():
        proc.stop()
    small_disk = rec.stack.spawn("worker-media-smalldisk", argv, env=env)
    try:
        rec.wait_workers("media", 1)
        big = rec.accepted(data=_noise_png(12))
        rec.wait(big, timeout=90)
        job = rec.job(big)
        assert job["status"] == "failed" and job["error_code"] == "disk_full", job
        assert "temporary disk space" in job["error_message"]
        small = rec.accepted()
        assert rec.wait(small, timeout=60)[small] == "succeeded"
        if tiny is not None:
            assert list(tiny.iterdir()) == []  # every job's temporary directory was removed
        print(f"\nfull disk ({how}): {job['error_code']}: {job['error_message']}; next job succeeded")
    finally:
        small_disk.stop()
        if tiny is not None:
            subprocess.run(["umount", str(tiny)], capture_output=True)
        rec.stack.start_worker("media")
        rec.wait_workers("media", 1)


def test_200_concurrent_uploads_answer_202_429_or_503_and_every_job_finishes(rec):
    client_ip = "203.0.113.77"
    data = image_bytes("PNG", size=(32, 24))
    start = threading.Barrier(200)
    results = [None] * 200

    def one(i):
        start.wait()
        try:
            resp = requests.post(
                rec.stack.url + "/api/v1/convert",
                files={"file": ("a.png", data, "image/png")},
                data={"targetFormat": "webp", "cache": "false"},
                headers={"X-Forwarded-For": client_ip},
                timeout=120,
            )
            results[i] = (resp.status_code, resp.json().get("jobId"))
        except requests.RequestException as exc:
            results[i] = (f"error: {exc}", None)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = time.monotonic() - t0
    codes = Counter(code for code, _ in results)
    assert set(codes) <= {202, 429, 503}, codes
    accepted = [job_id for code, job_id in results if code == 202]
    in_db = rec.sql("SELECT id::text FROM jobs WHERE client_ip = %s", client_ip)
    assert sorted(accepted) == sorted(j for (j,) in in_db)
    rows = rec.wait(accepted, timeout=180)
    assert set(rows.values()) == {"succeeded"}, Counter(rows.values())
    print(f"\n200 concurrent uploads answered in {answered:.1f}s: {dict(codes)}; {len(accepted)} jobs, all succeeded")


def test_the_embedded_default_runs_the_maintenance_tasks_itself(tmp_path):
    """`make run` has no scheduler process: the web process runs the same tasks on a thread."""
    from scripts.stack import Embedded

    with Embedded(log_dir=tmp_path, extra_env={"RECONCILE_INTERVAL_SECONDS": "1", "LOG_FORMAT": "plain"}):
        log = tmp_path / "web.log"
        deadline = time.monotonic() + 30
        while log.read_text().count("maintenance task=requeue_stuck") < 2:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        assert "maintenance task=purge_expired" in log.read_text()

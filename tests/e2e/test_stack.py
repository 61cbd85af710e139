"""The whole path through real processes: gunicorn, a Dramatiq worker on Redis,
PostgreSQL and the S3 server (moto on loopback). Nothing is patched."""

import io
import struct
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import dramatiq
import psycopg
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from PIL import Image

from tests import services
from tests.builders import image_bytes
from tests.e2e.conftest import wait_status

pytestmark = [pytest.mark.services, pytest.mark.slow]


def submit(http, stack, data, name="photo.png", target="webp", path="/api/convert"):
    resp = http.post(
        stack.url + path, files={"file": (name, data, "image/png")}, data={"targetFormat": target}, timeout=30
    )
    assert resp.status_code == 202, resp.text
    return resp.json()


def sql(stack, query, *params):
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(query, params).fetchall()


def s3_keys(stack, prefix):
    client = boto3.client("s3", endpoint_url=stack.s3_endpoint, region_name="us-east-1", **services._creds())
    return [o["Key"] for o in client.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])]


def wait_queue_drained(stack, queue, timeout=30):
    """Every message of `queue` acked (Dramatiq deletes a message's body on ack)."""
    client = redis.Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + timeout
    try:
        while client.hlen(f"dramatiq:{queue}.msgs") or client.llen(f"dramatiq:{queue}"):
            assert time.monotonic() < deadline, f"queue {queue} not drained in {timeout}s"
            time.sleep(0.05)
    finally:
        client.close()


def test_png_to_webp_through_the_stack_downloads_from_a_presigned_url(stack, http):
    accepted = submit(http, stack, image_bytes("PNG", size=(64, 48)))
    assert accepted["status"] == "queued"

    status = wait_status(http, accepted["statusUrl"])
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"] == "photo.webp"
    assert status["finishedAt"] >= status["startedAt"] >= status["createdAt"]

    download = http.get(accepted["downloadUrl"], allow_redirects=False, timeout=10)
    assert download.status_code == 302
    location = download.headers["Location"]
    assert location.startswith(f"{stack.s3_endpoint}/{stack.bucket}/outputs/{accepted['jobId']}/")
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Signature"]
    assert query["response-content-disposition"][0].startswith("attachment")
    assert "photo.webp" in query["response-content-disposition"][0]

    fetched = http.get(location, timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Disposition"].startswith("attachment")
    image = Image.open(io.BytesIO(fetched.content))
    assert (image.format, image.size) == ("WEBP", (64, 48))

    rows = sql(stack, "SELECT status, attempts, converter_seconds FROM jobs WHERE id = %s", accepted["jobId"])
    assert rows[0][:2] == ("succeeded", 1) and rows[0][2] > 0


def test_a_job_delivered_twice_succeeds_once_with_one_output(stack, http):
    accepted = submit(http, stack, image_bytes("PNG", size=(300, 200)))
    job_id = accepted["jobId"]
    # Two more deliveries of the same job id, straight onto Redis, racing the first.
    broker = RedisBroker(url=stack.redis_url)
    try:
        for _ in range(2):
            broker.enqueue(dramatiq.Message(queue_name="media", actor_name="run_media_job", args=(job_id,), kwargs={}, options={}))
    finally:
        broker.close()

    assert wait_status(http, accepted["statusUrl"])["status"] == "succeeded"
    wait_queue_drained(stack, "media")

    assert s3_keys(stack, f"outputs/{job_id}/") == [f"outputs/{job_id}/result.webp"]
    kinds = dict(sql(stack, "SELECT kind, count(*) FROM conversions WHERE job_id = %s GROUP BY kind", job_id))
    assert kinds["succeeded"] == 1
    assert kinds["started"] == 1
    assert sql(stack, "SELECT attempts FROM jobs WHERE id = %s", job_id) == [(1,)]


def png_claiming_size(width, height):
    """A small valid PNG whose header claims another size (a decompression bomb's shape)."""
    data = bytearray(image_bytes("PNG", size=(8, 8)))
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


def test_bad_input_fails_at_once_without_retries(stack, http):
    accepted = submit(http, stack, png_claiming_size(20_000, 20_000), name="huge.png")

    status = wait_status(http, accepted["statusUrl"])
    assert status["status"] == "failed"
    assert status["error"]["code"] == "image_too_large", status["error"]
    assert "megapixel" in status["error"]["message"]
    assert status["result"] is None
    assert sql(stack, "SELECT attempts FROM jobs WHERE id = %s", accepted["jobId"]) == [(1,)]
    assert http.get(accepted["downloadUrl"], allow_redirects=False, timeout=10).status_code == 409
    assert s3_keys(stack, f"outputs/{accepted['jobId']}/") == []


def test_health_reports_postgres_redis_s3_and_external_workers(stack, http):
    body = http.get(stack.url + "/api/v1/health", timeout=10).json()
    assert body["status"] == "healthy", body
    assert body["checks"]["broker"]["kind"] == "redis"
    assert body["checks"]["storage"]["backend"] == "s3"
    assert body["checks"]["workers"]["mode"] == "external"


def _tool_process(cmdline):
    """A worker's child that is no Dramatiq process: the warm LibreOffice, a decoder child, any boxed tool."""
    text = " ".join(cmdline)
    return (
        "lo_bridge.py" in text
        or "decoder_child.py" in text
        or bool(cmdline and (cmdline[0].startswith("/usr/lib/libreoffice/") or cmdline[0].endswith("bwrap")))
    )


def test_worker_processes_get_the_configured_idle_timeout(stack):
    """Dramatiq reads dramatiq_worker_timeout when it is imported, before Django's
    settings load; settings export it and `manage.py rundramatiq` execs dramatiq
    with that environment, so the worker processes must carry it."""
    services.require(Path("/proc/self/environ").exists(), "needs /proc to read a process's environment")
    import psutil

    for proc in stack.processes:
        if not proc.name.startswith("worker-"):
            continue
        leader = psutil.Process(proc.proc.pid)
        # Only the Dramatiq processes: a documents job may have started the warm
        # LibreOffice bridge and its soffice, and a media worker keeps a warm decoder child.
        workers = [p for p in [leader, *leader.children(recursive=True)] if not _tool_process(p.cmdline())]
        assert workers
        for p in workers:
            assert "dramatiq" in " ".join(p.cmdline())
            assert p.environ().get("dramatiq_worker_timeout") == str(stack.worker_timeout_ms), p.cmdline()

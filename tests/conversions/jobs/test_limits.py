"""Limits under load: full queue (503), per-IP throttle in Redis (429), concurrent jobs per client (429)."""

import pytest

from conversions.files import storage
from conversions.models import Job
from tests import services
from tests.builders import image_bytes, upload
from tests.throwaway import ThrowawayRedis

pytestmark = pytest.mark.django_db


def submit(api, **extra):
    data = {"file": upload("a.png", image_bytes()), "targetFormat": "webp"}
    return api.post("/api/v1/convert", data, format="multipart", **extra)


def stored_uploads():
    store = storage.uploads()
    try:
        dirs, _ = store.listdir("uploads")
    except FileNotFoundError:
        return 0
    return len(dirs)


def test_a_full_queue_answers_503_with_retry_after_and_stores_nothing(api, settings):
    settings.QUEUE_MAX_DEPTH = 2
    settings.QUEUE_FULL_RETRY_AFTER = 17
    before = stored_uploads()
    assert [submit(api).status_code for _ in range(2)] == [202, 202]
    resp = submit(api)
    assert resp.status_code == 503
    assert resp["Retry-After"] == "17"
    body = resp.json()["error"]
    assert body["code"] == "queue_full" and "media queue is full" in body["message"]
    assert Job.objects.count() == 2
    assert stored_uploads() == before + 2
    # 0 turns the check off.
    settings.QUEUE_MAX_DEPTH = 0
    assert submit(api).status_code == 202


def test_the_throttle_counts_in_redis_when_redis_is_configured(api, settings):
    services.require(ThrowawayRedis.available(), "redis-server is not installed")
    with ThrowawayRedis() as server:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}}
        settings.RATE_LIMIT = "3/min"
        codes = [submit(api, REMOTE_ADDR="198.51.100.7").status_code for _ in range(4)]
        other = submit(api, REMOTE_ADDR="198.51.100.8").status_code
        import redis

        keys = [k.decode() for k in redis.Redis.from_url(server.url).keys("*throttle_submit_*")]
    assert codes == [202, 202, 202, 429]
    assert other == 202  # per client IP
    assert any("throttle_submit_198.51.100.7_" in k for k in keys), keys


def test_concurrent_jobs_per_client_are_capped(api, settings):
    settings.QUOTAS = {**settings.QUOTAS, "anonymous": {**settings.QUOTAS["anonymous"], "concurrent_jobs": 2}}
    codes = [submit(api, REMOTE_ADDR="192.0.2.10").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert submit(api, REMOTE_ADDR="192.0.2.11").status_code == 202
    assert Job.objects.count() == 3

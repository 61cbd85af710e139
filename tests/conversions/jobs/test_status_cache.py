"""The cached status copy on a real Redis (the production cache) and on locmem."""

import time
import uuid

import pytest
import redis

from conversions.jobs import status_cache

pytestmark = pytest.mark.services


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    yield redis.Redis.from_url(redis_url)


def test_copy_round_trips_through_redis_as_json_with_a_ttl(redis_cache):
    job_id = uuid.uuid4()
    payload = {"jobId": str(job_id), "status": "running", "progress": 40, "result": None, "_owner": None}
    status_cache.remember(job_id, payload)
    try:
        assert status_cache.cached_status(job_id) == payload
        assert 0 < redis_cache.ttl(f"job-status:{job_id}") <= status_cache.TTL_SECONDS
    finally:
        status_cache.cache_delete(job_id)
    assert status_cache.cached_status(job_id) is None
    assert redis_cache.exists(f"job-status:{job_id}") == 0


def test_unreachable_redis_reads_as_a_miss_quickly(settings):
    from tests.services import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}}
    t0 = time.monotonic()
    assert status_cache.cached_status(uuid.uuid4()) is None
    status_cache.remember(uuid.uuid4(), {"status": "queued"})  # swallowed: the database stays the truth
    assert time.monotonic() - t0 < 3


def test_locmem_cache_is_used_without_redis(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    job_id = uuid.uuid4()
    status_cache.remember(job_id, {"status": "queued"})
    assert status_cache.cached_status(job_id) == {"status": "queued"}


def test_a_redis_outage_is_logged_not_swallowed(settings, caplog):
    """Nothing fails, the database answers, and the log says why (it once said nothing)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    status_cache._clients.clear()
    job_id = uuid.uuid4()
    with caplog.at_level("WARNING", logger="conversions.jobs.status_cache"):
        status_cache.remember(job_id, {"jobId": str(job_id)})
        assert status_cache.cached_status(job_id) is None
        status_cache.cache_delete(job_id)
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not store" in m for m in messages)
    assert any("could not read" in m for m in messages)
    assert any("could not drop" in m for m in messages)
    status_cache._clients.clear()

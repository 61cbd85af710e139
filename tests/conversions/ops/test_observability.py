"""Request ids, JSON logs, /metrics and worker heartbeats."""

import json
import logging
import re
import time
from types import SimpleNamespace

import pytest

from conversions.ops import heartbeat
from conversions.ops import logcontext
from conversions.ops import metrics
from conversions.models import Job
from tests import services
from tests.builders import image_bytes, upload
from tests.throwaway import ThrowawayRedis

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_store():
    metrics.store.cache_clear()
    yield
    metrics.store.cache_clear()


@pytest.fixture
def redis_store(settings):
    """Metrics and heartbeats on a throwaway Redis (the shared one stays untouched)."""
    services.require(ThrowawayRedis.available(), "redis-server is not installed")
    with ThrowawayRedis() as server:
        settings.REDIS_URL = server.url
        metrics.store.cache_clear()
        yield server


def submit(api, color=(200, 30, 30), **extra):
    data = {"file": upload("a.png", image_bytes(color=color)), "targetFormat": "webp"}
    return api.post("/api/v1/convert", data, **extra)


def sample(text, name, **labels):
    """The value of one sample in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_request_id_is_echoed_or_made():
    from django.test import Client

    client = Client()
    assert client.get("/health", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    made = client.get("/health")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    # A header that could forge log lines is replaced, not echoed.
    assert client.get("/health", HTTP_X_REQUEST_ID='x"\n{}')["X-Request-ID"] != 'x"\n{}'


def test_json_lines_carry_request_job_and_extra_fields():
    record = logging.LogRecord("conversions.jobs.services", logging.INFO, __file__, 1, "converted %s", ("x",), None)
    record.tool, record.seconds = "pillow", 0.25
    token = logcontext.request_id.set("req-1")
    tokens = logcontext.bind_job("job-9", "media")
    try:
        logcontext.ContextFilter().filter(record)
    finally:
        logcontext.unbind_job(tokens)
        logcontext.request_id.reset(token)
    line = json.loads(logcontext.JsonFormatter().format(record))
    assert line["message"] == "converted x" and line["level"] == "INFO"
    assert (line["request_id"], line["job_id"], line["family"]) == ("req-1", "job-9", "media")
    assert (line["tool"], line["seconds"]) == ("pillow", 0.25)
    assert line["ts"].endswith("Z")


def test_metrics_count_outcomes_and_report_state(api, run_jobs, django_capture_on_commit_callbacks):
    with run_jobs():
        assert submit(api).status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        submit(api, color=(1, 2, 3))  # a second one stays queued
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(api).status_code == 202  # the first again: answered from the result cache
    text = api.get("/metrics").content.decode()
    labels = {"family": "media", "source": "png", "target": "webp"}
    assert sample(text, "convertall_jobs_created_total", **labels) == 3
    assert sample(text, "convertall_jobs_succeeded_total", **labels) == 2
    assert sample(text, "convertall_conversion_seconds_count", family="media") == 1
    assert sample(text, "convertall_job_end_to_end_seconds_bucket", family="media", le="+Inf") == 1
    assert sample(text, "convertall_jobs_active", family="media", status="queued") == 1
    assert sample(text, "convertall_queue_depth", queue="media") == 1
    assert sample(text, "convertall_oldest_queued_job_age_seconds", family="media") >= 0
    stored = sum(j.source_size for j in Job.objects.exclude(source_key=""))
    assert sample(text, "convertall_storage_bytes", store="uploads") == stored
    assert sample(text, "convertall_storage_bytes", store="outputs") > 0
    assert sample(text, "convertall_metrics_scrape_errors") == 0


def test_metrics_need_an_allowed_address_or_the_token(api, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    ok = api.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret")
    assert ok.status_code == 200 and b"convertall_queue_depth" in ok.content


def test_metrics_through_a_proxy_need_the_token_whatever_the_addresses(api, settings):
    # Behind a load balancer in an allowed network, the peer is the balancer: forwarded calls need the token.
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "s3cret"
    assert api.get("/metrics", REMOTE_ADDR="10.0.1.5").status_code == 200  # Prometheus, direct
    assert api.get("/metrics", REMOTE_ADDR="10.0.1.5", HTTP_X_FORWARDED_FOR="10.0.9.9").status_code == 403
    assert api.get("/metrics", REMOTE_ADDR="10.0.1.5", HTTP_CF_CONNECTING_IP="10.0.9.9").status_code == 403
    forwarded = api.get(
        "/metrics", REMOTE_ADDR="10.0.1.5", HTTP_X_FORWARDED_FOR="1.2.3.4", HTTP_AUTHORIZATION="Bearer s3cret"
    )
    assert forwarded.status_code == 200


def test_counters_are_shared_through_redis(api, run_jobs, redis_store):
    with run_jobs():
        submit(api)
    # A second process sees the same counts: read through a fresh client.
    metrics.store.cache_clear()
    created = metrics.read_counter("jobs_created")
    assert list(created.values()) == [1.0]
    assert "convertall_jobs_succeeded_total" in api.get("/metrics").content.decode()


def test_heartbeats_mark_queues_live_and_expire(settings, redis_store, api):
    settings.WORKER_HEARTBEAT_SECONDS = 1
    worker = SimpleNamespace(consumer_whitelist={"media", "media.DQ"}, worker_threads=3, broker=None)
    beat = heartbeat._Beat(worker)
    beat.beat(metrics.store().client)
    live = heartbeat.live_workers()
    assert list(live) == ["media"] and live["media"][0]["threads"] == 3
    text = api.get("/metrics").content.decode()
    assert sample(text, "convertall_workers_alive", queue="media") == 1
    assert sample(text, "convertall_workers_alive", queue="documents") == 0
    time.sleep(3.2)  # three intervals without a beat: the key is gone
    assert heartbeat.live_workers() == {}


def test_health_reports_depth_and_live_workers_per_queue(settings, redis_store, api, monkeypatch):
    worker = SimpleNamespace(consumer_whitelist={"media"}, worker_threads=2, broker=None)
    heartbeat._Beat(worker).beat(metrics.store().client)
    # The stub broker stands in for Redis here: ask for live workers anyway.
    monkeypatch.setattr("convertall.broker.dramatiq.get_broker", lambda: SimpleNamespace(client=SimpleNamespace(ping=bool)))
    monkeypatch.setattr("convertall.broker.queue_depths", lambda: {"documents": 0, "media": 4, "filters": 0})
    resp = api.get("/api/v1/health")
    assert resp.status_code == 503
    workers = resp.json()["checks"]["workers"]
    assert workers["ok"] is False and "documents" in workers["error"]
    assert workers["queues"]["media"] == {"depth": 4, "workers": 1}
    assert workers["queues"]["documents"] == {"depth": 0, "workers": 0}
    assert workers["scheduler"] is False  # no scheduler holds the lock on this Redis


def test_a_histogram_observation_is_three_increments_and_reads_back_cumulative(monkeypatch):
    from conversions.ops import metrics

    memory = metrics.MemoryStore()
    fake_store = lambda: memory  # noqa: E731
    fake_store.cache_clear = lambda: None  # as the real, cached one has
    monkeypatch.setattr(metrics, "store", fake_store)
    labels = {"family": "media", "converter": "pillow"}
    for value in (0.07, 3.0, 5000.0):
        items = metrics._histogram("conversion_seconds", metrics.CONVERSION_BUCKETS, value, labels)
        assert len(items) <= 3  # sum, count, its one bucket (none past the last bound)
        memory.incr(items)
    (entry,) = metrics.read_histogram("conversion_seconds").values()
    assert entry["count"] == 3 and entry["sum"] == 5003.07
    buckets = entry["buckets"]
    assert (buckets[0.05], buckets[0.1], buckets[2.5], buckets[5.0], buckets[1800.0]) == (0, 1, 1, 2, 2)

"""Counters and histograms shared by every process, exposed at `/metrics`.

Web and worker processes run on different machines, so a per-process
prometheus_client counter would show only the share of the one web process
that answered the scrape. Outcomes are therefore counted where they happen
into Redis hashes (HINCRBYFLOAT, atomic across processes) and read back at
scrape time; the embedded default (one process, no Redis) keeps them in
memory. Gauges that describe the current state (queue depths, oldest queued
job, live workers, stored bytes) are computed at scrape time from Redis and
PostgreSQL. A counter that restarts with Redis is a counter reset, which
Prometheus' rate() handles.
"""

import json
import logging
import threading
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "convertall:metrics"
# Seconds: thumbnails take milliseconds, a long video takes many minutes.
CONVERSION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
END_TO_END_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class MemoryStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._data = {}

    def incr(self, items):
        with self._lock:
            for key, field, amount in items:
                bucket = self._data.setdefault(key, {})
                bucket[field] = bucket.get(field, 0.0) + amount

    def read(self, key):
        with self._lock:
            return dict(self._data.get(key, {}))


class RedisStore:
    def __init__(self, url):
        import redis

        # Short timeouts: a Redis outage must never slow a job or a request down.
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def incr(self, items):
        pipe = self.client.pipeline(transaction=False)
        for key, field, amount in items:
            pipe.hincrbyfloat(key, field, amount)
        pipe.execute()

    def read(self, key):
        return {k.decode(): float(v) for k, v in self.client.hgetall(key).items()}


@cache
def store():
    return RedisStore(settings.REDIS_URL) if settings.REDIS_URL else MemoryStore()


def _labels(**labels):
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


def _record(items):
    try:
        store().incr(items)
    except Exception as exc:  # metrics are best effort: never fail a job for them
        logger.warning("could not record metrics: %s", exc)


def _counter(name, labels, amount=1):
    return (f"{PREFIX}:c:{name}", _labels(**labels), amount)


def _histogram(name, buckets, value, labels):
    # Only the one bucket the value falls in (made cumulative when read): three HINCRBYFLOATs
    # per observation instead of up to seventeen. The key's "h2" keeps these counts apart
    # from the cumulative ones of earlier releases.
    key, base = f"{PREFIX}:h2:{name}", _labels(**labels)
    items = [(key, f"{base}|sum", value), (key, f"{base}|count", 1)]
    first = next((le for le in buckets if value <= le), None)
    if first is not None:
        items.append((key, f"{base}|le={first}", 1))
    return items


def _job_labels(job):
    return {"family": job.family, "source": job.source_format, "target": job.target_format}


def job_created(job):
    _record([_counter("jobs_created", _job_labels(job))])


def job_succeeded(job, converter_seconds=None):
    items = [_counter("jobs_succeeded", _job_labels(job))]
    if converter_seconds is not None:
        items += _histogram(
            "conversion_seconds", CONVERSION_BUCKETS, converter_seconds, {"family": job.family, "converter": job.converter}
        )
    if job.created_at is not None:
        from django.utils import timezone

        e2e = (timezone.now() - job.created_at).total_seconds()
        items += _histogram("job_end_to_end_seconds", END_TO_END_BUCKETS, e2e, {"family": job.family})
    _record(items)


def job_reused(job):
    """A job answered from the result cache: created and succeeded, no conversion."""
    _record([_counter("jobs_created", _job_labels(job)), _counter("jobs_succeeded", _job_labels(job))])


def job_failed(job, code):
    _record([_counter("jobs_failed", {**_job_labels(job), "code": code or "unknown"})])


def read_counter(name):
    """{labels-dict-as-json: value} of one counter."""
    return store().read(f"{PREFIX}:c:{name}")


HISTOGRAM_BUCKETS = {"conversion_seconds": CONVERSION_BUCKETS, "job_end_to_end_seconds": END_TO_END_BUCKETS}


def read_histogram(name):
    """{labels-json: {"sum": s, "count": n, "buckets": {le: cumulative}}}."""
    out = {}
    for field, value in store().read(f"{PREFIX}:h2:{name}").items():
        labels, _, part = field.rpartition("|")
        entry = out.setdefault(labels, {"sum": 0.0, "count": 0.0, "buckets": {}})
        if part.startswith("le="):
            entry["buckets"][float(part[3:])] = value
        else:
            entry[part] = value
    for entry in out.values():
        running, own = 0.0, entry["buckets"]
        entry["buckets"] = {}
        for le in HISTOGRAM_BUCKETS[name]:
            running += own.get(float(le), 0.0)
            entry["buckets"][float(le)] = running
    return out

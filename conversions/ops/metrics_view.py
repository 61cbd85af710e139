"""`GET /metrics`: Prometheus text, for allowed IPs or a bearer token only.

Everything is read at scrape time (see `conversions.ops.metrics`): counters and
histograms from the shared store, gauges from Redis (queue depths, worker
heartbeats) and PostgreSQL (active jobs, oldest queued job, stored bytes).
A source that is down is skipped and counted in
``convertall_metrics_scrape_errors``, so one outage never hides the rest.
"""

import hmac
import ipaddress
import json
import logging
import time

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from conversions.ops import metrics
from convertall.broker import QUEUES, queue_depths
from conversions.ops.heartbeat import live_workers, scheduler_running
from conversions.models import ACTIVE_STATUSES, Job, JobStatus

logger = logging.getLogger(__name__)

_COUNTERS = {
    "jobs_created": ("Jobs accepted", ("family", "source", "target")),
    "jobs_succeeded": ("Jobs finished successfully", ("family", "source", "target")),
    "jobs_failed": ("Jobs failed for good", ("family", "source", "target", "code")),
}
_HISTOGRAMS = {
    "conversion_seconds": ("Seconds the converter ran", ("family", "converter")),
    "job_end_to_end_seconds": ("Seconds from upload accepted to result stored", ("family",)),
}


class StoreCollector:
    """Counters and histograms recorded by every web and worker process."""

    def collect(self):
        try:
            yield from self._collect()
        except Exception as exc:  # the store (Redis) is down: serve the gauges anyway
            logger.warning("metrics: counters unavailable: %s", exc)

    def _collect(self):
        for name, (doc, labels) in _COUNTERS.items():
            family = CounterMetricFamily(f"convertall_{name}", doc, labels=labels)
            for raw, value in metrics.read_counter(name).items():
                data = json.loads(raw)
                family.add_metric([str(data.get(k, "")) for k in labels], value)
            yield family
        for name, (doc, labels) in _HISTOGRAMS.items():
            family = HistogramMetricFamily(f"convertall_{name}", doc, labels=labels)
            for raw, entry in metrics.read_histogram(name).items():
                data = json.loads(raw)
                buckets = [(_le(le), entry["buckets"].get(le, 0.0)) for le in _bounds(name)]
                buckets.append(("+Inf", entry["count"]))
                family.add_metric([str(data.get(k, "")) for k in labels], buckets, entry["sum"])
            yield family


def _bounds(name):
    return metrics.HISTOGRAM_BUCKETS[name]


def _le(value):
    return str(float(value))


class StateCollector:
    """Gauges of the current state, from Redis and PostgreSQL."""

    def __init__(self):
        self.errors = 0

    def collect(self):
        for part in (self._queues, self._workers, self._jobs, self._storage):
            try:
                yield from part()
            except Exception as exc:
                self.errors += 1
                logger.warning("metrics: %s failed: %s", part.__name__, exc)
        yield GaugeMetricFamily("convertall_metrics_scrape_errors", "Sources that failed in this scrape", value=self.errors)

    def _queues(self):
        gauge = GaugeMetricFamily("convertall_queue_depth", "Messages waiting in each queue", labels=["queue"])
        for queue, depth in queue_depths().items():
            gauge.add_metric([queue], depth)
        yield gauge

    def _workers(self):
        alive = GaugeMetricFamily("convertall_workers_alive", "Worker processes heartbeating", labels=["queue"])
        age = GaugeMetricFamily(
            "convertall_worker_heartbeat_age_seconds", "Seconds since each worker's last beat", labels=["queue", "worker"]
        )
        scheduler = scheduler_running()
        if scheduler is not None:
            yield GaugeMetricFamily("convertall_scheduler_up", "1 when a scheduler holds its lock", value=int(scheduler))
        workers = live_workers()
        for queue in QUEUES:
            alive.add_metric([queue], len(workers.get(queue, [])))
            for w in workers.get(queue, []):
                age.add_metric([queue, w["worker"]], w["age"])
        yield alive
        yield age

    def _jobs(self):
        active = GaugeMetricFamily("convertall_jobs_active", "Jobs queued or running", labels=["family", "status"])
        counts = Job.objects.filter(status__in=ACTIVE_STATUSES).values("family", "status").annotate(n=Count("pk"))
        for row in counts:
            active.add_metric([row["family"], row["status"]], row["n"])
        yield active
        oldest = GaugeMetricFamily(
            "convertall_oldest_queued_job_age_seconds", "Age of the oldest job still queued", labels=["family"]
        )
        now = timezone.now()
        rows = Job.objects.filter(status=JobStatus.QUEUED).values("family").annotate(first=Min("created_at"))
        seen = {row["family"]: (now - row["first"]).total_seconds() for row in rows}
        for family in QUEUES:
            oldest.add_metric([family], round(seen.get(family, 0.0), 3))
        yield oldest

    def _storage(self):
        gauge = GaugeMetricFamily("convertall_storage_bytes", "Bytes of files currently stored", labels=["store"])
        kept = Job.objects.filter(files_purged_at__isnull=True)
        sums = kept.aggregate(
            uploads=Sum("source_size", filter=~Q(source_key="")),
            outputs=Sum("output_size", filter=Q(status=JobStatus.SUCCEEDED)),
        )
        gauge.add_metric(["uploads"], sums["uploads"] or 0)
        gauge.add_metric(["outputs"], sums["outputs"] or 0)
        yield gauge


_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_CF_CONNECTING_IP", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def trusted_caller(request):
    """The bearer token, or a direct call (no proxy in between) from an allowed network (METRICS_ALLOWED_IPS).

    Gates /metrics and the details of readiness.

    A request that came through a proxy is never let in by address: behind a
    load balancer in the VPC, the direct peer is the balancer itself, and the
    forwarded headers are whatever the caller wrote.
    """
    token = settings.METRICS_TOKEN
    if token:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
            return True
    if any(request.META.get(h) for h in _FORWARDED):
        return False
    try:
        addr = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS)


@never_cache
def metrics_view(request):
    if not trusted_caller(request):
        return JsonResponse(
            {"error": {"code": "forbidden", "message": "Metrics are for allowed addresses or a METRICS_TOKEN bearer."}},
            status=403,
        )
    t0 = time.monotonic()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector())
    registry.register(StateCollector())
    body = generate_latest(registry)
    logger.debug("metrics scrape seconds=%.3f", time.monotonic() - t0)
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")

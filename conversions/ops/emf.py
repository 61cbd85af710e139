"""Scaling signals for CloudWatch, as embedded-metric-format (EMF) lines on stdout.

The scheduler calls `publish()` every minute (a maintenance task). Each line
is one JSON record that CloudWatch Logs turns into metrics when the awslogs
driver ships it, so publishing costs no API call and needs no IAM right.
Namespace ``ConvertAll`` (the names the Terraform's scaling policies and alarms use):

- ``QueueDepth`` (Count) and ``OldestJobAgeSeconds`` (Seconds), dimension
  ``Queue`` = documents | media | filters: messages waiting in the Redis queue
  now, and the age of the oldest job still queued in the job table.
- ``JobsSucceeded``, ``JobsFailed`` (Count) and ``ConversionSeconds``
  (Seconds, every job's converter time as one value), dimension ``Family``:
  jobs that finished in each whole minute, read from the job table (the
  truth), so no counter state lives in any process.

A minute is published once: its Redis key is claimed with SET NX, so a
standby taking over, or a restart, neither skips nor doubles a minute (the
last few minutes are looked at on every run).
"""

import json
import sys
import threading
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db.models import Min

NAMESPACE = "ConvertAll"
QUEUES = ("documents", "media", "filters")
# Late commits: a minute is published only once it ended this long ago.
SETTLE_SECONDS = 5
LOOKBACK_MINUTES = 5
# The EMF specification allows at most 100 values per metric in one record.
MAX_VALUES = 100
_CLAIM_PREFIX = "convertall:emf:minute:"
_memory_claims = set()
_write_lock = threading.Lock()


def record(timestamp_ms, dimension, metrics):
    """One EMF record: {dimension_name: value} and {metric: (number or list, unit)}."""
    (dim_name, dim_value), = dimension.items()
    doc = {
        "_aws": {
            "Timestamp": int(timestamp_ms),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[dim_name]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
                }
            ],
        },
        dim_name: dim_value,
    }
    doc.update({name: number for name, (number, _) in metrics.items()})
    return doc


def queue_records(now=None):
    """QueueDepth and OldestJobAgeSeconds per queue, as of now."""
    from django.utils import timezone

    from convertall.broker import queue_depths
    from conversions.models import Job, JobStatus

    now = now or timezone.now()
    depths = queue_depths()
    oldest = dict(
        Job.objects.filter(status=JobStatus.QUEUED).values_list("family").annotate(first=Min("created_at"))
    )
    ts = now.timestamp() * 1000
    return [
        record(
            ts,
            {"Queue": queue},
            {
                "QueueDepth": (depths.get(queue, 0), "Count"),
                "OldestJobAgeSeconds": (round(max((now - oldest[queue]).total_seconds(), 0.0), 3) if queue in oldest else 0, "Seconds"),
            },
        )
        for queue in QUEUES
    ]


def job_records(start, end):
    """JobsSucceeded, JobsFailed and ConversionSeconds per family for [start, end)."""
    from conversions.models import Job, JobStatus

    rows = Job.objects.filter(finished_at__gte=start, finished_at__lt=end).values_list(
        "family", "status", "converter_seconds"
    )
    counts = {f: {"ok": 0, "failed": 0, "seconds": []} for f in QUEUES}
    for family, status, seconds in rows:
        entry = counts.setdefault(family, {"ok": 0, "failed": 0, "seconds": []})
        if status in (JobStatus.SUCCEEDED, JobStatus.EXPIRED):
            entry["ok"] += 1
            if seconds is not None:
                entry["seconds"].append(round(seconds, 3))
        elif status == JobStatus.FAILED:
            entry["failed"] += 1
    ts = start.timestamp() * 1000
    out = []
    for family, entry in counts.items():
        metrics = {"JobsSucceeded": (entry["ok"], "Count"), "JobsFailed": (entry["failed"], "Count")}
        chunks = [entry["seconds"][i : i + MAX_VALUES] for i in range(0, len(entry["seconds"]), MAX_VALUES)]
        if chunks:
            metrics["ConversionSeconds"] = (chunks[0], "Seconds")
        out.append(record(ts, {"Family": family}, metrics))
        # More than 100 conversions in a minute: the rest ride in records of their own.
        out += [record(ts, {"Family": family}, {"ConversionSeconds": (c, "Seconds")}) for c in chunks[1:]]
    return out


def _claim(minute_start):
    """True once per minute across every scheduler (Redis SET NX), or per process without Redis."""
    from conversions.ops.metrics import store

    key = f"{_CLAIM_PREFIX}{int(minute_start.timestamp())}"
    client = getattr(store(), "client", None)
    if client is None:
        if key in _memory_claims:
            return False
        _memory_claims.add(key)
        return True
    return bool(client.set(key, "1", nx=True, ex=3600 * 6))


def _minutes_to_publish(now):
    last_end = (now - timedelta(seconds=SETTLE_SECONDS)).replace(second=0, microsecond=0)
    starts = [last_end - timedelta(minutes=n) for n in range(LOOKBACK_MINUTES, 0, -1)]
    return [s for s in starts if _claim(s)]


def write(records, stream=None):
    """One JSON document per line, straight to stdout (not through the log formatter:
    CloudWatch extracts metrics only from a line that is the EMF document itself)."""
    stream = stream or sys.stdout
    text = "".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in records)
    with _write_lock:
        stream.write(text)
        stream.flush()


def publish(now=None, stream=None):
    """The scheduler's task: queue gauges now, job counts for each unpublished whole minute."""
    if not settings.CLOUDWATCH_EMF:
        return None
    now = now or datetime.now(dt_timezone.utc)
    records = queue_records(now)
    minutes = _minutes_to_publish(now)
    for start in minutes:
        records += job_records(start, start + timedelta(minutes=1))
    write(records, stream)
    return {"records": len(records), "minutes": len(minutes)}

"""CloudWatch embedded-metric-format lines from the scheduler (conversions/ops/emf.py).

The names are the contract with the Terraform's scaling policies and alarms
(docs/deploy.md): namespace ConvertAll; QueueDepth and OldestJobAgeSeconds by
Queue; JobsSucceeded, JobsFailed and ConversionSeconds by Family.
"""

import io
import json
import uuid
from datetime import datetime, timedelta, timezone

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from conversions.ops import emf
from conversions.models import Job, JobStatus

QUEUES = ("documents", "media", "filters")
UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
         "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
         "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
         "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}


def assert_valid_emf(doc):
    """The rules of CloudWatch's EMF specification that a record can break."""
    meta = doc["_aws"]
    assert set(meta) == {"Timestamp", "CloudWatchMetrics"}
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000  # epoch milliseconds
    for directive in meta["CloudWatchMetrics"]:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert 1 <= len(directive["Namespace"]) <= 1024
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(doc[name], str) and doc[name], f"dimension {name} needs a string member"
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert metric["Unit"] in UNITS
            value = doc[metric["Name"]]
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values), value


def parse(stream):
    lines = stream.getvalue().splitlines()
    docs = [json.loads(line) for line in lines]
    for doc in docs:
        assert_valid_emf(doc)
    return docs


def metrics_of(docs, dimension):
    """{dimension value: {metric: value}} of the records with that dimension."""
    out = {}
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ConvertAll"
        if directive["Dimensions"] == [[dimension]]:
            entry = out.setdefault(doc[dimension], {})
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                if metric["Name"] in entry and isinstance(value, list):
                    entry[metric["Name"]] = entry[metric["Name"]] + value
                else:
                    entry[metric["Name"]] = value
    return out


@pytest.fixture
def redis_queue(redis_url, settings):
    """A real Redis broker (own namespace) as the global broker, and the metrics store on the same Redis."""
    from conversions.ops import metrics

    broker = RedisBroker(url=redis_url, namespace=f"emf-test-{uuid.uuid4().hex[:8]}")
    previous = dramatiq.get_broker()
    settings.REDIS_URL = redis_url
    settings.CLOUDWATCH_EMF = True
    metrics.store.cache_clear()
    dramatiq.set_broker(broker)
    for queue in QUEUES:
        broker.declare_queue(queue)
    claimed = set(broker.client.keys(emf._CLAIM_PREFIX + "*"))
    yield broker
    # The minutes this test published (others' claims stay).
    for key in set(broker.client.keys(emf._CLAIM_PREFIX + "*")) - claimed:
        broker.client.delete(key)
    broker.flush_all()
    broker.client.delete(*broker.client.keys(f"{broker.namespace}*") or ["none"])
    broker.close()
    dramatiq.set_broker(previous)
    metrics.store.cache_clear()


def enqueue(broker, queue, n):
    for _ in range(n):
        broker.enqueue(Message(queue_name=queue, actor_name=f"run_{queue}_job", args=(str(uuid.uuid4()),), kwargs={}, options={}))


def make_job(status, family, *, created, finished=None, seconds=None):
    return Job.objects.create(
        family=family, converter="test", source_format="png", target_format="webp", status=status,
        created_at=created, finished_at=finished, converter_seconds=seconds,
    )


@pytest.mark.django_db
def test_queue_depth_and_oldest_age_come_from_the_real_queue_and_the_job_table(redis_queue):
    now = datetime.now(timezone.utc)
    enqueue(redis_queue, "documents", 3)
    enqueue(redis_queue, "media", 1)
    make_job(JobStatus.QUEUED, "documents", created=now - timedelta(seconds=42))
    make_job(JobStatus.QUEUED, "documents", created=now - timedelta(seconds=5))
    make_job(JobStatus.RUNNING, "media", created=now - timedelta(seconds=500))  # running is not waiting
    out = io.StringIO()
    emf.publish(now=now, stream=out)
    queues = metrics_of(parse(out), "Queue")
    assert queues == {
        "documents": {"QueueDepth": 3, "OldestJobAgeSeconds": pytest.approx(42, abs=0.01)},
        "media": {"QueueDepth": 1, "OldestJobAgeSeconds": 0},
        "filters": {"QueueDepth": 0, "OldestJobAgeSeconds": 0},
    }


@pytest.mark.django_db
def test_job_outcomes_per_family_for_each_whole_minute_once(redis_queue):
    # A random minute far away: concurrent runs of this test never share one.
    now = datetime(2031, 5, 4, 12, 0, 30, tzinfo=timezone.utc) + timedelta(minutes=uuid.uuid4().int % 500_000)
    minute = now.replace(second=0) - timedelta(minutes=1)  # the last whole minute
    created = minute - timedelta(minutes=5)
    make_job(JobStatus.SUCCEEDED, "documents", created=created, finished=minute + timedelta(seconds=10), seconds=0.25)
    make_job(JobStatus.SUCCEEDED, "documents", created=created, finished=minute + timedelta(seconds=50), seconds=1.5)
    make_job(JobStatus.FAILED, "documents", created=created, finished=minute + timedelta(seconds=20))
    make_job(JobStatus.SUCCEEDED, "media", created=created, finished=minute - timedelta(seconds=30), seconds=9.0)
    make_job(JobStatus.SUCCEEDED, "filters", created=created, finished=now, seconds=2.0)  # this minute: not yet
    for n in range(130):  # more than the 100 values one EMF metric may carry
        make_job(JobStatus.SUCCEEDED, "filters", created=created, finished=minute + timedelta(seconds=1), seconds=n / 100)

    out = io.StringIO()
    emf.publish(now=now, stream=out)
    docs = parse(out)
    by_minute = {}
    for doc in docs:
        if "Family" in doc:
            by_minute.setdefault(doc["_aws"]["Timestamp"], []).append(doc)
    assert len(by_minute) == emf.LOOKBACK_MINUTES  # every recent minute, zeros included
    last = metrics_of(by_minute[int(minute.timestamp() * 1000)], "Family")
    docs = last["documents"]  # the values of one minute come in no set order
    assert {**docs, "ConversionSeconds": sorted(docs["ConversionSeconds"])} == {
        "JobsSucceeded": 2, "JobsFailed": 1, "ConversionSeconds": [0.25, 1.5]
    }
    assert last["media"] == {"JobsSucceeded": 0, "JobsFailed": 0}
    assert last["filters"]["JobsSucceeded"] == 130 and len(last["filters"]["ConversionSeconds"]) == 130
    before = metrics_of(by_minute[int((minute - timedelta(minutes=1)).timestamp() * 1000)], "Family")
    assert before["media"] == {"JobsSucceeded": 1, "JobsFailed": 0, "ConversionSeconds": [9.0]}

    # The next run (a minute later, or a standby taking over) publishes only the new minute.
    again = io.StringIO()
    emf.publish(now=now + timedelta(minutes=1), stream=again)
    later = [d for d in parse(again) if "Family" in d]
    assert {d["_aws"]["Timestamp"] for d in later} == {int((minute + timedelta(minutes=1)).timestamp() * 1000)}
    assert metrics_of(later, "Family")["filters"] == {"JobsSucceeded": 1, "JobsFailed": 0, "ConversionSeconds": [2.0]}


def test_the_scheduler_runs_the_emitter_every_minute_when_on(settings):
    from conversions.jobs import maintenance

    settings.CLOUDWATCH_EMF = True
    assert ("cloudwatch_metrics", maintenance.cloudwatch_metrics, 60) in maintenance.tasks()
    settings.CLOUDWATCH_EMF = False
    assert "cloudwatch_metrics" not in [name for name, _, _ in maintenance.tasks()]
    assert emf.publish() is None


@pytest.mark.django_db
def test_the_lines_go_to_stdout_as_bare_json(redis_queue, capsys):
    """CloudWatch extracts metrics only from a log line that is the EMF document itself."""
    emf.publish()
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(json.loads(line)["_aws"] for line in lines)

"""Traces: one conversion, from the upload to the stored output, is one trace.

The web side runs in this process (Django's test client through the real
middleware and API), the job through a real Dramatiq worker on Redis (a
worker thread here, on a broker of its own with the settings' middleware), on
the S3 server, with the in-memory span exporter collecting every span.
"""

import time
import uuid

import dramatiq
import pytest
from django.conf import settings
from django.utils.module_loading import import_string
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from convertall import tracing
from tests.builders import upload

MARKDOWN = b"# Herons\n\nHerons fly south for the winter.\n"


@pytest.fixture
def spans():
    from django.db import connections
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing.setup(exporter=exporter)
    connections.close_all()  # the next connection is made through the instrumented psycopg
    yield exporter
    tracing.shutdown()
    exporter.clear()
    connections.close_all()


@pytest.fixture
def redis_worker(redis_url):
    """The actors on a real Redis broker (own namespace) and a worker consuming it."""
    import conversions.tasks as tasks

    middleware = [import_string(path)() for path in settings.DRAMATIQ_BROKER["MIDDLEWARE"]]
    broker = RedisBroker(url=redis_url, namespace=f"trace-test-{uuid.uuid4().hex[:8]}", middleware=middleware)
    previous = dramatiq.get_broker()
    owners = {actor: actor.broker for actor in tasks._ACTORS.values()}
    dramatiq.set_broker(broker)
    for actor in owners:
        actor.broker = broker
        broker.declare_actor(actor)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield broker
    worker.stop()
    for actor, owner in owners.items():
        actor.broker = owner
    broker.flush_all()
    broker.close()
    dramatiq.set_broker(previous)


def wait_done(job_id, timeout=60):
    from conversions.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status}")


def ancestors(span, by_id):
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


@pytest.mark.django_db(transaction=True)
def test_one_conversion_is_one_trace_from_request_to_tool_run(spans, redis_worker, s3_storages):
    from django.test import Client

    assert Client().get("/health").status_code == 200  # probes are not traced
    response = Client().post("/api/v1/convert", {"file": upload("herons.md", MARKDOWN), "targetFormat": "html"})
    assert response.status_code == 202, response.content
    job_id = response.json()["jobId"]
    job = wait_done(job_id)
    assert job.status == "succeeded", job.error_message
    time.sleep(0.2)  # the job span ends just after the row is written

    finished = spans.get_finished_spans()
    request = next(s for s in finished if s.kind.name == "SERVER" and s.attributes.get("http.route", "").endswith("convert"))
    trace = [s for s in finished if s.context.trace_id == request.context.trace_id]
    by_id = {s.context.span_id: s for s in trace}
    names = [s.name for s in trace]

    (enqueue,) = [s for s in trace if s.name == "enqueue documents"]
    (job_span,) = [s for s in trace if s.name == "job documents"]
    tools = [s for s in trace if s.name.startswith("tool ")]
    assert tools, names
    assert request in ancestors(enqueue, by_id), "the enqueue happens inside the request"
    assert enqueue in ancestors(job_span, by_id), "the job continues the trace the message carried"
    for tool in tools:
        assert job_span in ancestors(tool, by_id)
        assert tool.attributes["job.id"] == job_id and tool.attributes["tool.name"] == "pandoc"
    assert job_span.attributes["job.id"] == job_id and enqueue.attributes["job.id"] == job_id
    assert job_span.kind.name == "CONSUMER" and enqueue.kind.name == "PRODUCER"

    # The instrumented libraries add their own spans to the same trace: SQL in the
    # request and in the job, Redis (the broker), S3 (the upload, the stored output).
    def under(span, parent):
        return parent in ancestors(span, by_id)

    db = [s for s in trace if s.attributes.get("db.system") == "postgresql" or s.attributes.get("db.system.name") == "postgresql"]
    assert any(under(s, job_span) for s in db), names
    assert any(s.attributes.get("db.system") == "redis" or s.attributes.get("db.system.name") == "redis" for s in trace), names
    s3 = [s for s in trace if s.attributes.get("rpc.service") == "S3"]
    assert any(under(s, request) and s.attributes.get("rpc.method") == "PutObject" for s in s3), names
    assert any(under(s, job_span) and s.attributes.get("rpc.method") == "PutObject" for s in s3), names
    # The worker polled Redis and beat its heartbeat all along: no trace starts at such a
    # client call (each would be a one-span trace, billed), whatever the trace.
    assert not [s for s in finished if s.kind.name == "SERVER" and "health" in s.name], "health probes are not traced"
    orphans = [s.name for s in finished if s.parent is None and s.kind.name in ("CLIENT", "INTERNAL")]
    assert not orphans, orphans
    # Only this trace's spans carry this job: nothing leaked into another trace.
    others = [s for s in finished if s.context.trace_id != request.context.trace_id and s.attributes.get("job.id") == job_id]
    assert not others, [s.name for s in others]


def test_off_by_default_and_then_the_hooks_do_nothing(monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing.configured() and not tracing.active()
    assert tracing.setup() is False
    message = Message(queue_name="documents", actor_name="run_documents_job", args=("x",), kwargs={}, options={})
    middleware = tracing.TracingMiddleware()
    middleware.before_enqueue(None, message, 0)
    middleware.before_process_message(None, message)
    assert message.options == {}
    calls = []

    @tracing.tool_span()
    def run(argv, **kwargs):
        calls.append(argv)
        return "done"

    assert run(["pandoc", "-v"]) == "done" and calls == [["pandoc", "-v"]]


@pytest.mark.parametrize(
    "env, on",
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({}, False),
    ],
)
def test_configured_by_the_standard_variables(monkeypatch, env, on):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert tracing.configured() is on

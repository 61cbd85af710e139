"""OpenTelemetry tracing for web, workers and scheduler; off unless configured.

On when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
or ``OTEL_TRACES_EXPORTER`` (otlp, console) is set; ``OTEL_TRACES_EXPORTER=none``
turns it off. Off, nothing of OpenTelemetry is imported and every hook here
returns after one boolean check. On (`setup()`, called from the conversions
app's ready()), each process gets a tracer provider named ``OTEL_SERVICE_NAME``
with a batching exporter, and the Django, psycopg, Redis and botocore
instrumentations. On ECS the exporter sends OTLP/HTTP to the ADOT collector
sidecar (http://127.0.0.1:4318), which forwards to X-Ray.

Spans of our own, so that one trace runs from the upload to the stored output:

- ``enqueue <queue>`` (producer), around a message's enqueue; its context is
  written into the message (``message.options["otel"]``) by `TracingMiddleware`;
- ``job <queue>`` (consumer), around the message's processing in the worker,
  a child of the enqueue span, with the ``job.id`` attribute;
- ``tool <name>``, around each tool run (`tool_span`), with ``tool.name`` and ``job.id``.
"""

import contextvars
import functools
import logging
import os
import threading
from pathlib import Path

from dramatiq.middleware import Middleware

logger = logging.getLogger(__name__)

CARRIER_KEY = "otel"
# Probes and scrapes every few seconds would drown the traces that matter.
EXCLUDED_URLS = "health,metrics"

_state = {"on": False, "provider": None, "instrumentors": []}
_lock = threading.Lock()
_current_job = contextvars.ContextVar("convertall_job_id", default=None)


def configured():
    """Whether the environment asks for traces."""
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(exporter or endpoint)


def active():
    return _state["on"]


def setup(exporter=None, service_name=None):
    """Install the tracer provider and instrumentations once per process.

    `exporter` (an SDK SpanExporter, e.g. the in-memory one in tests) is used
    as it is, through a synchronous processor; otherwise the environment
    decides. Returns whether tracing is on.
    """
    if exporter is None and not configured():
        return False
    with _lock:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        provider = _state["provider"]
        if provider is None:
            name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "convert-all"
            provider = TracerProvider(resource=Resource.create({"service.name": name}), sampler=_sampler())
            trace.set_tracer_provider(provider)
            _state["provider"] = provider
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif not _state["on"]:
            provider.add_span_processor(BatchSpanProcessor(_exporter_from_env()))
        if not _state["on"]:
            _instrument()
            _state["on"] = True
    return True


def _sampler():
    """Traces start at a request, an enqueue or a job, never at a lone client call.

    A worker's consumer polls Redis every few milliseconds, heartbeats write to it,
    the scheduler queries PostgreSQL every few seconds: each would be a trace of one
    span (thousands a minute, each billed by X-Ray). Client and internal spans are
    kept only inside a trace that something else started. The roots that stay are
    sampled at OTEL_TRACES_SAMPLER_ARG when OTEL_TRACES_SAMPLER names a ratio.
    """
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
    from opentelemetry.trace import SpanKind

    root = ALWAYS_ON
    if "traceidratio" in os.environ.get("OTEL_TRACES_SAMPLER", ""):
        root = TraceIdRatioBased(float(os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0")))

    class RootsThatMatter(Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
            if kind in (SpanKind.CLIENT, SpanKind.INTERNAL, None):
                return SamplingResult(Decision.DROP)
            return root.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self):
            return f"RootsThatMatter({root.get_description()})"

    return ParentBased(root=RootsThatMatter())


def _exporter_from_env():
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "otlp"
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind != "otlp":
        logger.warning("OTEL_TRACES_EXPORTER=%s is not supported here; using otlp", kind)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*


def _instrument():
    # Read when the Django instrumentation is imported: set it first.
    os.environ.setdefault("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", EXCLUDED_URLS)
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (DjangoInstrumentor(), PsycopgInstrumentor(), RedisInstrumentor(), BotocoreInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
            _state["instrumentors"].append(instrumentor)


def shutdown():
    """Flush and stop: the instrumentations come off, the hooks go quiet (tests, exit)."""
    with _lock:
        for instrumentor in _state["instrumentors"]:
            instrumentor.uninstrument()
        _state["instrumentors"].clear()
        _state["on"] = False
        if _state["provider"] is not None:
            _state["provider"].force_flush()


def _tracer():
    from opentelemetry import trace

    return trace.get_tracer("convertall")


def tool_span(tool=None):
    """Decorator: a ``tool <name>`` span around each call, named by `tool`, the call's
    ``tool=`` keyword or its argv's program."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not _state["on"]:
                return fn(*args, **kwargs)
            name = tool or kwargs.get("tool") or _program(args)
            attributes = {"tool.name": name}
            if (job_id := _current_job.get()) is not None:
                attributes["job.id"] = job_id
            with _tracer().start_as_current_span(f"tool {name}", attributes=attributes):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


def _program(args):
    for arg in args:
        if isinstance(arg, (list, tuple)) and arg:
            return Path(str(arg[0])).name
    return "tool"


class TracingMiddleware(Middleware):
    """Carries the trace context in each Dramatiq message; a span per job.

    Thread-locals hold the spans between the hooks: before/after_enqueue run in
    the sender's thread, before/after_process_message in the worker thread.
    """

    def __init__(self):
        self._local = threading.local()

    def before_enqueue(self, broker, message, delay):
        if not _state["on"] or CARRIER_KEY in message.options:
            return  # off, or a retry: the message keeps the trace it started in
        from opentelemetry import context, propagate, trace

        span = _tracer().start_span(
            f"enqueue {message.queue_name}",
            kind=trace.SpanKind.PRODUCER,
            attributes=_message_attributes(message),
        )
        carrier = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span, context.get_current()))
        message.options[CARRIER_KEY] = carrier
        self._local.enqueue_span = span

    def after_enqueue(self, broker, message, delay):
        span = getattr(self._local, "enqueue_span", None)
        if span is not None:
            self._local.enqueue_span = None
            span.end()

    def before_process_message(self, broker, message):
        if not _state["on"]:
            return
        from opentelemetry import context, propagate, trace

        parent = propagate.extract(message.options.get(CARRIER_KEY) or {})
        span = _tracer().start_span(
            f"job {message.queue_name}", context=parent, kind=trace.SpanKind.CONSUMER,
            attributes=_message_attributes(message),
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        job_token = _current_job.set(_job_id(message))
        self._local.job = (span, token, job_token)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        job = getattr(self._local, "job", None)
        if job is None:
            return
        self._local.job = None
        span, token, job_token = job
        from opentelemetry import context, trace

        if exception is not None:
            span.record_exception(exception)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exception).__name__))
        _current_job.reset(job_token)
        context.detach(token)
        span.end()

    def after_skip_message(self, broker, message):
        self.after_process_message(broker, message)


def _job_id(message):
    return str(message.args[0]) if message.args else ""


def _message_attributes(message):
    return {
        "messaging.system": "dramatiq",
        "messaging.destination.name": message.queue_name,
        "messaging.message.id": message.message_id,
        "job.id": _job_id(message),
    }

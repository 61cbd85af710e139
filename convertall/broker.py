"""Broker set-up helpers: embedded worker threads and broker checks.

django_dramatiq builds the broker from settings.DRAMATIQ_BROKER. In the
embedded default that is Dramatiq's in-memory StubBroker, and this module
starts worker threads for the three queues inside the web process.
"""

import logging
import threading

import dramatiq
from django.conf import settings

from conversions.engine.registry import FAMILIES

logger = logging.getLogger(__name__)

QUEUES = FAMILIES  # one queue per converter family

_embedded = {"worker": None}
_lock = threading.Lock()


def start_embedded_workers():
    """Start in-process worker threads once per process (embedded default only)."""
    if not settings.EMBEDDED_WORKERS:
        return None
    with _lock:
        if _embedded["worker"] is not None:
            return _embedded["worker"]
        import conversions.tasks  # noqa: F401  (declares the actors on the broker)

        broker = dramatiq.get_broker()
        worker = dramatiq.Worker(
            broker,
            worker_threads=settings.EMBEDDED_WORKER_THREADS,
            # The in-memory queue wakes its consumer on put: a long timeout adds
            # no latency and spares the web process idle wake-ups.
            worker_timeout=1000,
        )
        worker.start()
        start_time_limits(broker)
        _embedded["worker"] = worker
        logger.info("embedded workers started: %s threads on %s", settings.EMBEDDED_WORKER_THREADS, QUEUES)
    _requeue_on_start()
    from conversions.jobs.maintenance import start_in_process

    start_in_process()  # no scheduler process in the embedded default
    return worker


def start_time_limits(broker):
    """Start Dramatiq's time-limit watcher in this process.

    The `dramatiq` command starts it on its `process_boot` event, which a
    Worker started in-process (the embedded default, tests) never emits:
    without this, no time limit would ever interrupt an embedded job.
    """
    from dramatiq.middleware import TimeLimit

    for middleware in broker.middleware:
        manager = getattr(middleware, "manager", None)
        if isinstance(middleware, TimeLimit) and isinstance(manager, threading.Thread) and manager.ident is None:
            middleware.after_process_boot(broker)


def _requeue_on_start():
    """The in-memory broker loses its messages on restart: re-send queued jobs."""
    from conversions.jobs.reconcile import requeue_stuck

    try:
        requeue_stuck(older_than_seconds=0, include_running=True)
    except Exception:
        logger.exception("could not re-enqueue queued jobs at start")


def stop_embedded_workers():
    with _lock:
        worker = _embedded["worker"]
        _embedded["worker"] = None
    if worker is not None:
        worker.stop()


def broker_ping():
    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)
    if client is None:
        return {"kind": "in-memory"}
    client.ping()
    return {"kind": "redis"}


def queue_depths():
    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)
    depths = {}
    for queue in QUEUES:
        if client is None:
            q = getattr(broker, "queues", {}).get(queue)
            depths[queue] = q.qsize() if q is not None else 0
        else:
            depths[queue] = client.llen(f"{broker.namespace}:{queue}")
    return depths


def worker_status():
    worker = _embedded["worker"]
    if settings.EMBEDDED_WORKERS:
        alive = worker is not None and any(t.is_alive() for t in worker.workers)
        if not alive:
            raise RuntimeError("embedded worker threads are not running")
        return {"mode": "embedded", "threads": len(worker.workers), "queues": queue_depths()}
    return external_worker_status()


def external_worker_status():
    """Each queue's depth and live workers (from their Redis heartbeats)."""
    from conversions.ops.heartbeat import live_workers, scheduler_running

    depths, workers = queue_depths(), live_workers()
    queues = {q: {"depth": depths[q], "workers": len(workers.get(q, []))} for q in QUEUES}
    detail = {"mode": "external", "queues": queues, "scheduler": scheduler_running()}
    missing = [q for q, info in queues.items() if not info["workers"]]
    redis = getattr(dramatiq.get_broker(), "client", None) is not None
    if missing and redis and settings.HEALTH_REQUIRE_WORKERS:
        raise CheckFailed(f"no live worker for queue(s): {', '.join(missing)}", **detail)
    return detail


class CheckFailed(RuntimeError):
    """A failed health check that still reports what it saw."""

    def __init__(self, message, **detail):
        super().__init__(message)
        self.detail = detail

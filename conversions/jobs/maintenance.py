"""Periodic maintenance the scheduler runs: reconcile the queue, purge old files.

Each task wraps a function of `reconcile.py`, times it and logs its counts as
one line. Every task is idempotent: two schedulers racing (a failover) or an
operator running `manage.py requeue_stuck` at the same time change nothing
twice, because every state change underneath is a conditional UPDATE.
"""

import logging
import time

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def requeue_stuck():
    from conversions.jobs import reconcile

    return reconcile.requeue_stuck()


def purge_expired():
    from conversions.jobs import reconcile

    return {"expired": reconcile.purge_expired(), "uploads": reconcile.purge_old_uploads()}


def cloudwatch_metrics():
    from conversions.ops import emf

    return emf.publish()


def tasks():
    """(name, function, interval in seconds) of every periodic task."""
    periodic = [
        ("requeue_stuck", requeue_stuck, settings.RECONCILE_INTERVAL_SECONDS),
        ("purge_expired", purge_expired, settings.PURGE_INTERVAL_SECONDS),
    ]
    if settings.CLOUDWATCH_EMF:  # scaling signals for the ECS services (conversions/ops/emf.py)
        periodic.append(("cloudwatch_metrics", cloudwatch_metrics, 60))
    return periodic


def run_task(name, fn):
    """Run one task in a scheduler thread: never raise, always log the outcome."""
    close_old_connections()  # a connection from before a database restart is dead
    t0 = time.monotonic()
    try:
        result = fn()
    except Exception:
        logger.exception("maintenance task failed task=%s seconds=%.3f", name, time.monotonic() - t0)
        return None
    finally:
        close_old_connections()
    seconds = time.monotonic() - t0
    logger.info(
        "maintenance task=%s result=%s seconds=%.3f",
        name,
        result,
        seconds,
        extra={"task": name, "result": result, "seconds": round(seconds, 3)},
    )
    return result


_background = {"thread": None}


def start_in_process():
    """The embedded default has no scheduler process: run the tasks on a daemon thread.

    Each process of the embedded default runs its own; that is safe because
    every task is idempotent.
    """
    import threading

    if _background["thread"] is not None:
        return _background["thread"]
    thread = threading.Thread(target=_loop, name="convertall-maintenance", daemon=True)
    _background["thread"] = thread
    thread.start()
    return thread


def _loop():
    due = {name: 0.0 for name, _, _ in tasks()}
    while True:
        now = time.monotonic()
        for name, fn, every in tasks():
            if now >= due[name]:
                run_task(name, fn)
                due[name] = time.monotonic() + every
        time.sleep(max(min(due.values()) - time.monotonic(), 0.5))

"""Liveness (`/health`) and readiness (`/api/v1/health`)."""

import logging
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from conversions.files import storage
from convertall.broker import broker_ping, worker_status

logger = logging.getLogger(__name__)

SERVICES = ["file", "media", "filter"]


@never_cache
def liveness(request):
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def _check_storage():
    for alias, store in (("uploads", storage.uploads()), ("outputs", storage.outputs())):
        store.exists("health/probe")
    return {"backend": settings.STORAGE_BACKEND}


CHECKS = {
    "database": _check_database,
    "broker": broker_ping,
    "storage": _check_storage,
    "workers": worker_status,
}


def sandbox_layers():
    """The names of the sandbox layers active in this process (a short public list, no details)."""
    from conversions.engine.sandbox import current

    try:
        return current().names()
    except Exception:  # noqa: BLE001 - a failed probe is reported as no layer, the worker itself refuses to start
        logger.exception("sandbox probe failed")
        return []


@never_cache
def readiness(request):
    """`{"status", "services"}` for anyone; the checks (error text, queues, workers) only for a trusted caller.

    The error text of a failing dependency names hosts, and the queues tell
    how busy the fleet is: neither is for the public internet.
    """
    from conversions.ops.metrics_view import trusted_caller

    checks, healthy = {}, True
    for name, check in CHECKS.items():
        t0 = time.monotonic()
        try:
            detail = check() or {}
            checks[name] = {"ok": True, **detail}
        except Exception as exc:  # report every failing dependency, not just the first
            logger.warning("health check %s failed: %s", name, exc)
            checks[name] = {"ok": False, "error": str(exc)[:300], **getattr(exc, "detail", {})}
            healthy = False
        checks[name]["ms"] = round((time.monotonic() - t0) * 1000, 1)
    # The sandbox's active layer names are public (a short list); their details stay in the worker's log.
    body = {"status": "healthy" if healthy else "unhealthy", "services": SERVICES, "sandbox": sandbox_layers()}
    if trusted_caller(request):
        body["checks"] = checks
    return JsonResponse(body, status=200 if healthy else 503)

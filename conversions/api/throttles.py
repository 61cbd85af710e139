"""The submit rate limit: uploads per client IP (settings.RATE_LIMIT).

A fixed window counted with one atomic increment: a client's window (a
minute for "100/min") starts at its first request and has its own counter
key; `cache.incr` counts each request, which passes when the count is within
the limit. Twenty uploads at once
against "3/min" admit exactly three, in one process or many (the increment
is Redis's INCR, or the local-memory cache's lock in the embedded default).
A read-then-write log such as DRF's SimpleRateThrottle lets concurrent
requests all read the same history and all pass. The price of a fixed window
is that a client may spend two windows' worth around a boundary.

The counters live in the default cache (Redis in production). When Redis is
unreachable the throttle lets the request through rather than failing it:
the job row is the truth and the scheduler re-sends its message once Redis
is back, so an outage costs rate limiting, not uploads.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from conversions.web.clientip import client_ip

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
OFF = ("", "0", "off", "none")


def parse_rate(rate):
    """'100/min' -> (100, 60); None when there is no limit. Raises ValueError on nonsense."""
    rate = (rate or "").strip().lower()
    if rate in OFF:
        return None
    count, _, period = rate.partition("/")
    period = period.strip()
    seconds = PERIODS.get(period) or PERIODS.get(period.removesuffix("s"))
    if not count.strip().isdigit() or seconds is None:
        raise ValueError(f"RATE_LIMIT must look like 100/min (or off); got {rate!r}")
    return (int(count), seconds) if int(count) else None


class SubmitThrottle(BaseThrottle):
    scope = "submit"

    def __init__(self):
        self._wait = None

    def allow_request(self, request, view):
        rate = parse_rate(settings.RATE_LIMIT)
        if rate is None:
            return True
        limit, period = rate
        now = time.time()
        try:
            count, started = self._count(f"throttle_{self.scope}_{client_ip(request)}", period, now)
        except Exception as exc:  # redis-py's ConnectionError/TimeoutError, whatever the cache backend
            logger.warning("rate limit unavailable (cache down), letting the request through: %s", exc)
            return True
        if count <= limit:
            return True
        self._wait = max(started + period - now, 1)
        return False

    @staticmethod
    def _count(key, period, now):
        """Count one request in the caller's current window: (count so far, window start)."""
        # The first request of a window sets its start (add() is atomic: one
        # wins, every other request reads the same start) ...
        for _ in range(2):
            cache.add(key, now, timeout=period)
            started = cache.get(key)
            if started is not None:
                break
        else:
            started = now  # expired twice in between: a new window
        # ... and the window's counter outlives it by a margin, so it never
        # expires between add() and incr() (Redis's INCR on a vanished key
        # would start a counter with no expiry).
        counter = f"{key}_{int(started * 1000)}"
        cache.add(counter, 0, timeout=period + 10)
        try:
            return cache.incr(counter), started
        except ValueError:  # evicted meanwhile: count afresh
            cache.add(counter, 0, timeout=period + 10)
            return cache.incr(counter), started

    def wait(self):
        return self._wait


class PresignThrottle(SubmitThrottle):
    """POST /api/v1/uploads at the submit rate, counted apart: a direct upload and its convert are one submit each."""

    scope = "presign"

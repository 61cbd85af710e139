from rest_framework.throttling import SimpleRateThrottle

from ..clientip import client_ip


class SubmitThrottle(SimpleRateThrottle):
    """Uploads per client IP (100 a minute by default, RATE_LIMIT)."""

    scope = "submit"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}

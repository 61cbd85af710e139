from django.db import DatabaseError

from conversions.errors import json_error


class ApiCacheControlMiddleware:
    """API answers are never cached by a CDN or browser; a down database answers 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/") or request.path == "/health":
            response["Cache-Control"] = "no-store"
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DatabaseError) and request.path.startswith("/api/"):
            response = json_error("service_unavailable", "The database is unavailable; try again shortly.", 503)
            response["Retry-After"] = "5"
            return response
        return None

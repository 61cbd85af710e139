"""Liveness answered before Host validation, for load balancer and container health checks.

An ALB target-group check and an ECS container check call the task by its
private IP (Host: 10.0.3.17:8000, or 127.0.0.1:8000), which is not in
ALLOWED_HOSTS: Django's CommonMiddleware would answer 400 and the task would
be marked unhealthy. Liveness says nothing about the host, so it is answered
here, first, for GET /health and GET /api/health only.
"""

from django.http import JsonResponse

LIVENESS_PATHS = frozenset({"/health", "/api/health"})


class LivenessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path in LIVENESS_PATHS and request.method in ("GET", "HEAD"):
            response = JsonResponse({"status": "ok"})
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)

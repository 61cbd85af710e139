"""Pages and error handlers (the full site lives in issue-6 work)."""

from django.shortcuts import render
from django.views.decorators.cache import cache_control

from .errors import json_error
from .registry import registry


@cache_control(public=True, max_age=300)
def home(request):
    return render(request, "conversions/home.html", {"catalog": registry.catalog()})


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error("not_found", "No such API endpoint.", 404)
    return render(request, "errors/404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error("internal_error", "Something went wrong on our side; try again.", 500)
    return render(request, "errors/500.html", status=500)

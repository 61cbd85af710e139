"""The answer to a locked-out log-in (django-axes): 429, Retry-After, a page that says what to do."""

import math

from axes.helpers import get_cool_off
from django.shortcuts import render


def locked_out(request, original_response=None, credentials=None):
    seconds = int(get_cool_off(request).total_seconds())
    from django.conf import settings

    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": max(1, math.ceil(seconds / 60))}
    response = render(request, "errors/locked.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response

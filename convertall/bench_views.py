"""Benchmark-only views, mounted only when settings.BENCH_VIEWS is on.

`bench/pipeline.py` loads the status endpoint beside `bench/bare`: a plain
Django view through the same middleware returning a fixed body of the same
shape and size, the ceiling the status endpoint is compared with.
"""

from django.http import JsonResponse
from django.urls import path

_FIXED = {
    "jobId": "00000000-0000-0000-0000-000000000000",
    "status": "succeeded",
    "progress": 100,
    "kind": "convert",
    "family": "media",
    "filename": "photo.png",
    "sourceFormat": "png",
    "targetFormat": "webp",
    "createdAt": "2026-01-01T00:00:00.000000Z",
    "startedAt": "2026-01-01T00:00:00.010000Z",
    "finishedAt": "2026-01-01T00:00:00.020000Z",
    "error": None,
    "result": None,
    "statusUrl": "http://127.0.0.1/api/v1/status/00000000-0000-0000-0000-000000000000",
    "downloadUrl": "http://127.0.0.1/api/v1/download/00000000-0000-0000-0000-000000000000",
}


def bare(request):
    return JsonResponse(_FIXED)


urlpatterns = [path("bench/bare", bare, name="bench-bare")]

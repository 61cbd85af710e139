"""The status fast path in front of Django answers byte for byte as Django does.

Each request goes once through `StatusFastPath` and once straight to Django's
WSGI handler, in the same state; status line, headers (in order) and body
must be equal, and the fast path must have answered itself exactly when it
should (an anonymous job's cached copy) and left everything else to Django.
"""

import io
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from accounts.keys import key_create
from conversions.api import status_fast
from conversions.api.status_fast import StatusFastPath
from conversions.jobs import status_cache
from conversions.models import Job, JobStatus

pytestmark = pytest.mark.django_db

RID = "poll-42"


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    return request.param


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """As Django's test client does: the request signals must not close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


class Stack:
    """Django's handler, and the fast path in front of another one; built after the settings are."""

    def __init__(self):
        self.django = WSGIHandler()
        self.deferred = 0
        inner = WSGIHandler()

        def counting(environ, start_response):
            self.deferred += 1
            return inner(environ, start_response)

        self.fast = StatusFastPath(counting)

    def both(self, path, reset=None, **extra):
        """(fast answer, Django answer, did the fast path answer itself), `reset()` before each."""
        answers = []
        deferred = self.deferred
        for app in (self.fast, self.django):
            if reset:
                reset()
            answers.append(call(app, environ(path, **extra)))
        return answers[0], answers[1], self.deferred == deferred


def environ(path, method="GET", host="testserver", scheme="http", **extra):
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host,
        "HTTP_X_REQUEST_ID": RID,
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def call(app, env):
    got = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = status, headers

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return got["status"], got["headers"], body


def same_but_new_cookies(one, other):
    """Equal answers, but for the value of a cookie Django makes anew each time."""
    def masked(answer):
        status, headers, body = answer
        return status, [(k, re.sub(r"=[^;]*", "=...", v, count=1) if k == "Set-Cookie" else v) for k, v in headers], body

    return masked(one) == masked(other)


def make_job(status, owner=None, **fields):
    now = timezone.now()
    base = {"family": "media", "source_format": "png", "target_format": "webp", "original_filename": "café \"x\".png"}
    job = Job.objects.create(**base, status=status, owner=owner, **fields)
    if status != JobStatus.QUEUED:
        job.started_at = now
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        job.finished_at = now + timedelta(seconds=1)
    job.save()
    status_cache.job_changed(job.pk)
    return job


def finished_job():
    return make_job(
        JobStatus.SUCCEEDED, progress=100, output_key=f"out/{uuid.uuid4()}.webp", output_filename="café.webp",
        output_size=1234, output_content_type="image/webp", expires_at=timezone.now() + timedelta(days=2),
    )


JOBS = {
    "queued": lambda: make_job(JobStatus.QUEUED),
    "running": lambda: make_job(JobStatus.RUNNING, progress=30),
    "succeeded": finished_job,
    "failed": lambda: make_job(JobStatus.FAILED, error_code="decode_failed", error_message="Could not read <it>."),
    "cached result": lambda: make_job(JobStatus.SUCCEEDED, cached=True, progress=100, output_key="k",
                                      output_filename="a.webp", output_size=1, output_content_type="image/webp",
                                      expires_at=timezone.now()),
    "expired": lambda: make_job(JobStatus.EXPIRED),
}


@pytest.mark.parametrize("state", list(JOBS))
@pytest.mark.parametrize("prefix", ["/api/v1/status/", "/api/status/"])
def test_an_anonymous_cached_job_is_answered_in_front_of_django_with_its_bytes(cache_backend, state, prefix):
    job = JOBS[state]()
    stack = Stack()
    fast, django, answered = stack.both(f"{prefix}{job.pk}")
    assert answered
    assert fast == django
    status, headers, body = fast
    assert status == "200 OK" and f'"jobId": "{job.pk}"'.encode() in body
    assert ("X-Request-ID", RID) in headers and ("Cache-Control", "no-store") in headers


def test_a_running_job_shows_the_latest_progress(cache_backend):
    job = make_job(JobStatus.RUNNING, progress=30)
    status_cache.progress_changed(job.pk, 55)
    fast, django, answered = Stack().both(f"/api/v1/status/{job.pk}")
    assert answered and fast == django and b'"progress": 55' in fast[2]


@pytest.mark.parametrize("host", ["testserver", "LocalHost:8000", "[::1]"])
def test_absolute_urls_and_a_new_request_id_are_django_s(cache_backend, host):
    job = finished_job()
    stack = Stack()
    fast, django, answered = stack.both(f"/api/v1/status/{job.pk}", host=host, HTTP_X_REQUEST_ID=None)
    assert answered
    assert fast[0] == django[0] and fast[2] == django[2]
    strip = [(k, v) for k, v in fast[1] if k != "X-Request-ID"]
    assert strip == [(k, v) for k, v in django[1] if k != "X-Request-ID"]
    ids = [v for k, v in fast[1] if k == "X-Request-ID"]
    assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{32}", ids[0])
    assert f"http://{host}/api/v1/download/{job.pk}".encode() in fast[2]


def test_behind_a_tls_proxy_with_hsts_and_the_https_redirect(cache_backend, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True
    job = finished_job()
    stack = Stack()
    fast, django, answered = stack.both(f"/api/v1/status/{job.pk}", HTTP_X_FORWARDED_PROTO="https")
    assert answered and fast == django
    assert ("Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload") in fast[1]
    assert f"https://testserver/api/v1/status/{job.pk}".encode() in fast[2]
    # Plain http: Django redirects.
    fast, django, answered = stack.both(f"/api/v1/status/{job.pk}")
    assert not answered and fast == django and fast[0].startswith("301")


def test_owned_jobs_are_left_to_django_and_never_leak(cache_backend):
    ann = User.objects.create_user("ann", "ann@example.com", "pw-long-enough-1")
    job = make_job(JobStatus.SUCCEEDED, owner=ann, progress=100, output_key="k", output_filename="a.webp",
                   output_size=1, output_content_type="image/webp", expires_at=timezone.now())
    _key, raw = key_create(user=ann, name="laptop")
    _bob_key, bob_raw = key_create(user=User.objects.create_user("bob", "bob@example.com", "pw-long-enough-2"),
                                   name="x")
    assert status_cache.cached_status(job.pk)["_owner"] == ann.pk
    stack = Stack()
    path = f"/api/v1/status/{job.pk}"
    for auth, code in ((None, "404"), (f"Bearer {bob_raw}", "404"), ("Bearer ca_nope", "401"), (f"Bearer {raw}", "200")):
        fast, django, answered = stack.both(path, HTTP_AUTHORIZATION=auth)
        assert not answered, auth
        assert fast == django and fast[0].startswith(code), auth
        if code != "200":
            assert b"a.webp" not in fast[2] and str(job.pk).encode() not in fast[2]


def test_unknown_ids_uncached_jobs_and_other_requests_are_left_to_django(cache_backend):
    job = finished_job()
    cached = f"/api/v1/status/{job.pk}"
    stack = Stack()
    cases = [
        (f"/api/v1/status/{uuid.uuid4()}", {}),  # no such job
        ("/api/v1/status/not-a-uuid", {}),
        (f"/api/v1/status/{str(job.pk).upper()}", {}),  # another spelling of the id
        (cached + "/", {}),
        (cached, {"method": "HEAD"}),
        (cached, {"method": "DELETE"}),
        (cached, {"host": "evil.example"}),  # not in ALLOWED_HOSTS: 400
        (cached, {"HTTP_COOKIE": "csrftoken=bad!"}),  # the CSRF middleware sends a new (random) cookie
        (cached, {"SCRIPT_NAME": "/convert"}),
    ]
    for path, extra in cases:
        fast, django, answered = stack.both(path, **extra)
        assert not answered, (path, extra)
        assert same_but_new_cookies(fast, django), (path, extra)
    # Not cached: Django reads the database (and caches it); each path starts from the same state.
    fast, django, answered = stack.both(cached, reset=lambda: status_cache.cache_delete(job.pk))
    assert not answered and fast == django and fast[0] == "200 OK"


def test_a_failing_cache_is_read_once_and_the_database_answers(settings, caplog):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    status_cache._clients.clear()
    job = Job.objects.create(family="media", source_format="png", target_format="webp", original_filename="a.png")
    stack = Stack()
    env = environ(f"/api/v1/status/{job.pk}")
    with caplog.at_level("WARNING", logger="conversions.jobs.status_cache"):
        status, _headers, body = call(stack.fast, env)
    status_cache._clients.clear()
    assert status == "200 OK" and b'"status":"queued"' in body
    assert env[status_fast.CACHE_FAILED] and stack.deferred == 1
    assert [r.getMessage() for r in caplog.records] == [f"status cache: could not read job={job.pk}"]


def test_another_middleware_list_turns_the_fast_path_off(settings):
    job = finished_job()
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.http.ConditionalGetMiddleware"]
    fast, django, answered = Stack().both(f"/api/v1/status/{job.pk}")
    assert not answered and fast == django and "ETag" in dict(fast[1])


def test_the_web_process_serves_the_fast_path():
    import convertall.wsgi

    assert isinstance(convertall.wsgi.application, StatusFastPath)

"""`GET /api/v1/status/<id>` of an anonymous job's cached copy, answered in front of Django.

Clients poll the status endpoint hard. For an anonymous job whose copy is
cached, Django's request cycle (the request object, fourteen middleware, URL
resolving, the request signals) cost more CPU than the answer itself (about
0.3 ms a request in all under gunicorn, bench/RESULTS.md). `StatusFastPath`
wraps the WSGI application and answers exactly those requests with the bytes
Django sends: the status view's cached-copy answer (`StatusView.dispatch`)
with the headers the middleware add to it. The tests compare the two
(tests/conversions/api/test_status_fast_path.py).

Everything Django might answer otherwise goes to Django, untouched:

- another method, path or spelling of the id; a script prefix;
- no cached copy, a job with an owner (Django authenticates), a cache error;
- a host Django refuses (ALLOWED_HOSTS); plain http that SECURE_SSL_REDIRECT
  redirects;
- a Cookie header: the CSRF middleware answers a malformed token cookie with
  a new one, and browsers send cookies;
- a middleware list other than `MIDDLEWARE` below (tracing inserts its own):
  the headers made here are those of that list, in its order.
"""

import io
import json
import re

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.urls import resolve
from django.utils.encoding import iri_to_uri

from conversions.jobs import status_cache
from conversions.jobs.selectors import public_payload
from conversions.ops.logcontext import request_id_for

# The list whose answer is copied here; any other and every request goes to Django.
MIDDLEWARE = (
    "conversions.ops.logcontext.RequestIdMiddleware",  # X-Request-ID
    "conversions.ops.liveness.LivenessMiddleware",  # /health only
    "django.middleware.security.SecurityMiddleware",  # HSTS, nosniff, Referrer-Policy, COOP; the https redirect
    "conversions.web.csp.ContentSecurityPolicyMiddleware",  # HTML only
    "whitenoise.middleware.WhiteNoiseMiddleware",  # /static/ only
    "django.contrib.sessions.middleware.SessionMiddleware",  # Vary: Cookie when the session is read: never here
    "django.middleware.common.CommonMiddleware",  # ALLOWED_HOSTS, Content-Length
    "django.middleware.csrf.CsrfViewMiddleware",  # a new cookie for a malformed one: no cookies here
    "django.contrib.auth.middleware.AuthenticationMiddleware",  # lazy: an anonymous job never asks
    "django.contrib.messages.middleware.MessageMiddleware",  # unused
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # X-Frame-Options
    "conversions.api.middleware.ApiCacheControlMiddleware",  # Cache-Control: no-store
    "accounts.middleware.UploadLimitMiddleware",  # POST only
    "axes.middleware.AxesMiddleware",  # log-ins only
)
PREFIXES = ("/api/v1/status/", "/api/status/")
_PATH = re.compile(r"/api(?:/v1)?/status/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
# WSGI keys a Django request's scheme and host come from (plus SECURE_PROXY_SSL_HEADER's).
_ORIGIN_KEYS = ("HTTP_HOST", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT", "SERVER_NAME", "SERVER_PORT",
                "wsgi.url_scheme")
_MAX_ORIGINS = 64  # distinct hosts remembered; a flood of made-up ones is checked each time
# Set on a request whose cache read failed here: the view then reads the database without retrying.
CACHE_FAILED = "convertall.status_cache_failed"


class _Defer(Exception):
    """Django answers this one."""


class _Origin:
    """The part of a request public_payload uses: Django's build_absolute_uri, for a site path."""

    __slots__ = ("scheme_host",)

    def __init__(self, scheme_host):
        self.scheme_host = scheme_host

    def build_absolute_uri(self, location):
        # Django's shortcut for a plain absolute path; anything else it joins as a URL.
        if not location.startswith("/") or location.startswith("//") or any(c in location for c in "?#\\"):
            raise _Defer
        if "/./" in location or "/../" in location:
            raise _Defer
        return iri_to_uri(self.scheme_host + location)


class _Plan:
    """What this configuration's answer looks like; None from `make` when the fast path is off."""

    @classmethod
    def make(cls):
        from conversions.api.views import StatusView

        if tuple(settings.MIDDLEWARE) != MIDDLEWARE or settings.CSRF_USE_SESSIONS or settings.FORCE_SCRIPT_NAME:
            return None
        probe = "00000000-0000-0000-0000-000000000000"
        for prefix in PREFIXES:
            if getattr(resolve(prefix + probe).func, "view_class", None) is not StatusView:
                return None
        return cls()

    def __init__(self):
        proxy = settings.SECURE_PROXY_SSL_HEADER
        self.origin_keys = _ORIGIN_KEYS + ((proxy[0],) if proxy else ())
        self.redirect = settings.SECURE_SSL_REDIRECT
        # Header order is Django's: the view's, then each middleware's on the way out.
        self.head = [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()),
        ]
        self.tail = {secure: self._security(secure) for secure in (False, True)}
        self.origins = {}

    @staticmethod
    def _security(secure):
        """SecurityMiddleware.process_response's headers."""
        out = []
        if settings.SECURE_HSTS_SECONDS and secure:
            sts = f"max-age={settings.SECURE_HSTS_SECONDS}"
            if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                sts += "; includeSubDomains"
            if settings.SECURE_HSTS_PRELOAD:
                sts += "; preload"
            out.append(("Strict-Transport-Security", sts))
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            out.append(("X-Content-Type-Options", "nosniff"))
        policy = settings.SECURE_REFERRER_POLICY
        if policy:
            parts = [v.strip() for v in policy.split(",")] if isinstance(policy, str) else policy
            out.append(("Referrer-Policy", ",".join(parts)))
        if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
            out.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
        return out

    def origin(self, environ):
        """(scheme://host, is it https) as Django sees this request; None for a host Django refuses."""
        key = tuple(environ.get(k) for k in self.origin_keys)
        try:
            return self.origins[key]
        except KeyError:
            pass
        probe = {k: environ[k] for k in self.origin_keys if k in environ}
        request = WSGIRequest({**probe, "REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()})
        try:
            found = (f"{request.scheme}://{request.get_host()}", request.is_secure())
        except DisallowedHost:
            found = None
        if len(self.origins) < _MAX_ORIGINS:
            self.origins[key] = found
        return found


class StatusFastPath:
    """WSGI middleware: the fast answer when there is one, else the wrapped application's."""

    def __init__(self, app):
        self.app = app
        self._plan = None  # made on first use (URLs resolve then), dropped when a setting changes
        setting_changed.connect(self._forget)  # weakly: a test's instance goes with the test

    def _forget(self, **kwargs):
        self._plan = None

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "").startswith(PREFIXES):
            try:
                status, headers, body = self.answer(environ)
            except _Defer:
                pass
            else:
                start_response(status, headers)
                return [body]
        return self.app(environ, start_response)

    def answer(self, environ):
        """(status line, headers, body) or _Defer."""
        match = _PATH.fullmatch(environ["PATH_INFO"])
        if match is None or environ.get("HTTP_COOKIE") or environ.get("SCRIPT_NAME"):
            raise _Defer
        if environ.get("SCRIPT_URL") or environ.get("REDIRECT_URL"):
            raise _Defer
        plan = self._plan
        if plan is None:
            plan = self._plan = _Plan.make() or False
        if not plan:
            raise _Defer
        origin = plan.origin(environ)
        if origin is None or (plan.redirect and not origin[1]):
            raise _Defer
        job_id = match[1]
        try:
            payload = status_cache.read_status(job_id)
        except Exception:  # the view reads the database, without a second wait on the cache
            status_cache.read_failed(job_id)
            environ[CACHE_FAILED] = True
            raise _Defer from None
        if payload is None or payload.get("_owner") is not None:
            raise _Defer
        # As JsonResponse writes it.
        body = json.dumps(public_payload(payload, _Origin(origin[0])), cls=DjangoJSONEncoder).encode()
        headers = [
            *plan.head,
            ("Content-Length", str(len(body))),
            *plan.tail[origin[1]],
            ("X-Request-ID", request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))),
        ]
        return "200 OK", headers, body

"""Structured logs: request id and job context on every line, JSON on stdout.

`RequestIdMiddleware` takes the caller's X-Request-ID (or makes one), echoes
it on the response and puts it in a context variable; the Dramatiq middleware
in `conversions.ops.heartbeat` does the same for the job id and family while a
worker runs a job. `ContextFilter` copies those onto every log record, and
`JsonFormatter` (LOG_FORMAT=json) writes one JSON object per line with them and
any `extra=` fields (tool, seconds, ...).
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

request_id = contextvars.ContextVar("request_id", default="")
job_id = contextvars.ContextVar("job_id", default="")
family = contextvars.ContextVar("family", default="")

_CONTEXT = {"request_id": request_id, "job_id": job_id, "family": family}
# A caller-supplied id is echoed in logs and headers: keep it short and plain.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class ContextFilter(logging.Filter):
    """Adds request_id, job_id and family (when set) to every record."""

    def filter(self, record):
        for name, var in _CONTEXT.items():
            if not getattr(record, name, ""):
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value not in ("", None):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class PlainFormatter(logging.Formatter):
    """The classic one-line format, with the request or job id when there is one."""

    def format(self, record):
        text = super().format(record)
        ids = " ".join(f"{k}={getattr(record, k)}" for k in ("request_id", "job_id") if getattr(record, k, ""))
        return f"{text} [{ids}]" if ids else text


def bind_job(job_id_value, family_value=""):
    """Set the job context for this thread's logs; returns tokens for `unbind_job`."""
    return job_id.set(str(job_id_value or "")), family.set(family_value or "")


def unbind_job(tokens):
    job_id.reset(tokens[0])
    family.reset(tokens[1])


def request_id_for(incoming):
    """The caller's X-Request-ID when it is short and plain, else a new one."""
    return incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex


class RequestIdMiddleware:
    """X-Request-ID in, the same id out, and on every log line of the request."""

    header = "HTTP_X_REQUEST_ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request_id_for(request.META.get(self.header, ""))
        request.request_id = rid
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response

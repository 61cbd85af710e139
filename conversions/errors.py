"""Domain errors and the one handler that renders every API error alike.

Shape: ``{"error": {"code": "...", "message": "..."}}`` with the HTTP status of
the contract (DESIGN.md).
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ConvertAllError(Exception):
    """A failure with a stable code and a message a user can act on."""

    status = 400
    code = "bad_request"

    def __init__(self, message, *, code=None, status=None, headers=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.headers = headers or {}


class BadRequest(ConvertAllError):
    status, code = 400, "bad_request"


class NotFound(ConvertAllError):
    status, code = 404, "not_found"


class NotReady(ConvertAllError):
    status, code = 409, "not_ready"


class Gone(ConvertAllError):
    status, code = 410, "expired"


class TooLarge(ConvertAllError):
    status, code = 413, "file_too_large"


class UnsupportedType(ConvertAllError):
    status, code = 415, "unsupported_type"


class ServiceUnavailable(ConvertAllError):
    status, code = 503, "service_unavailable"


class ConversionFailed(ConvertAllError):
    """The input cannot be converted: fail at once, never retry."""

    status, code = 422, "conversion_failed"


class TransientError(ConvertAllError):
    """Worth another try later (tool crash, storage hiccup)."""

    status, code = 503, "transient_error"


class Canceled(Exception):
    """The job was canceled while its tool ran."""


def error_body(code, message):
    return {"error": {"code": code, "message": message}}


_DRF_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "file_too_large",
    415: "unsupported_type",
    429: "rate_limited",
}


def api_exception_handler(exc, context):
    if isinstance(exc, ConvertAllError):
        return Response(error_body(exc.code, exc.message), status=exc.status, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, DatabaseError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            error_body("service_unavailable", "The database is unavailable; try again in a few seconds."),
            status=503,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, drf_exceptions.APIException):
        headers = {}
        if isinstance(exc, drf_exceptions.Throttled):
            wait = int(exc.wait or 1) + (1 if exc.wait and exc.wait % 1 else 0)
            headers["Retry-After"] = str(max(wait, 1))
            message = f"Too many requests: try again in {max(wait, 1)} seconds."
        else:
            message = _flatten(exc.detail)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        code = _DRF_CODES.get(exc.status_code, "error")
        return Response(error_body(code, message), status=exc.status_code, headers=headers)
    return None


def _flatten(detail):
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    return str(detail)


def json_error(code, message, status):
    return JsonResponse(error_body(code, message), status=status)

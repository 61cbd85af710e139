"""What every submit endpoint (convert, filter) reads from a request and answers."""

from rest_framework.response import Response

from conversions.errors import BadRequest
from conversions.jobs.selectors import job_status_payload, public_payload
from conversions.jobs.waiting import wait_for_job

_TRUE, _FALSE = ("", "true", "1", "yes", "on"), ("false", "0", "no", "off")


def use_cache(request):
    raw = str(request.query_params.get("cache", request.data.get("cache", ""))).strip().lower()
    if raw not in _TRUE + _FALSE:
        raise BadRequest(f"'cache' must be true or false; got {raw[:20]!r}.", code="invalid_parameter")
    return raw in _TRUE


def session_key(request):
    session = getattr(request, "session", None)
    return session.session_key if session is not None and session.session_key else ""


def job_answer(request, job, wait):
    """202 with the job's URLs; 200 with the whole finished job when it ends within `wait` seconds."""
    finished = job if job.is_finished else (wait_for_job(job.pk, wait) if wait else None)
    if finished is not None and wait:
        return Response(public_payload(job_status_payload(finished), request), status=200)
    payload = public_payload(job_status_payload(job), request)
    body = {k: payload[k] for k in ("jobId", "status", "statusUrl", "downloadUrl")}
    if job.cached:
        body["cached"] = True
    return Response(body, status=202, headers={"Location": body["statusUrl"]})

"""POST /api/v1/filter, and the `?wait=N` answer shared with /convert."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversions.api import schema
from conversions.api.throttles import SubmitThrottle
from conversions.web.clientip import client_ip
from conversions.errors import BadRequest
from conversions.jobs.selectors import job_status_payload, public_payload
from filters.services import filter_job_create, parse_wait, wait_for_job
from filters.vocabulary import MAX_OPERATIONS, operations

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


class FilterView(APIView):
    throttle_classes = [SubmitThrottle]

    creates_job = True  # the schema links its jobId to status, download and delete

    @extend_schema(
        operation_id="filter",
        tags=["Convert and filter"],
        summary="Apply operations (resize, trim, compress...) to a file",
        request=schema.multipart(schema.FilterSerializer),
        parameters=[schema.WAIT, schema.CACHE, *schema.SUBMIT_HEADERS],
        responses={
            202: OpenApiResponse(schema.JobAcceptedSerializer, description="Accepted: the job is queued."),
            200: OpenApiResponse(schema.JobStatusSerializer, description="With ?wait=N: the job ended in time."),
            **schema.SUBMIT_ERRORS,
        },
    )
    def post(self, request):
        wait = parse_wait(request.query_params.get("wait"))
        job = filter_job_create(
            uploads=request.FILES.getlist("file"),
            operations=request.data.get("operations"),
            target_format=request.data.get("targetFormat") or request.data.get("target_format") or "",
            owner=request.user,
            session_key=session_key(request),
            client_ip=client_ip(request),
            use_cache=use_cache(request),
        )
        return job_answer(request, job, wait)


class OperationsView(APIView):
    @extend_schema(
        operation_id="operations",
        tags=["Catalog"],
        summary="Every filter operation by family, with its parameters",
        parameters=[schema.RETRY_AFTER],
        responses={200: schema.OperationsSerializer, **schema.errors(*schema.ALWAYS)},
    )
    def get(self, request):
        return Response({"maxOperations": MAX_OPERATIONS, "families": operations.catalog()})

"""POST /api/v1/filter, and the `?wait=N` answer shared with /convert."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from conversions.api.throttles import SubmitThrottle
from conversions.web.clientip import client_ip
from conversions.jobs.selectors import job_status_payload, public_payload
from filters.services import filter_job_create, parse_wait, wait_for_job
from filters.vocabulary import MAX_OPERATIONS, operations

WAIT_PARAM = OpenApiParameter(
    "wait", float, description="Wait up to N seconds (at most 60): 200 with the finished job, else 202."
)
CACHE_PARAM = OpenApiParameter("cache", bool, description="false: run the job even if the same result is stored.")


def use_cache(request):
    raw = request.query_params.get("cache", request.data.get("cache", ""))
    return str(raw).strip().lower() not in ("false", "0", "no", "off")


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

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "FilterRequest",
                {
                    "file": serializers.ListField(child=serializers.FileField(), help_text="Several only for merge"),
                    "operations": serializers.JSONField(help_text='e.g. [{"op": "resize", "width": 320}]'),
                    "targetFormat": serializers.CharField(required=False),
                },
            )
        },
        parameters=[WAIT_PARAM, CACHE_PARAM],
        responses={200: dict, 202: dict, 400: dict, 413: dict, 415: dict, 429: dict},
        summary="Apply operations (resize, trim, compress...) to a file",
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
    @extend_schema(responses={200: dict}, summary="Every filter operation by family, with its parameters")
    def get(self, request):
        return Response({"maxOperations": MAX_OPERATIONS, "families": operations.catalog()})

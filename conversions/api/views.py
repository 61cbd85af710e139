"""The public API (v1): thin views that parse, call one service, serialize."""

import json
import uuid

from django.http import FileResponse, HttpResponseRedirect, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversions.files import storage
from conversions.jobs.status_cache import cached_status, remember
from conversions.web.clientip import client_ip
from conversions.errors import BadRequest, Gone, NotFound
from conversions.models import Job
from conversions.engine.registry import registry
from conversions.jobs.selectors import (
    job_downloadable_cached,
    job_get_downloadable,
    job_get_visible,
    job_status_payload,
    jobs_of_caller,
    parse_job_id,
    public_payload,
)
from conversions.jobs import direct
from conversions.jobs.create import job_create
from conversions.jobs.services import job_delete
from conversions.api import schema
from conversions.api.answers import job_answer, session_key, use_cache
from conversions.api.status_fast import CACHE_FAILED
from conversions.jobs.waiting import parse_wait
from conversions.api.throttles import PresignThrottle, SubmitThrottle

def parse_json_field(data, name, default, kind):
    raw = data.get(name)
    if raw in (None, ""):
        return default
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise BadRequest(f"'{name}' must be valid JSON ({kind}).", code=f"invalid_{name}") from None
    expected = dict if kind == "an object" else list
    if not isinstance(raw, expected):
        raise BadRequest(f"'{name}' must be JSON {kind}.", code=f"invalid_{name}")
    return raw


class ConvertView(APIView):
    throttle_classes = [SubmitThrottle]

    creates_job = True  # the schema links its jobId to status, download and delete

    @schema.submit("convert", "Convert a file", schema.ConvertSerializer)
    def post(self, request):
        wait = parse_wait(request.query_params.get("wait"))
        options = parse_json_field(request.data, "options", {}, "an object")
        job = job_create(
            upload=request.FILES.get("file"),
            target_format=request.data.get("targetFormat") or request.data.get("target_format") or "",
            options=options,
            owner=request.user,
            session_key=session_key(request),
            client_ip=client_ip(request),
            operations=request.data.get("operations"),
            use_cache=use_cache(request),
            upload_id=request.data.get("uploadId"),
        )
        # 202 with the job's URLs, or 200 with the finished job when ?wait=N sees it end.
        return job_answer(request, job, wait)


class UploadsView(APIView):
    throttle_classes = [PresignThrottle]

    @extend_schema(
        operation_id="upload_create",
        tags=["Convert and filter"],
        summary="Upload a file straight to object storage (S3 only)",
        description=schema.UPLOADS_HELP,
        request={"application/json": schema.UploadRequestSerializer},
        parameters=[schema.RETRY_AFTER],
        responses={
            201: OpenApiResponse(schema.UploadAcceptedSerializer, description="POST the file to url with fields."),
            **schema.UPLOAD_ERRORS,
        },
    )
    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}  # a JSON list or string: no filename
        body = direct.upload_create(
            filename=data.get("filename"),
            owner=request.user,
            session_key=session_key(request),
            client_ip=client_ip(request),
        )
        return Response(body, status=201)


class StatusView(APIView):
    def dispatch(self, request, *args, **kwargs):
        # Clients poll this hard. An anonymous job's cached copy is answered
        # without DRF's request wrapping, negotiation and rendering, which cost
        # as much as the rest of the answer; everything else goes through DRF.
        if request.method == "GET" and not request.META.get(CACHE_FAILED):
            payload = _anonymous_cached_status(kwargs.get("job_id"))
            if payload is not None:
                return JsonResponse(public_payload(payload, request))
        return super().dispatch(request, *args, **kwargs)

    def perform_authentication(self, request):
        # Lazy: only an owned job needs to know who asks (DRF authenticates on
        # the first read of request.user).
        pass

    @extend_schema(
        operation_id=schema.STATUS_OP,
        tags=["Jobs"],
        summary="A job's status",
        parameters=[schema.JOB_ID, schema.RETRY_AFTER],
        responses={200: OpenApiResponse(schema.JobStatusSerializer, description="The job."), **schema.errors(404, *schema.ALWAYS)},
    )
    def get(self, request, job_id):
        job_uuid = parse_job_id(job_id)
        # The fast path in front of Django (status_fast) found the cache failing: no second wait on it.
        cache_up = not request.META.get(CACHE_FAILED)
        payload = cached_status(job_uuid) if cache_up else None
        if payload is None:
            job = Job.objects.filter(pk=job_uuid).first()
            if job is None:
                raise NotFound("No job with this id.", code="job_not_found")
            payload = job_status_payload(job)
            if cache_up:
                remember(job_uuid, payload)
        owner = payload.get("_owner")
        if owner is not None and (not request.user.is_authenticated or request.user.pk != owner):
            raise NotFound("No job with this id.", code="job_not_found")
        return Response(public_payload(payload, request))


def _anonymous_cached_status(raw_id):
    try:
        job_uuid = uuid.UUID(str(raw_id))
    except ValueError:
        return None
    payload = cached_status(job_uuid)
    return payload if payload is not None and payload.get("_owner") is None else None


class DownloadView(APIView):
    @extend_schema(
        operation_id=schema.DOWNLOAD_OP,
        tags=["Jobs"],
        summary="Download a job's result",
        parameters=[
            schema.JOB_ID,
            schema.RETRY_AFTER,
            OpenApiParameter("Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[302],
                             description="A short-lived URL of the file (S3 storage)."),
        ],
        responses={
            (200, "*/*"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file as an attachment, with its own content type."
            ),
            302: OpenApiResponse(description="Redirect to a short-lived URL of the file (S3 storage)."),
            **schema.errors(404, 409, 410, *schema.ALWAYS),
        },
    )
    def get(self, request, job_id):
        # The status cache is hot right after the job: no database read for a ready result.
        found = job_downloadable_cached(job_id, request.user)
        if found is None:
            job = job_get_downloadable(job_id, request.user)
            found = job.output_key, job.output_filename, job.output_content_type
        key, filename, content_type = found
        out = storage.outputs()
        if not storage.is_local(out):
            return HttpResponseRedirect(storage.download_url(out, key, filename, content_type))
        try:
            fh = out.open(key, "rb")
        except FileNotFoundError:
            raise Gone("The result is no longer stored; convert the file again.") from None
        response = FileResponse(fh, as_attachment=True, filename=filename, content_type=content_type)
        response["X-Content-Type-Options"] = "nosniff"
        return response


class JobView(APIView):
    @extend_schema(
        operation_id=schema.DELETE_OP,
        tags=["Jobs"],
        summary="Cancel a job and delete its files now",
        parameters=[schema.JOB_ID, schema.RETRY_AFTER],
        responses={200: OpenApiResponse(schema.JobStatusSerializer, description="The job."), **schema.errors(404, *schema.ALWAYS)},
    )
    def delete(self, request, job_id):
        job = job_delete(job_get_visible(job_id, request.user))
        return Response(public_payload(job_status_payload(job), request))


class JobsListView(APIView):
    @extend_schema(
        operation_id="jobs_list",
        tags=["Jobs"],
        summary="The caller's jobs, newest first",
        parameters=[schema.PAGE, schema.PAGE_SIZE, schema.RETRY_AFTER],
        responses={200: schema.JobsPageSerializer, **schema.errors(400, *schema.ALWAYS)},
    )
    def get(self, request):
        qs = jobs_of_caller(request.user, session_key(request))
        page = _positive_int(request.query_params.get("page"), 1, "page")
        size = min(_positive_int(request.query_params.get("pageSize"), 20, "pageSize"), 100)
        total = qs.count()
        rows = qs.order_by("-created_at")[(page - 1) * size : page * size]
        return Response(
            {
                "count": total,
                "page": page,
                "pageSize": size,
                "results": [public_payload(job_status_payload(j), request) for j in rows],
            }
        )


def _positive_int(raw, default, name):
    if raw is None:  # absent; an empty `?pageSize=` is not a number and is refused like one
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise BadRequest(f"'{name}' must be a positive whole number.", code="invalid_parameter")
    return value


class FormatsView(APIView):
    @extend_schema(
        operation_id="formats",
        tags=["Catalog"],
        summary="Every source format with its targets, family and options",
        parameters=[schema.RETRY_AFTER],
        responses={200: schema.CatalogSerializer, **schema.errors(*schema.ALWAYS)},
    )
    def get(self, request):
        return Response({"formats": registry.catalog()})

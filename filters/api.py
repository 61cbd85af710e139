"""POST /api/v1/filter and GET /api/v1/operations."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from conversions.api import schema
from conversions.api.throttles import SubmitThrottle
from conversions.web.clientip import client_ip
from conversions.api.answers import job_answer, session_key, use_cache
from conversions.jobs.waiting import parse_wait
from filters.services import filter_job_create
from conversions.jobs.operations import MAX_OPERATIONS
from filters.vocabulary import operations

class FilterView(APIView):
    throttle_classes = [SubmitThrottle]

    creates_job = True  # the schema links its jobId to status, download and delete

    @schema.submit("filter", "Apply operations (resize, trim, compress...) to a file", schema.FilterSerializer)
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
            upload_id=request.data.get("uploadId"),
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

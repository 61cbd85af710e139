"""The OpenAPI description of the public API: bodies, answers, errors and links.

The serializers here only describe JSON for drf-spectacular; the views build
their answers from the selectors. A schemathesis run against a live server
(tests/api/test_schemathesis.py) keeps the two from drifting apart.
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework import serializers

from conversions.jobs import operations as job_operations
from conversions.jobs.operations import MAX_OPERATIONS
from conversions.models import Job, JobStatus

V1 = "/api/v1/"
LEGACY = "/api/"

# Operation ids that the links from convert and filter point at.
STATUS_OP, DOWNLOAD_OP, DELETE_OP = "job_status", "job_download", "job_delete"


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable and machine-readable, e.g. missing_file, unsupported_type, invalid_option, job_not_found, "
        "not_ready, expired, file_too_large, rate_limited, daily_limit, queue_full, service_unavailable."
    )
    message = serializers.CharField(help_text="A sentence a person can act on.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class JobResultSerializer(serializers.Serializer):
    filename = serializers.CharField()
    size = serializers.IntegerField(min_value=0, help_text="Bytes.")
    contentType = serializers.CharField()
    downloadUrl = serializers.URLField()
    expiresAt = serializers.DateTimeField(allow_null=True, help_text="When the result is deleted.")


class JobStatusSerializer(serializers.Serializer):
    jobId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.values)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    kind = serializers.ChoiceField(choices=Job.Kind.values)
    cached = serializers.BooleanField(help_text="True when an earlier identical job's result was reused.")
    family = serializers.CharField(help_text="The queue that runs it: documents, media or filters.")
    filename = serializers.CharField(help_text="The uploaded file's name.")
    sourceFormat = serializers.CharField()
    targetFormat = serializers.CharField()
    createdAt = serializers.DateTimeField()
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)
    error = ErrorDetailSerializer(allow_null=True, help_text="Why the job failed (or expired); null otherwise.")
    result = JobResultSerializer(allow_null=True, help_text="The output, once the job succeeded; null otherwise.")
    statusUrl = serializers.URLField()
    downloadUrl = serializers.URLField()


class JobAcceptedSerializer(serializers.Serializer):
    jobId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.values)
    statusUrl = serializers.URLField(help_text="Poll this (also in the Location header).")
    downloadUrl = serializers.URLField(help_text="Answers 409 until the job succeeds.")
    cached = serializers.BooleanField(required=False, help_text="Present (true) when a stored result was reused.")


class JobsPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=0)
    page = serializers.IntegerField(min_value=1)
    pageSize = serializers.IntegerField(min_value=1, max_value=100)
    results = JobStatusSerializer(many=True)


class OptionSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "str", "bool"])
    help = serializers.CharField(allow_blank=True)
    label = serializers.CharField(required=False, help_text="A plain-words name for forms.")
    advanced = serializers.BooleanField(required=False, help_text="An expert setting (the pages fold it away).")
    default = serializers.JSONField(required=False)
    min = serializers.FloatField(required=False)
    max = serializers.FloatField(required=False)
    choices = serializers.ListField(child=serializers.JSONField(), required=False)


class TargetSerializer(serializers.Serializer):
    format = serializers.CharField()
    family = serializers.CharField()
    tool = serializers.CharField()
    options = OptionSerializer(many=True)


class SourceFormatSerializer(serializers.Serializer):
    format = serializers.CharField()
    category = serializers.CharField()
    label = serializers.CharField()
    targets = TargetSerializer(many=True)


class CatalogSerializer(serializers.Serializer):
    formats = SourceFormatSerializer(many=True)


class ParamSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "str", "bool"])
    required = serializers.BooleanField()
    help = serializers.CharField(required=False)
    default = serializers.JSONField(required=False)
    min = serializers.FloatField(required=False)
    max = serializers.FloatField(required=False)
    choices = serializers.ListField(child=serializers.JSONField(), required=False)


class OperationSerializer(serializers.Serializer):
    op = serializers.CharField()
    family = serializers.CharField()
    help = serializers.CharField(allow_blank=True)
    params = ParamSerializer(many=True)


class OperationsSerializer(serializers.Serializer):
    maxOperations = serializers.IntegerField(min_value=1)
    families = serializers.DictField(
        child=OperationSerializer(many=True), help_text="Operations by kind of file: image, audio, video, pdf."
    )


def _target_formats():
    from conversions.engine.registry import registry

    return sorted({target for _, target, _ in registry.pairs()})


class TargetFormatField(serializers.CharField):
    """Described as one of the registry's targets (which ones fit a file: GET /api/v1/formats)."""


class TargetFormatFieldSchema(OpenApiSerializerFieldExtension):
    # Read when the schema is built, so it lists what this server's installed tools offer.
    target_class = TargetFormatField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": _target_formats()}


class OperationCallField(serializers.DictField):
    """One operation object, described per operation from the filter vocabulary."""


_JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def _param_schema(param):
    out = {"type": _JSON_TYPES[param["type"]]}
    if param["type"] == "str":
        out.update(minLength=1, pattern=r"\S")
    for key, name in (("min", "minimum"), ("max", "maximum"), ("choices", "enum"), ("default", "default"),
                      ("help", "description")):
        if key in param:
            out[name] = param[key]
    return out


def operation_schemas():
    """An object schema per (family, operation): its `op` name and its parameters, nothing else."""
    vocabulary = job_operations.current().vocabulary
    out = []
    for family, ops in (vocabulary.catalog() if vocabulary else {}).items():
        for op in ops:
            params = {p["name"]: _param_schema(p) for p in op["params"]}
            out.append({
                "type": "object",
                "title": f"{family} {op['op']}",
                "description": op["help"],
                "properties": {"op": {"type": "string", "enum": [op["op"]]}, **params},
                "required": ["op", *(p["name"] for p in op["params"] if p["required"])],
                "additionalProperties": False,
            })
    return out


class OperationCallFieldSchema(OpenApiSerializerFieldExtension):
    # Read when the schema is built: every operation the vocabulary registered.
    target_class = OperationCallField

    def map_serializer_field(self, auto_schema, direction):
        return {"anyOf": operation_schemas()}


_OPTIONS_HELP = "The converter's options, e.g. {\"quality\": \"best\"}; GET /api/v1/formats lists them per pair."
_OPERATIONS_HELP = 'e.g. [{"op": "resize", "width": 320}]; GET /api/v1/operations lists them.'


_UPLOAD_ID_HELP = (
    "Instead of `file`: the uploadId of a direct upload (POST /api/v1/uploads, S3 storage only), used once and only "
    "by its creator. Its type is checked by the worker: a refusal is a failed job with the 415/413 codes."
)


class ConvertSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False, help_text="The file to convert; its type is detected from its content. Or `uploadId`."
    )
    uploadId = serializers.CharField(required=False, max_length=1024, help_text=_UPLOAD_ID_HELP)
    targetFormat = TargetFormatField(
        help_text="The format to convert to (which ones a file's format offers: GET /api/v1/formats)."
    )
    options = serializers.DictField(required=False, help_text=_OPTIONS_HELP)
    operations = serializers.ListField(
        child=OperationCallField(), required=False, max_length=MAX_OPERATIONS,
        help_text="Filters to apply after converting, " + _OPERATIONS_HELP,
    )


class FilterSerializer(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(), min_length=1, required=False,
        help_text="The file; several only for operations that merge. Or `uploadId`.",
    )
    uploadId = serializers.CharField(required=False, max_length=1024, help_text=_UPLOAD_ID_HELP)
    operations = serializers.ListField(
        child=OperationCallField(), min_length=1, max_length=MAX_OPERATIONS,
        help_text="The operations, in order, " + _OPERATIONS_HELP,
    )
    targetFormat = TargetFormatField(required=False, help_text="Convert the result to this format too.")


class UploadRequestSerializer(serializers.Serializer):
    filename = serializers.CharField(
        help_text="The name of the file you will upload. Its extension is the format the job expects; the worker "
        "checks the content against it."
    )


class UploadAcceptedSerializer(serializers.Serializer):
    uploadId = serializers.CharField(help_text="Pass it to convert or filter as `uploadId`, once: an opaque signed token.")
    url = serializers.URLField(help_text="POST the file here as multipart/form-data.")
    fields = serializers.DictField(
        child=serializers.CharField(), help_text="Form fields to send first, as they are; the file goes last as `file`."
    )
    expiresAt = serializers.DateTimeField(help_text="The POST is refused after this.")


UPLOADS_HELP = (
    "With S3 storage: a presigned POST whose policy fixes the object key, your size limit and the expiry. "
    "Send the file to `url` with `fields` (the file field last), then call convert or filter with `uploadId` "
    "instead of `file`. S3 itself refuses a file over the limit. With local storage this answers 409 "
    "`uploads_unavailable`: send the file as multipart `file` instead."
)

# Structured multipart fields travel as JSON text parts (a plain text field works too).
JSON_PARTS = {"options": {"contentType": "application/json"}, "operations": {"contentType": "application/json"}}


def multipart(serializer):
    fields = serializer().fields
    encoding = {name: value for name, value in JSON_PARTS.items() if name in fields}
    return {"multipart/form-data": OpenApiRequest(serializer, encoding=encoding)}


# --- Error answers, by status: what each means for a client -------------------

_ERROR_MEANING = {
    400: "Bad request: a field is missing or invalid (the code says which).",
    401: "The API key is invalid or was revoked.",
    404: "No job with this id, or not yours.",
    409: "Not ready: the job has not succeeded (yet).",
    410: "Gone: the job was canceled, or its result deleted after the retention period.",
    413: "The file is over the size limit.",
    415: "The file's type is not accepted here, or does not match its name.",
    429: "Rate limited or over a quota; Retry-After says when to try again.",
    503: "A dependency is down or the queue is full; Retry-After says when to try again.",
}


def errors(*statuses):
    """Error answers for these statuses, all in the one `{"error": {"code", "message"}}` shape."""
    return {s: OpenApiResponse(ErrorSerializer, description=_ERROR_MEANING[s]) for s in statuses}


# Every operation may meet these: a bad API key, and a database outage.
ALWAYS = (401, 503)
SUBMIT_ERRORS = {
    **errors(400, 413, 415, 429, *ALWAYS),
    409: OpenApiResponse(
        ErrorSerializer,
        description="The uploadId was already used (upload_used).",
    ),
}
UPLOAD_ERRORS = {
    **errors(400, 415, 429, *ALWAYS),
    409: OpenApiResponse(
        ErrorSerializer, description="This server stores files locally (uploads_unavailable): send them as multipart."
    ),
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429, 503], description="Seconds to wait."
)
SUBMIT_HEADERS = [
    RETRY_AFTER,
    OpenApiParameter(
        "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[202], description="The job's status URL."
    ),
]
WAIT = OpenApiParameter(
    "wait", OpenApiTypes.NUMBER, description="Wait up to N seconds (0 to 60) for the job: 200 with the finished job "
    "when it ends in time, else 202.",
)
CACHE = OpenApiParameter(
    "cache", OpenApiTypes.BOOL, description="false: run the job even if an identical result is stored."
)
PAGE = OpenApiParameter("page", OpenApiTypes.INT, description="From 1.")
PAGE_SIZE = OpenApiParameter("pageSize", OpenApiTypes.INT, description="From 1; at most 100 are returned (default 20).")
JOB_ID = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The jobId from convert or filter.")

_LIMITS = {"wait": {"minimum": 0, "maximum": 60}, "page": {"minimum": 1}, "pageSize": {"minimum": 1}}

_JOB_LINKS = {
    "status": (STATUS_OP, "Poll the job's status."),
    "download": (DOWNLOAD_OP, "Download the result once the job succeeded."),
    "delete": (DELETE_OP, "Cancel the job and delete its files now."),
}


class ApiSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus what its decorators cannot say.

    The unversioned `/api/...` paths are aliases of their `/api/v1/...` twins:
    same view, same tag (so the docs page shows them side by side), their own
    operation id. Query parameters get their bounds, and operations that create
    a job link its id to status, download and delete.
    """

    def get_operation(self, path, *args, **kwargs):
        operation = super().get_operation(path, *args, **kwargs)
        if operation is None:
            return None
        for param in operation.get("parameters", []):
            if param["in"] == "query" and param["name"] in _LIMITS:
                param["schema"].update(_LIMITS[param["name"]])
        legacy = path.startswith(LEGACY) and not path.startswith(V1)
        if getattr(self.view, "creates_job", False):
            for status in ("200", "202"):
                if status in operation["responses"]:
                    operation["responses"][status]["links"] = job_links(legacy)
        operation["responses"] = dict(sorted(operation["responses"].items()))
        if legacy:
            twin = V1 + path[len(LEGACY):]
            operation["operationId"] += "_legacy"
            operation["summary"] = f"{operation.get('summary', '')} (alias)".strip()
            operation["description"] = f"The same as `{self.method.upper()} {twin}` (kept for older scripts)."
        return operation


def aliases_beside_twins(result, generator, request, public):
    """Postprocessing hook: each `/api/...` alias right after its `/api/v1/...` twin in the docs page."""

    def key(path):
        legacy = path.startswith(LEGACY) and not path.startswith(V1)
        return (V1 + path[len(LEGACY):] if legacy else path, legacy)

    result["paths"] = {path: result["paths"][path] for path in sorted(result["paths"], key=key)}
    return result


def job_links(legacy=False):
    """An alias links to the aliases where they exist (status, download), else to the v1 operation."""
    aliased = (STATUS_OP, DOWNLOAD_OP) if legacy else ()
    return {
        name: {
            "operationId": f"{op_id}_legacy" if op_id in aliased else op_id,
            "parameters": {"job_id": "$response.body#/jobId"},
            "description": description,
        }
        for name, (op_id, description) in _JOB_LINKS.items()
    }


def submit(operation_id, summary, serializer):
    """The schema of an endpoint that creates a job (convert, filter): 202, or 200 with ?wait=N."""
    return extend_schema(
        operation_id=operation_id,
        tags=["Convert and filter"],
        summary=summary,
        request=multipart(serializer),
        parameters=[WAIT, CACHE, *SUBMIT_HEADERS],
        responses={
            202: OpenApiResponse(JobAcceptedSerializer, description="Accepted: the job is queued."),
            200: OpenApiResponse(JobStatusSerializer, description="With ?wait=N: the job ended in time."),
            **SUBMIT_ERRORS,
        },
    )

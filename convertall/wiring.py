"""The structures Django and its libraries read, built from the values in settings.

`convertall/settings.py` names every environment variable and its default;
this module reads no environment. It turns those values into the dicts that
django-storages, django-dramatiq, DRF, drf-spectacular and logging expect, so
the settings module stays a list of what can be set.
"""


def s3_storage(bucket, *, endpoint_url, region, expire_seconds, addressing_style):
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url,
            "region_name": region,
            # boto3 presigns with SigV2 unless told otherwise.
            "signature_version": "s3v4",
            "file_overwrite": True,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": expire_seconds,
            "addressing_style": addressing_style,
        },
    }


def local_storage(folder):
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # A re-run of a job overwrites its output instead of adding a twin.
        "OPTIONS": {"location": str(folder), "allow_overwrite": True},
    }


def storages(backend, storage_dir, uploads_bucket, outputs_bucket, **s3):
    """Two aliases, uploads and outputs: local folders under storage_dir, or S3 buckets."""

    def alias(sub, bucket):
        return s3_storage(bucket, **s3) if backend == "s3" else local_storage(storage_dir / sub)

    return {
        "default": local_storage(storage_dir / "default"),
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
        "uploads": alias("uploads", uploads_bucket),
        "outputs": alias("outputs", outputs_bucket),
    }


DRAMATIQ_MIDDLEWARE = [
    "conversions.engine.sandbox.SandboxCheck",  # refuses to boot a worker without the layers of SANDBOX_REQUIRE
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "conversions.ops.heartbeat.WorkerObservability",
    "convertall.tracing.TracingMiddleware",  # trace context in each message; off unless OTEL_* is set
]


def dramatiq_broker(redis_url, heartbeat_timeout_ms):
    """Redis when REDIS_URL is set; else the stub broker the embedded workers consume."""
    if redis_url:
        return {
            "BROKER": "dramatiq.brokers.redis.RedisBroker",
            "OPTIONS": {"url": redis_url, "heartbeat_timeout": heartbeat_timeout_ms},
            "MIDDLEWARE": DRAMATIQ_MIDDLEWARE,
        }
    return {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}, "MIDDLEWARE": DRAMATIQ_MIDDLEWARE}


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.JSONParser",
    ],
    "EXCEPTION_HANDLER": "conversions.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "conversions.api.schema.ApiSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Convert-All API",
    "DESCRIPTION": "Convert documents, audio, video and images; apply filters.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # File fields become `format: binary` in request bodies (not the URL a response would carry).
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "conversions.api.schema.aliases_beside_twins",
    ],
    "TAGS": [
        {"name": "Convert and filter", "description": "Upload a file; get a job to poll. `/api/...` paths are aliases of `/api/v1/...`."},
        {"name": "Jobs", "description": "A job's status, its result, and deleting it; your jobs."},
        {"name": "Catalog", "description": "What converts to what, with which options; the filter operations."},
    ],
}


def logging_config(level, fmt):
    """Console logging; fmt "json" is one object per line with request_id, job_id, family, tool, seconds."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "conversions.ops.logcontext.ContextFilter"}},
        "formatters": {
            "plain": {"()": "conversions.ops.logcontext.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "conversions.ops.logcontext.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json" if fmt == "json" else "plain",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # apscheduler logs every run of every job at INFO; our tasks log their own counts.
        "loggers": {"django.db.backends": {"level": "INFO"}, "apscheduler": {"level": "WARNING"}},
    }

"""Convert-All settings. Every value comes from the environment (12-factor).

`.env.example` lists each variable. With nothing set, the service runs on the
embedded default: SQLite and files under ``var/``, Dramatiq's in-memory broker
with worker threads inside the web process.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import environ

from convertall import wiring

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env("CONVERTALL_VAR_DIR", default=str(BASE_DIR / "var")))

# DJANGO_ENV=production turns on the secure defaults below (each still overridable).
DJANGO_ENV = env("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION:
    SECRET_KEY = env("SECRET_KEY")  # no default: fail loudly rather than sign with a known key
else:
    SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me-" + "x" * 32)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "axes",
    "conversions",
    "media",
    "filters",
    "accounts",
    # Last: its ready() builds the registry once every other app is ready (convertall/apps.py).
    "convertall",
]

MIDDLEWARE = [
    "conversions.ops.logcontext.RequestIdMiddleware",
    "conversions.ops.liveness.LivenessMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "conversions.web.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "conversions.api.middleware.ApiCacheControlMiddleware",
    "accounts.middleware.UploadLimitMiddleware",
    # Last, as django-axes asks: it turns a locked-out log-in into accounts.lockout's 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "convertall.urls"
WSGI_APPLICATION = "convertall.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite under var/ unless DATABASE_URL is set -------------------
def _database_url():
    """DATABASE_URL, else one built from DATABASE_HOST/_PORT/_NAME/_USER/_PASSWORD: on AWS the
    user and password come from the secret that RDS generates and rotates (infra/compute)."""
    host = env("DATABASE_HOST", default="")
    if env("DATABASE_URL", default="") or not host:
        return env("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'convertall.sqlite3'}")
    user, password = (quote(env(name), safe="") for name in ("DATABASE_USER", "DATABASE_PASSWORD"))
    port, name = env("DATABASE_PORT", default="5432"), env("DATABASE_NAME", default="convertall")
    return f"postgres://{user}:{password}@{host}:{port}/{name}?sslmode={env('DATABASE_SSLMODE', default='require')}"


DATABASES = {"default": env.db_url_config(_database_url())}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the status endpoint read while a worker thread writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    # Fail fast when PostgreSQL is down: the API answers 503 instead of hanging.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, its health check a poll of the socket instead of a SELECT 1 (convertall/db/postgresql).
        DATABASES["default"]["ENGINE"] = "convertall.db.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, sessions in production) ----------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis outage must cost a second at most, never hang a request.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Storage: two aliases, local folders or S3 buckets ----------------------
STORAGE_BACKEND = env("STORAGE_BACKEND", default="s3" if env("S3_BUCKET", default="") else "local")
STORAGE_DIR = Path(env("STORAGE_DIR", default=str(VAR_DIR / "storage")))
S3_BUCKET = env("S3_BUCKET", default="")
S3_OUTPUTS_BUCKET = env("S3_OUTPUTS_BUCKET", default=S3_BUCKET)
S3_ENDPOINT_URL = env("S3_ENDPOINT_URL", default=None)
S3_REGION = env("AWS_DEFAULT_REGION", default="us-east-1")
PRESIGNED_URL_SECONDS = env.int("PRESIGNED_URL_SECONDS", default=300)
# How long a presigned POST of /api/v1/uploads accepts its file (S3 checks it when the POST starts).
DIRECT_UPLOAD_SECONDS = env.int("DIRECT_UPLOAD_SECONDS", default=3600)

STORAGES = wiring.storages(
    STORAGE_BACKEND, STORAGE_DIR, S3_BUCKET, S3_OUTPUTS_BUCKET, endpoint_url=S3_ENDPOINT_URL, region=S3_REGION,
    expire_seconds=PRESIGNED_URL_SECONDS, addressing_style=env("S3_ADDRESSING_STYLE", default="path"),
)

# --- Dramatiq --------------------------------------------------------------
# Backstop wall-clock limit of one job per queue (each tool also has its own timeout).
QUEUE_TIME_LIMITS = {
    "documents": env.int("DOCUMENTS_TIME_LIMIT_SECONDS", default=900),
    "media": env.int("MEDIA_TIME_LIMIT_SECONDS", default=3600),
    "filters": env.int("FILTERS_TIME_LIMIT_SECONDS", default=3600),
}
# Redis consumers sleep up to this long when idle before they look again, so
# a job arriving after a quiet spell waits part of it (medians measured in
# bench/RESULTS.md: 1000 ms -> 640 ms, 50 -> 26, 20 -> 5) for a few % of a
# core per idle worker process. `manage.py rundramatiq` execs dramatiq with this
# environment, which dramatiq reads at import, before Django's settings.
DRAMATIQ_WORKER_TIMEOUT_MS = env.int("DRAMATIQ_WORKER_TIMEOUT_MS", default=20)
os.environ.setdefault("dramatiq_worker_timeout", str(DRAMATIQ_WORKER_TIMEOUT_MS))
# A worker that stops heartbeating for this long has its unacked messages
# handed to other workers (Redis broker only).
DRAMATIQ_HEARTBEAT_TIMEOUT_MS = env.int("DRAMATIQ_HEARTBEAT_TIMEOUT_MS", default=15000)
DRAMATIQ_BROKER = wiring.dramatiq_broker(REDIS_URL, DRAMATIQ_HEARTBEAT_TIMEOUT_MS)
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
# Embedded default: worker threads inside the web process serve every queue.
EMBEDDED_WORKERS = env.bool("EMBEDDED_WORKERS", default=not REDIS_URL)
EMBEDDED_WORKER_THREADS = env.int("EMBEDDED_WORKER_THREADS", default=4)

# --- Jobs and limits -------------------------------------------------------
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=500 * 1024 * 1024)
# 210 MP: the 200 MP photos of today's phones (16320x12240) pass; absurd headers do not.
MAX_IMAGE_PIXELS = env.int("MAX_IMAGE_PIXELS", default=210_000_000)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
# Per job: bytes under its work dir (pages and zips included) and pixels decoded or drawn; 0: none.
JOB_MAX_DISK_MB = env.int("JOB_MAX_DISK_MB", default=4096)
JOB_MAX_PIXELS = env.int("JOB_MAX_PIXELS", default=2_000_000_000)
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=60)
REQUEUE_AFTER_SECONDS = env.int("REQUEUE_AFTER_SECONDS", default=120)
UPLOAD_RETENTION_HOURS = env.int("UPLOAD_RETENTION_HOURS", default=24)
OUTPUT_RETENTION_HOURS = env.int("OUTPUT_RETENTION_HOURS", default=48)

# Test/bench-only converter modules (tests/e2e/slow_converter.py); empty in production.
# Catalog and converter pages: how long a CDN and browsers may keep them.
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=600)
EXTRA_CONVERTER_MODULES = env.list("EXTRA_CONVERTER_MODULES", default=[])

# --- Scheduler (`manage.py scheduler`) ------------------------------------------
RECONCILE_INTERVAL_SECONDS = env.int("RECONCILE_INTERVAL_SECONDS", default=30)
PURGE_INTERVAL_SECONDS = env.int("PURGE_INTERVAL_SECONDS", default=300)
# dramatiq-crontab's Redis lock: one scheduler runs; others wait as standbys.
DRAMATIQ_CRONTAB = {
    "REDIS_URL": REDIS_URL or None,
    "LOCK_TIMEOUT": env.int("SCHEDULER_LOCK_TIMEOUT", default=10),
    "LOCK_REFRESH_INTERVAL": env.int("SCHEDULER_LOCK_REFRESH", default=3),
    "LOCK_BLOCKING_TIMEOUT": 5,
}
WORK_DIR = Path(env("WORK_DIR", default=str(VAR_DIR / "work")))
RUNNER_TIMEOUT_SECONDS = env.int("RUNNER_TIMEOUT_SECONDS", default=300)
RUNNER_MEMORY_MB = env.int("RUNNER_MEMORY_MB", default=2048)
RUNNER_MAX_OUTPUT_MB = env.int("RUNNER_MAX_OUTPUT_MB", default=2048)
# Processes (threads count) one tool's uid may have while it runs: a fork-bomb stop, not a quota.
RUNNER_MAX_PROCESSES = env.int("RUNNER_MAX_PROCESSES", default=512)
# The sandbox around every tool (conversions/engine/sandbox.py): the layers a worker refuses to start without,
# and switches to leave one out (SANDBOX_NAMESPACES=0 is what ECS Fargate allows).
SANDBOX_REQUIRE = env.list("SANDBOX_REQUIRE", default=["seccomp", "nondumpable"])
SANDBOX_NAMESPACES = env.bool("SANDBOX_NAMESPACES", default=True)
SANDBOX_LANDLOCK = env.bool("SANDBOX_LANDLOCK", default=True)
SANDBOX_PYTHON = env("SANDBOX_PYTHON", default="")
# The budget of one decoder child (conversions/decoders.py): images, PDFs, zips.
DECODER_MEMORY_MB = env.int("DECODER_MEMORY_MB", default=3072)
DECODER_TIMEOUT_SECONDS = env.int("DECODER_TIMEOUT_SECONDS", default=300)
# Keep one decoder child started ahead of need in each worker process (saves ~0.17 s a job).
DECODER_WARM_SPARE = env.bool("DECODER_WARM_SPARE", default=True)

# --- Documents: the warm LibreOffice bridge (conversions/documents/office_bridge.py).
OFFICE_PYTHON = env("OFFICE_PYTHON", default="/usr/bin/python3")  # the Python that imports uno
OFFICE_BRIDGE_RESTART_AFTER = env.int("OFFICE_BRIDGE_RESTART_AFTER", default=50)
OFFICE_BRIDGE_TIMEOUT_SECONDS = env.float("OFFICE_BRIDGE_TIMEOUT_SECONDS", default=120)
OFFICE_BRIDGE_START_SECONDS = env.int("OFFICE_BRIDGE_START_SECONDS", default=60)
OFFICE_POOL_SIZE = env.int("OFFICE_POOL_SIZE", default=1)  # warm LibreOffice instances per worker process
OFFICE_BRIDGE_MEMORY_MB = env.int("OFFICE_BRIDGE_MEMORY_MB", default=3072)  # address space of bridge + soffice; 0: none
# Zip containers (OOXML, ODF, EPUB) are checked before any tool opens them.
ARCHIVE_MAX_UNCOMPRESSED_MB = env.int("ARCHIVE_MAX_UNCOMPRESSED_MB", default=512)
ARCHIVE_MAX_RATIO = env.int("ARCHIVE_MAX_RATIO", default=200)
ARCHIVE_MAX_ENTRIES = env.int("ARCHIVE_MAX_ENTRIES", default=10000)

# --- Media (ffmpeg): caps checked from ffprobe's answer before any transcode.
MEDIA_MAX_DURATION_SECONDS = env.int("MEDIA_MAX_DURATION_SECONDS", default=3 * 3600)
MEDIA_MAX_WIDTH = env.int("MEDIA_MAX_WIDTH", default=7680)
MEDIA_MAX_HEIGHT = env.int("MEDIA_MAX_HEIGHT", default=4320)
MEDIA_MAX_FRAMES = env.int("MEDIA_MAX_FRAMES", default=1_000_000)
MEDIA_MAX_GIF_SECONDS = env.int("MEDIA_MAX_GIF_SECONDS", default=120)
MEDIA_PROBE_TIMEOUT_SECONDS = env.int("MEDIA_PROBE_TIMEOUT_SECONDS", default=30)
MEDIA_PROBE_SPARES = env.int("MEDIA_PROBE_SPARES", default=2)
MEDIA_MEMORY_MB = env.int("MEDIA_MEMORY_MB", default=4096)

# Uploads always go to a temporary file: never read whole into memory.
FILE_UPLOAD_HANDLERS = ["conversions.files.uploads.LimitedUploadHandler"]
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default=None)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- API -------------------------------------------------------------------
REST_FRAMEWORK = wiring.REST_FRAMEWORK
# --- Limits of a public deployment ------------------------------------------------
# The submit rate limit and the per-user quotas guard a public service from
# abuse; on someone's own machine they only lock its owner out. So they are on
# by default with DJANGO_ENV=production and off by default otherwise (the
# embedded default of `make run`); each variable sets its own limit in both.
PUBLIC_LIMITS = env.bool("PUBLIC_LIMITS", default=PRODUCTION)
# Uploads per client IP: "<n>/<s|min|hour|day>"; empty, "0" or "off": no limit.
RATE_LIMIT = env("RATE_LIMIT", default="100/min" if PUBLIC_LIMITS else "off")
# A family with this many jobs queued answers 503 + Retry-After (0: no limit).
QUEUE_MAX_DEPTH = env.int("QUEUE_MAX_DEPTH", default=1000)
QUEUE_FULL_RETRY_AFTER = env.int("QUEUE_FULL_RETRY_AFTER", default=30)
# Client IP comes from proxy headers only when the direct peer is one of these.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Benchmark-only views (bench/pipeline.py: the bare-view ceiling); never on in production.
BENCH_VIEWS = env.bool("BENCH_VIEWS", default=False)
SPECTACULAR_SETTINGS = wiring.SPECTACULAR_SETTINGS

# --- Static files ----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- Auth, i18n ------------------------------------------------------------
# Pages carry a Content-Security-Policy (conversions/web/csp.py); 1 only reports violations.
CSP_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)
# Log-in and admin log-in lockout (django-axes), per account and per address
# (conversions.web.clientip: the Cloudflare-aware client IP, IPv6 by /64). The
# counters are rows in the database, the one store every web process shares
# in both the embedded default and production (the cache handler refuses
# the embedded default's per-process memory cache).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_CLIENT_IP_CALLABLE = "conversions.web.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out"
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_VERBOSE = False  # its start-up banner went to stdout, into `manage.py convert` output
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/"
LOGOUT_REDIRECT_URL = "/"
# The console default suits `make run`; `check --deploy` refuses it (conversions/ops/checks.py).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Convert-All <noreply@localhost>")


def _quota(tier, max_upload_mb, jobs_per_day, concurrent_jobs, retention_hours):
    """One kind of user's limits (conversions/jobs/quotas.py); 0 means no limit of its own.

    The three limits default to the values given when PUBLIC_LIMITS (production)
    and to 0 otherwise; retention is not a limit and is the same in both.
    """
    prefix = f"QUOTA_{tier.upper()}_"

    def public(value):
        return value if PUBLIC_LIMITS else 0

    return {
        "max_upload_mb": env.int(prefix + "MAX_UPLOAD_MB", default=public(max_upload_mb)),
        "jobs_per_day": env.int(prefix + "JOBS_PER_DAY", default=public(jobs_per_day)),
        "concurrent_jobs": env.int(prefix + "CONCURRENT_JOBS", default=public(concurrent_jobs)),
        "retention_hours": env.int(prefix + "RETENTION_HOURS", default=retention_hours),
    }


# Production defaults (see PUBLIC_LIMITS); MAX_UPLOAD_BYTES stays the ceiling for everyone.
QUOTAS = {
    "anonymous": _quota("anonymous", 100, 50, 3, 24),
    "user": _quota("user", 500, 500, 5, 48),
    "staff": _quota("staff", 0, 0, 20, 168),
}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ---------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
# json: one object per line on stdout with request_id, job_id, family, tool, seconds.
LOG_FORMAT = env("LOG_FORMAT", default="json" if PRODUCTION else "plain")
LOGGING = wiring.logging_config(LOG_LEVEL, LOG_FORMAT)

# --- Observability ---------------------------------------------------------
# /metrics answers these networks, or any caller with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Workers write a Redis key per queue this often (TTL three times as long).
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=5.0)
# The scheduler writes queue depth, oldest job age and job outcomes as CloudWatch
# embedded-metric-format lines every minute (conversions/ops/emf.py): on in production.
CLOUDWATCH_EMF = env.bool("CLOUDWATCH_EMF", default=PRODUCTION)
# /api/v1/health fails when a queue has no live worker (Redis broker only).
HEALTH_REQUIRE_WORKERS = env.bool("HEALTH_REQUIRE_WORKERS", default=True)

# --- Security (production defaults; TLS ends at the load balancer) ------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=PRODUCTION) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# The load balancer's and ECS's health checks and Prometheus call the task over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^api/health$", r"^api/v1/health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

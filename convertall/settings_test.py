"""Test settings: only overrides of convertall.settings."""

import os
import tempfile

os.environ.setdefault("CONVERTALL_VAR_DIR", tempfile.mkdtemp(prefix="convertall-test-"))
os.environ.setdefault("EMBEDDED_WORKERS", "0")

# pytest-django imports these settings before the root conftest.py runs, so
# the PostgreSQL URL has to be found here; set in conftest it came too late
# and the suite silently ran on in-memory SQLite.
if not os.environ.get("DATABASE_URL"):
    from tests import services as _services

    if _services.postgres_url():
        os.environ["DATABASE_URL"] = _services.postgres_url()

from convertall.settings import *  # noqa: E402,F401,F403
from convertall.settings import DATABASES, DRAMATIQ_BROKER  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Several suites may run at once on one server: each gets its own test database.
    DATABASES["default"]["TEST"] = {"NAME": f"test_convertall_{os.getpid()}"}

# Tests run actors on Dramatiq's stub broker; end-to-end tests start real
# worker processes against Redis themselves.
DRAMATIQ_BROKER = {**DRAMATIQ_BROKER, "BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# On (and generous) so that every submission still goes through the throttle's counter.
RATE_LIMIT = "10000/min"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Per-user quotas off by default (other suites submit freely); quota tests set their own.
QUOTAS = {tier: {**limits, "jobs_per_day": 0, "concurrent_jobs": 0} for tier, limits in QUOTAS.items()}  # noqa: F405
# Tests only: a decoder child whose source starts with this marker segfaults on purpose
# (conversions/decoder_child.py), to show that a crash fails the job and spares the worker.
DECODER_TEST_CRASH_MARKER = "CONVERTALL-TEST-SEGFAULT"

"""Loaded before Django: point the suite at real PostgreSQL (started if absent)."""

import os

from tests import services

os.environ.update({k: v for k, v in services.S3_ENV.items() if k not in os.environ})
_pg = services.postgres_url()
if _pg:
    os.environ["DATABASE_URL"] = _pg
elif services.CI:
    raise SystemExit("CI=true: no PostgreSQL on 127.0.0.1:5432 and none could be started")

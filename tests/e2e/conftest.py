"""The production-shaped stack, started once per test session for the e2e tests."""

import time

import pytest
import requests

from tests import services


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """gunicorn + one Dramatiq worker per queue on PostgreSQL, Redis and moto S3."""
    services.require(services.postgres_url(), "PostgreSQL is not running and could not be started")
    services.require(services.redis_url(), "Redis is not running and redis-server is not installed")
    services.require(services.s3_endpoint(), "moto_server could not be started")
    from scripts.stack import Stack

    stack = Stack(log_dir=tmp_path_factory.mktemp("stack-logs"), web_workers=1, worker_timeout_ms=50)
    try:
        stack.start()
    except Exception as exc:  # whatever broke, what was started is stopped
        stack.stop()
        pytest.fail(f"the stack did not start: {exc!r}", pytrace=False)
    yield stack
    stack.stop()


@pytest.fixture
def http(stack):
    with requests.Session() as session:
        yield session


def wait_status(http, url, want=("succeeded", "failed"), timeout=60):
    """Poll a status URL until the job reaches one of `want`; the last body."""
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        body = http.get(url, timeout=10).json()
        if body["status"] in want:
            return body
        time.sleep(0.05)
    raise AssertionError(f"job did not reach {want} in {timeout}s: {body}")

# pillow-heif before anything loads libvips (media/vips.py says why).
import pillow_heif  # noqa: F401

import dramatiq
import pytest
from dramatiq import Message
from rest_framework.test import APIClient

from conversions.errors import TransientError
from tests import services


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture(autouse=True)
def _clean_broker_and_cache():
    from django.core.cache import cache

    cache.clear()
    broker = dramatiq.get_broker()
    if hasattr(broker, "flush_all"):
        broker.flush_all()
    yield


@pytest.fixture(autouse=True)
def _own_storage(settings, tmp_path):
    """Each test gets empty local uploads/outputs folders (s3_storages overrides them)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "storage" / "uploads"), "allow_overwrite": True}},
        "outputs": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "storage" / "outputs"), "allow_overwrite": True}},
    }
    yield


def drain(max_rounds=10):
    """Run every message waiting on the stub broker, in this thread (same DB transaction).

    In the test's thread on purpose (the rows are in its transaction), so no
    worker middleware runs: a retriable error leaves the job row queued for
    the test to see; every other exception propagates to the test.
    """
    import conversions.tasks  # noqa: F401

    broker = dramatiq.get_broker()
    ran = 0
    for _ in range(max_rounds):
        pending = False
        for queue_name, queue in list(broker.queues.items()):
            while not queue.empty():
                pending = True
                message = Message.decode(queue.get_nowait())
                try:
                    broker.get_actor(message.actor_name).fn(*message.args, **message.kwargs)
                except TransientError:
                    # What Dramatiq's Retries middleware would retry: the row is back in
                    # `queued`, and tests assert on it. Anything else is a bug and surfaces.
                    pass
                ran += 1
        if not pending:
            break
    return ran


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Submit inside this context; on exit the enqueued jobs run synchronously."""

    class Runner:
        def __enter__(self):
            self._cm = django_capture_on_commit_callbacks(execute=True)
            self._cm.__enter__()
            return self

        def __exit__(self, *exc):
            self._cm.__exit__(*exc)
            drain()

    return Runner


@pytest.fixture(scope="session")
def redis_url():
    url = services.redis_url()
    services.require(url, "Redis is not running and redis-server is not installed")
    return url


@pytest.fixture(scope="session")
def s3_endpoint():
    url = services.s3_endpoint()
    services.require(url, "moto_server could not be started")
    return url


@pytest.fixture
def s3_storages(settings, s3_endpoint):
    """Point the uploads and outputs aliases at fresh buckets on the S3 server."""
    import uuid

    bucket = f"test-{uuid.uuid4().hex[:12]}"
    client = services.make_bucket(s3_endpoint, bucket)
    opts = {
        "bucket_name": bucket,
        "endpoint_url": s3_endpoint,
        "region_name": "us-east-1",
        "signature_version": "s3v4",
        "file_overwrite": True,
        "querystring_auth": True,
        "addressing_style": "path",
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": opts},
        "outputs": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": opts},
    }
    # Django's setting_changed signal rebuilds the storage handler both ways.
    yield client, bucket

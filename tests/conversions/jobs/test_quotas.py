from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from conversions.jobs import quotas
from accounts.models import ApiKey
from conversions.models import Job, JobStatus
from tests.builders import image_bytes, upload

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture
def limits(settings):
    settings.MAX_UPLOAD_BYTES = 500 * MB
    settings.QUOTAS = {
        "anonymous": {"max_upload_mb": 1, "jobs_per_day": 3, "concurrent_jobs": 2, "retention_hours": 24},
        "user": {"max_upload_mb": 2, "jobs_per_day": 5, "concurrent_jobs": 3, "retention_hours": 48},
        "staff": {"max_upload_mb": 0, "jobs_per_day": 0, "concurrent_jobs": 0, "retention_hours": 168},
    }
    return settings.QUOTAS


def post_api(api, data=None, **extra):
    data = image_bytes() if data is None else data
    return api.post("/api/v1/convert", {"file": upload("a.png", data), "targetFormat": "jpg"}, format="multipart", **extra)


def post_page(client, data=None):
    data = image_bytes() if data is None else data
    return client.post("/convert", {"file": upload("a.png", data), "converter": "png-to-jpg"}, HTTP_ORIGIN="http://testserver")


def make_jobs(n, status=JobStatus.SUCCEEDED, **fields):
    for _ in range(n):
        Job.objects.create(family="media", source_format="png", target_format="jpg", original_filename="x.png",
                           status=status, **fields)


def test_tiers_and_limits(limits, settings):
    staff = User.objects.create_user("s", is_staff=True)
    user = User.objects.create_user("u")
    assert quotas.limits_for(None).max_upload_bytes == 1 * MB
    assert quotas.limits_for(user).tier == "user" and quotas.limits_for(user).max_upload_bytes == 2 * MB
    assert quotas.limits_for(staff).max_upload_bytes == 500 * MB  # 0: the global ceiling
    settings.MAX_UPLOAD_BYTES = MB // 2
    assert quotas.limits_for(user).max_upload_bytes == MB // 2  # the ceiling wins


def test_anonymous_jobs_per_day_api_and_page(limits, api, client):
    make_jobs(3, client_ip="127.0.0.1")
    make_jobs(5, client_ip="10.0.0.9")  # someone else's address does not count
    resp = post_api(api)
    assert resp.status_code == 429
    body = resp.json()["error"]
    assert body["code"] == "daily_limit"
    assert "3 conversions a day for anonymous users" in body["message"] and "00:00 UTC" in body["message"]
    assert 0 < int(resp["Retry-After"]) <= 86400
    page = post_page(client)
    assert page.status_code == 429 and "Daily limit reached" in page.content.decode()
    assert page["Retry-After"]
    assert Job.objects.count() == 8


def test_yesterdays_jobs_do_not_count(limits, api):
    make_jobs(3, client_ip="127.0.0.1", created_at=quotas.day_start() - timedelta(minutes=1))
    assert post_api(api).status_code == 202


def test_concurrent_jobs(limits, api):
    make_jobs(2, status=JobStatus.QUEUED, client_ip="127.0.0.1")
    resp = post_api(api)
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "concurrent_limit"
    assert "2 at a time" in resp.json()["error"]["message"] and resp["Retry-After"] == "5"
    Job.objects.update(status=JobStatus.SUCCEEDED)
    assert post_api(api).status_code == 202


def test_signed_in_limits_count_their_own_jobs(limits, client):
    user = User.objects.create_user("u", password="pw-long-enough-1")
    make_jobs(4, client_ip="127.0.0.1")  # anonymous jobs from the same address do not count
    make_jobs(5, owner=user)
    client.force_login(user)
    resp = post_page(client)
    assert resp.status_code == 429 and "5 conversions a day for signed-in users" in resp.content.decode()


def test_api_key_user_gets_user_limits(limits, api):
    user = User.objects.create_user("u")
    _, raw = ApiKey.generate(user=user, name="k")
    big = b"\x89PNG" + b"\0" * (int(1.5 * MB))
    resp = post_api(api, data=big)  # anonymous: 1 MB
    assert resp.status_code == 413 and "1 MB limit for anonymous users" in resp.json()["error"]["message"]
    resp = post_api(api, data=b"\x89PNG" + b"\0" * (3 * MB), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert resp.status_code == 413 and "2 MB limit for signed-in users." in resp.json()["error"]["message"]
    resp = post_api(api, data=image_bytes(size=(900, 900)) , HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert resp.status_code == 202
    make_jobs(5, owner=user)
    resp = post_api(api, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert resp.status_code == 429 and "signed-in users" in resp.json()["error"]["message"]


def test_upload_size_per_tier_on_the_page(limits, client):
    big = image_bytes(size=(10, 10)) + b"\0" * int(1.5 * MB)
    resp = post_page(client, data=big)
    assert resp.status_code == 413
    assert "larger than the 1 MB limit for anonymous users (sign in to upload up to 2 MB)" in resp.content.decode()
    user = User.objects.create_user("u", password="pw-long-enough-1")
    client.force_login(user)
    resp = post_page(client, data=big)
    assert resp.status_code != 413  # 2 MB for signed-in users


def test_staff_unlimited(limits, api):
    staff = User.objects.create_user("s", is_staff=True)
    api.force_authenticate(staff)
    make_jobs(50, owner=staff, status=JobStatus.QUEUED)
    assert post_api(api).status_code == 202


def test_retention_follows_the_owners_tier(limits, client, run_jobs):
    user = User.objects.create_user("u", password="pw-long-enough-1")
    with run_jobs():
        post_page(client)
    client.force_login(user)
    with run_jobs():
        post_page(client)
    anon, owned = Job.objects.get(owner=None), Job.objects.get(owner=user)
    assert abs((anon.expires_at - anon.finished_at) - timedelta(hours=24)) < timedelta(seconds=5)
    assert abs((owned.expires_at - owned.finished_at) - timedelta(hours=48)) < timedelta(seconds=5)


def test_account_page_shows_usage(limits, client):
    user = User.objects.create_user("u", password="pw-long-enough-1")
    make_jobs(2, owner=user)
    client.force_login(user)
    html = client.get("/accounts/").content.decode()
    assert "2 / 5" in html and "2.0\xa0MB" in html and "48 hours" in html


def test_the_count_is_repeated_atomically_when_the_row_is_inserted(limits):
    """A caller who passed the early check is still refused when the slots filled meanwhile."""
    from django.db import connection

    quotas.enforce(user=None, client_ip="127.0.0.1")  # one slot of two free: passes
    job = Job(family="media", source_format="png", target_format="jpg", original_filename="x.png",
              client_ip="127.0.0.1")
    make_jobs(2, status=JobStatus.QUEUED, client_ip="127.0.0.1")  # another upload took the slots
    with pytest.raises(quotas.QuotaExceeded) as refused:
        with quotas.admitted(job):
            job.save(force_insert=True)
    assert refused.value.code == "concurrent_limit"
    assert not Job.objects.filter(pk=job.pk).exists()
    Job.objects.update(status=JobStatus.SUCCEEDED)
    with quotas.admitted(job):
        if connection.vendor == "postgresql":  # the caller's admission lock is held until commit
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
                               [quotas.ADVISORY_LOCK_CLASS])
                assert cursor.fetchone()[0] == 1
        job.save(force_insert=True)
    assert Job.objects.filter(pk=job.pk).exists()


def test_sign_in_is_suggested_only_where_it_lifts_the_limit(limits, settings, api):
    make_jobs(2, status=JobStatus.QUEUED, client_ip="127.0.0.1")
    assert "Sign in for higher limits." in post_api(api).json()["error"]["message"]  # users: 3 at once
    settings.QUOTAS = {**limits, "user": {**limits["user"], "concurrent_jobs": 2}}
    assert "Sign in" not in post_api(api).json()["error"]["message"]  # the same 2 for everyone
    settings.QUOTAS = {**limits, "user": {**limits["user"], "concurrent_jobs": 0}}
    assert "Sign in for higher limits." in post_api(api).json()["error"]["message"]  # users: no limit

import re

import pytest
from django.contrib.auth.models import User

from accounts.models import ApiKey, hash_key
from conversions.models import Job
from tests.builders import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(client):
    user = User.objects.create_user("ann", "ann@example.com", "pw-long-enough-1")
    client.force_login(user)
    return user


def create_key(client, name="laptop"):
    resp = client.post("/accounts/keys/", {"name": name})
    assert resp.status_code == 201
    return re.search(r'value="(ca_[^"]+)" data-new-key', resp.content.decode()).group(1)


def test_key_is_shown_once_and_stored_hashed(client, ann):
    raw = create_key(client)
    key = ApiKey.objects.get()
    assert key.user == ann and key.name == "laptop"
    assert key.key_hash == hash_key(raw) and raw not in key.key_hash and key.prefix == raw[:10]
    page = client.get("/accounts/").content.decode()
    assert raw not in page and key.prefix in page and "never" in page


def test_key_name_is_required(client, ann):
    resp = client.post("/accounts/keys/", {"name": ""})
    assert resp.status_code == 400 and not ApiKey.objects.exists()


def test_bearer_key_authenticates_the_api_and_owns_its_jobs(client, ann, api, run_jobs):
    raw = create_key(client)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload("a.png", image_bytes()), "targetFormat": "jpg"}, format="multipart")
    assert resp.status_code == 202
    job = Job.objects.get()
    assert job.owner == ann
    assert api.get(f"/api/v1/status/{job.pk}").json()["status"] == "succeeded"
    assert api.get("/api/v1/jobs").json()["count"] == 1
    assert ApiKey.objects.get().last_used_at is not None
    # Without the key the job is someone else's: 404.
    assert type(api)().get(f"/api/v1/status/{job.pk}").status_code == 404


def test_wrong_or_revoked_key_is_401(client, ann, api):
    raw = create_key(client)
    api.credentials(HTTP_AUTHORIZATION="Bearer ca_nope")
    resp = api.get("/api/v1/jobs")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "not_authenticated"
    assert resp["WWW-Authenticate"].startswith("Bearer")
    key = ApiKey.objects.get()
    resp = client.post(f"/accounts/keys/{key.pk}/revoke")
    assert resp.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/jobs").status_code == 401
    assert "revoked" in client.get("/accounts/").content.decode()


def test_cannot_revoke_someone_elses_key(client, ann):
    bob = User.objects.create_user("bob", password="pw-long-enough-1")
    key, _ = ApiKey.generate(user=bob, name="bob's")
    assert client.post(f"/accounts/keys/{key.pk}/revoke").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_bearer_requests_need_no_csrf(client, ann, run_jobs):
    raw = create_key(client)
    from rest_framework.test import APIClient

    strict = APIClient(enforce_csrf_checks=True)
    resp = strict.post(
        "/api/v1/convert",
        {"file": upload("a.png", image_bytes()), "targetFormat": "jpg"},
        format="multipart",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert resp.status_code == 202


def test_schema_documents_the_bearer_scheme(api):
    resp = api.get("/api/v1/schema?format=json")
    assert resp.status_code == 200
    schemes = resp.json()["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "http", "scheme": "bearer"}

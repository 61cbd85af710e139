"""The converter page's direct-upload path (S3 storage), up to what a browser does; tests/browser drives a real one."""

import pytest
import requests

from conversions.models import Job, JobStatus, Upload
from tests.builders import image_bytes

pytestmark = pytest.mark.django_db

ORIGIN = {"HTTP_ORIGIN": "http://testserver"}
JSON = {"HTTP_ACCEPT": "application/json"}


def test_local_storage_pages_keep_multipart_and_their_csp(client):
    resp = client.get("/converters/png-to-webp")
    assert "data-direct-uploads" not in resp.content.decode()
    assert "connect-src 'self';" in resp["Content-Security-Policy"]
    filter_page = client.get("/filters/image-grayscale")
    assert filter_page.status_code == 200 and "data-direct-uploads" not in filter_page.content.decode()


def test_s3_pages_offer_the_direct_path_and_let_scripts_reach_the_bucket(client, s3_storages, s3_endpoint):
    resp = client.get("/converters/png-to-webp")
    assert 'data-direct-uploads="/uploads"' in resp.content.decode()
    assert f"connect-src 'self' {s3_endpoint};" in resp["Content-Security-Policy"]
    assert resp["Cache-Control"].startswith("public")


def test_the_page_uploads_to_the_bucket_then_submits_the_uploadid(client, run_jobs, s3_storages):
    resp = client.post("/uploads", {"filename": "photo.png"}, **ORIGIN, **JSON)
    assert resp.status_code == 201, resp.content
    ticket = resp.json()
    sent = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("photo.png", image_bytes())}, timeout=20)
    assert sent.status_code == 204
    with run_jobs():
        resp = client.post("/convert?converter=png-to-webp", {"uploadId": ticket["uploadId"]}, **ORIGIN, **JSON)
    assert resp.status_code == 202, resp.content
    job = Job.objects.get(pk=resp.json()["jobId"])
    upload = Upload.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.session_key == upload.session_key == client.session.session_key
    assert upload.owner is None and upload.job == job


def test_cross_site_upload_requests_are_refused(client, s3_storages):
    resp = client.post("/uploads", {"filename": "photo.png"}, HTTP_ORIGIN="https://evil.example", **JSON)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "cross_site"
    assert not Upload.objects.exists()


def test_the_upload_endpoint_says_why_with_local_storage(client):
    resp = client.post("/uploads", {"filename": "photo.png"}, **ORIGIN, **JSON)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "uploads_unavailable"


def test_the_filter_page_submits_an_uploadid_too(client, run_jobs, s3_storages):
    assert 'data-direct-uploads="/uploads"' in client.get("/filters/image-grayscale").content.decode()
    ticket = client.post("/uploads", {"filename": "photo.png"}, **ORIGIN, **JSON).json()
    sent = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("photo.png", image_bytes())}, timeout=20)
    assert sent.status_code == 204
    with run_jobs():
        resp = client.post("/filter?filter=image-grayscale", {"uploadId": ticket["uploadId"]}, **ORIGIN, **JSON)
    assert resp.status_code == 202, resp.content
    job = Job.objects.get(pk=resp.json()["jobId"])
    assert job.kind == Job.Kind.FILTER and job.status == JobStatus.SUCCEEDED, job.error_message

"""Uploads straight to the bucket (POST /api/v1/uploads, then uploadId) on a real S3 server (moto on loopback).

Files go to moto through the presigned POST over HTTP, as a browser or curl
would send them, and the jobs run through the real worker path.
"""

import base64
import io
import json
from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import User
from django.utils import timezone
from PIL import Image

from accounts.models import ApiKey
from conversions.files import storage
from conversions.jobs import direct, reconcile
from conversions.models import Job, JobStatus, Upload
from tests.builders import image_bytes, upload

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def presign(api, filename="photo.png"):
    resp = api.post("/api/v1/uploads", {"filename": filename}, format="json")
    assert resp.status_code == 201, resp.content
    return resp.json()


def send(answer, data, name="photo.png"):
    """POST the file to S3 with the presigned fields, the file last (as S3 requires)."""
    return requests.post(answer["url"], data=answer["fields"], files={"file": (name, data)}, timeout=20)


def uploaded(api, data, filename="photo.png"):
    answer = presign(api, filename)
    resp = send(answer, data, filename)
    assert resp.status_code in (200, 201, 204), resp.text
    return answer["uploadId"]


def keys(client, bucket):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_presigned_post_then_convert_succeeds(api, run_jobs, s3_storages):
    client, bucket = s3_storages
    upload_id = uploaded(api, image_bytes(size=(64, 48)))
    with run_jobs():
        resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["jobId"]
    status = api.get(f"/api/v1/status/{job_id}").json()
    assert status["status"] == "succeeded", status
    assert status["sourceFormat"] == "png" and status["filename"] == "photo.png"
    job = Job.objects.get(pk=job_id)
    assert job.detected_type == "image/png" and job.source_key == direct.key_of(upload_id)
    assert Upload.objects.get().job_id == job.pk and Upload.objects.get().key == job.source_key
    assert keys(client, bucket) == [f"outputs/{job_id}/result.webp", direct.key_of(upload_id)]
    fetched = requests.get(api.get(f"/api/v1/download/{job_id}")["Location"], timeout=10)
    with Image.open(io.BytesIO(fetched.content)) as im:
        assert im.format == "WEBP" and im.size == (64, 48)


def test_multipart_upload_field_works_for_the_uploadid_too(api, run_jobs, s3_storages):
    upload_id = uploaded(api, image_bytes())
    with run_jobs():
        resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "jpg"}, format="multipart")
    assert resp.status_code == 202, resp.content
    assert Job.objects.get().status == JobStatus.SUCCEEDED


def test_filter_takes_an_uploadid(api, run_jobs, s3_storages):
    upload_id = uploaded(api, image_bytes(size=(80, 40)))
    ops = json.dumps([{"op": "grayscale"}])
    with run_jobs():
        resp = api.post("/api/v1/filter", {"uploadId": upload_id, "operations": ops}, format="multipart")
    assert resp.status_code == 202, resp.content
    job = Job.objects.get()
    assert job.kind == Job.Kind.FILTER and job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.detected_type == "image/png"


def test_the_policy_fixes_key_size_limit_and_expiry_signed_sigv4(api, s3_storages, settings):
    settings.MAX_UPLOAD_BYTES = 4096
    answer = presign(api)
    fields = answer["fields"]
    assert fields["key"] == direct.key_of(answer["uploadId"])
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and fields["x-amz-signature"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 1, 4096] in policy["conditions"]
    assert {"key": fields["key"]} in policy["conditions"]
    assert policy["expiration"].startswith(answer["expiresAt"][:16])
    assert not Upload.objects.exists()  # presigning writes nothing: the convert inserts the row


def test_an_object_over_the_limit_becomes_a_failed_job_with_the_413s_code(api, run_jobs, s3_storages, settings):
    # moto (5.2.5) stores a POST without checking its policy (moto/s3/responses.py,
    # _bucket_response_post), so the worker's own check is what this test can see.
    settings.MAX_UPLOAD_BYTES = 2000
    big = image_bytes(size=(200, 200), compress_level=0)
    assert len(big) > 2000
    refused = api.post("/api/v1/convert", {"file": upload("photo.png", big), "targetFormat": "webp"}, format="multipart")
    assert refused.status_code == 413
    upload_id = uploaded(api, big)
    with run_jobs():
        resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 202
    error = api.get(f"/api/v1/status/{resp.json()['jobId']}").json()["error"]
    assert error == refused.json()["error"]


def test_a_wrong_type_becomes_a_failed_job_with_the_415s_code_and_message(api, run_jobs, s3_storages):
    refused = api.post("/api/v1/convert", {"file": upload("photo.png", PDF), "targetFormat": "webp"}, format="multipart")
    assert refused.status_code == 415
    upload_id = uploaded(api, PDF)
    with run_jobs():
        resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 202
    status = api.get(f"/api/v1/status/{resp.json()['jobId']}").json()
    assert status["status"] == "failed"
    assert status["error"] == refused.json()["error"] and status["error"]["code"] == "type_mismatch"


def test_an_uploadid_is_used_once(api, run_jobs, s3_storages):
    upload_id = uploaded(api, image_bytes())
    with run_jobs():
        assert api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json").status_code == 202
    again = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "jpg"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "upload_used"
    assert Job.objects.count() == 1


def test_another_callers_uploadid_is_refused(api, s3_storages):
    upload_id = uploaded(api, image_bytes())
    user = User.objects.create_user("bob", "bob@example.com", "pw-long-enough-1")
    _, raw = ApiKey.generate(user=user, name="ci")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "upload_not_found"
    api.credentials()
    elsewhere = api.post(
        "/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json", REMOTE_ADDR="198.51.100.7"
    )
    assert elsewhere.status_code == 400 and elsewhere.json()["error"]["code"] == "upload_not_found"
    assert not Job.objects.exists() and not Upload.objects.exists()
    forged = upload_id[:-3] + ("AAA" if not upload_id.endswith("AAA") else "BBB")
    resp = api.post("/api/v1/convert", {"uploadId": forged, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "upload_not_found"
    assert "198.51.100.7" not in upload_id and "127.0.0.1" not in base64.urlsafe_b64decode(
        upload_id.split(":")[0].lstrip(".") + "==").decode("latin-1")


def test_an_api_keys_upload_is_its_own(api, run_jobs, s3_storages):
    user = User.objects.create_user("ann", "ann@example.com", "pw-long-enough-1")
    _, raw = ApiKey.generate(user=user, name="ci")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    upload_id = uploaded(api, image_bytes())
    api.credentials()
    anonymous = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert anonymous.status_code == 400
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with run_jobs():
        resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 202 and Job.objects.get().owner == user and Upload.objects.get().owner == user


def test_nothing_uploaded_is_a_failed_job_and_the_web_never_asks_s3(api, run_jobs, s3_storages, monkeypatch):
    answer = presign(api)
    client = storage.uploads().connection.meta.client
    monkeypatch.setattr(client, "head_object", lambda **kw: pytest.fail(f"the web asked S3 about {kw}"))
    with run_jobs():
        resp = api.post("/api/v1/convert", {"uploadId": answer["uploadId"], "targetFormat": "webp"}, format="json")
    assert resp.status_code == 202
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED and job.error_code == "upload_missing"
    assert "new uploadId" in job.error_message and "wait for S3" in job.error_message
    assert job.source_size == 0 and Upload.objects.get().job_id == job.pk  # used: a new upload is needed


def test_the_worker_learns_a_direct_uploads_size(api, run_jobs, s3_storages):
    data = image_bytes()
    upload_id = uploaded(api, data)
    with run_jobs():
        resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 202
    job = Job.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.source_size == len(data) and job.detected_type == "image/png"


def test_a_bad_pair_is_400_and_leaves_the_upload_usable(api, s3_storages):
    upload_id = uploaded(api, image_bytes())
    resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "docx"}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "unsupported_conversion"
    assert not Upload.objects.exists() and not Job.objects.exists()
    resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
    assert resp.status_code == 202 and str(Upload.objects.get().job_id) == resp.json()["jobId"]


def test_file_and_uploadid_together_is_400(api, s3_storages):
    upload_id = uploaded(api, image_bytes())
    resp = api.post(
        "/api/v1/convert",
        {"uploadId": upload_id, "file": upload("a.png", image_bytes()), "targetFormat": "webp"},
        format="multipart",
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "file_and_upload"
    assert not Job.objects.exists()


def test_uploads_need_a_filename_with_a_known_extension(api, s3_storages):
    missing = api.post("/api/v1/uploads", {}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "missing_filename"
    unknown = api.post("/api/v1/uploads", {"filename": "notes"}, format="json")
    assert unknown.status_code == 415 and unknown.json()["error"]["code"] == "unsupported_format"
    assert not Upload.objects.exists()


def test_local_storage_answers_409_uploads_unavailable(api):
    resp = api.post("/api/v1/uploads", {"filename": "photo.png"}, format="json")
    assert resp.status_code == 409
    error = resp.json()["error"]
    assert error["code"] == "uploads_unavailable" and "multipart" in error["message"]
    assert not Upload.objects.exists()


def test_an_unconverted_upload_is_purged_with_the_24h_uploads(api, run_jobs, s3_storages, settings):
    client, bucket = s3_storages
    old = uploaded(api, image_bytes())
    used = uploaded(api, image_bytes())
    with run_jobs():
        api.post("/api/v1/convert", {"uploadId": used, "targetFormat": "webp"}, format="json")
    assert reconcile.purge_old_uploads() == 0  # nothing is older than the retention yet
    assert direct.key_of(old) in keys(client, bucket)
    later = timezone.now() + timedelta(hours=settings.UPLOAD_RETENTION_HOURS, minutes=1)
    assert direct.purge_unused(later) == 1  # the untaken one; the taken one goes with its job
    remaining = keys(client, bucket)
    assert direct.key_of(old) not in remaining and direct.key_of(used) in remaining
    settings.UPLOAD_RETENTION_HOURS = 0  # its uploadId is past the retention too
    gone = api.post("/api/v1/convert", {"uploadId": old, "targetFormat": "webp"}, format="json")
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "upload_not_found"
    assert "upload the file again" in gone.json()["error"]["message"]


def test_presigning_is_rate_limited_apart_from_submits(api, run_jobs, s3_storages, settings):
    settings.RATE_LIMIT = "2/min"
    first, second = uploaded(api, image_bytes()), uploaded(api, image_bytes())
    third = api.post("/api/v1/uploads", {"filename": "photo.png"}, format="json")
    assert third.status_code == 429 and third["Retry-After"]
    # The two presigns did not use up the submits: both uploads convert.
    with run_jobs():
        for upload_id in (first, second):
            resp = api.post("/api/v1/convert", {"uploadId": upload_id, "targetFormat": "webp"}, format="json")
            assert resp.status_code == 202, resp.content

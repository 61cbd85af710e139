"""Uploads and outputs on a real S3 server (moto in server mode on loopback)."""

import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.utils import timezone
from PIL import Image

from conversions.jobs import reconcile
from conversions.models import Job, JobStatus
from tests.builders import image_bytes, upload
from tests.conftest import drain

pytestmark = pytest.mark.django_db


def submit(api, name="photo.png", target="webp"):
    resp = api.post(
        "/api/v1/convert", {"file": upload(name, image_bytes(size=(64, 48))), "targetFormat": target}, format="multipart"
    )
    assert resp.status_code == 202, resp.content
    return resp.json()["jobId"]


def keys(client, bucket, prefix=""):
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_convert_and_download_through_a_presigned_sigv4_url(api, run_jobs, s3_storages, settings):
    client, bucket = s3_storages
    with run_jobs():
        job_id = submit(api)
    assert api.get(f"/api/v1/status/{job_id}").json()["status"] == "succeeded"
    assert keys(client, bucket) == [f"outputs/{job_id}/result.webp", f"uploads/{job_id}/source.png"]

    resp = api.get(f"/api/v1/download/{job_id}")
    assert resp.status_code == 302
    url = resp["Location"]
    parts = urlsplit(url)
    assert parts.path == f"/{bucket}/outputs/{job_id}/result.webp"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == str(settings.PRESIGNED_URL_SECONDS)
    assert query["X-Amz-Credential"].endswith("/us-east-1/s3/aws4_request")
    assert query["X-Amz-Signature"] and "Signature" not in query  # no SigV2 leftovers
    assert query["response-content-disposition"] == 'attachment; filename="photo.webp"'
    assert query["response-content-type"] == "image/webp"

    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="photo.webp"'
    assert fetched.headers["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(fetched.content)) as im:
        assert im.format == "WEBP" and im.size == (64, 48)
    assert len(fetched.content) == Job.objects.get(pk=job_id).output_size

    # The legacy path answers the same way.
    assert api.get(f"/api/download/{job_id}").status_code == 302


def test_a_non_ascii_file_name_gets_an_rfc5987_disposition(api, run_jobs, s3_storages):
    with run_jobs():
        job_id = submit(api, name="фото été.png")
    url = api.get(f"/api/v1/download/{job_id}")["Location"]
    disposition = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}["response-content-disposition"]
    assert disposition == "attachment; filename*=utf-8''%D1%84%D0%BE%D1%82%D0%BE%20%C3%A9t%C3%A9.webp"
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Disposition"] == disposition


def test_keys_are_made_by_the_server_not_the_file_name(api, run_jobs, s3_storages):
    client, bucket = s3_storages
    with run_jobs():
        job_id = submit(api, name="../../outputs/other/evil.png")
    assert keys(client, bucket) == [f"outputs/{job_id}/result.webp", f"uploads/{job_id}/source.png"]
    assert Job.objects.get(pk=job_id).output_filename == "evil.webp"


def test_delivery_twice_on_s3_leaves_one_output(api, run_jobs, s3_storages):
    client, bucket = s3_storages
    with run_jobs():
        job_id = submit(api)
    job = Job.objects.get(pk=job_id)
    # Force a real second run of the converter (the first worker's lease "ran out").
    Job.objects.filter(pk=job_id).update(status=JobStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=1))
    from conversions.jobs import services

    services.job_enqueue(job)
    drain()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert keys(client, bucket, f"outputs/{job_id}/") == [f"outputs/{job_id}/result.webp"]


def test_delete_and_purge_remove_the_objects(api, run_jobs, s3_storages):
    client, bucket = s3_storages
    with run_jobs():
        deleted, expired = submit(api), submit(api)
    assert api.delete(f"/api/v1/jobs/{deleted}").status_code in (200, 202, 204)
    assert keys(client, bucket, f"uploads/{deleted}/") == [] and keys(client, bucket, f"outputs/{deleted}/") == []

    Job.objects.filter(pk=expired).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert reconcile.purge_expired() == 1
    assert keys(client, bucket) == []
    assert api.get(f"/api/v1/download/{expired}").status_code == 410


def test_old_uploads_go_while_outputs_stay_on_s3(api, run_jobs, s3_storages):
    client, bucket = s3_storages
    with run_jobs():
        job_id = submit(api)
    Job.objects.filter(pk=job_id).update(created_at=timezone.now() - timedelta(hours=30))
    assert reconcile.purge_old_uploads() == 1
    assert keys(client, bucket) == [f"outputs/{job_id}/result.webp"]
    assert api.get(f"/api/v1/download/{job_id}").status_code == 302


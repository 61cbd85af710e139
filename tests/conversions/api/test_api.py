import io
import uuid

import pytest
from django.contrib.auth.models import User
from PIL import Image

from conversions.files import storage
from conversions.models import Job, JobEvent, JobStatus
from tests.builders import image_bytes, upload

pytestmark = pytest.mark.django_db


def submit(api, name="photo.png", data=None, target="webp", path="/api/v1/convert", **extra):
    data = image_bytes() if data is None else data
    return api.post(path, {"file": upload(name, data), "targetFormat": target, **extra}, format="multipart")


def error(resp):
    body = resp.json()
    assert set(body) == {"error"}, body
    return body["error"]["code"], body["error"]["message"]


def test_convert_accepts_and_runs_the_job_to_a_download(api, run_jobs):
    with run_jobs():
        resp = submit(api)
    assert resp.status_code == 202
    body = resp.json()
    assert set(body) == {"jobId", "status", "statusUrl", "downloadUrl"}
    assert body["status"] == "queued"
    assert body["statusUrl"].endswith(f"/api/v1/status/{body['jobId']}")

    status = api.get(f"/api/v1/status/{body['jobId']}").json()
    assert status["status"] == "succeeded"
    assert status["progress"] == 100
    assert (status["sourceFormat"], status["targetFormat"], status["kind"]) == ("png", "webp", "convert")
    assert status["result"]["filename"] == "photo.webp"
    assert status["result"]["contentType"] == "image/webp"
    for key in ("createdAt", "startedAt", "finishedAt"):
        assert status[key].endswith("Z")

    resp = api.get(f"/api/v1/download/{body['jobId']}")
    assert resp.status_code == 200
    assert resp["Content-Disposition"] == 'attachment; filename="photo.webp"'
    assert resp["X-Content-Type-Options"] == "nosniff"
    data = b"".join(resp.streaming_content)
    assert Image.open(io.BytesIO(data)).format == "WEBP"

    job = Job.objects.get(pk=body["jobId"])
    assert job.source_key == f"uploads/{job.pk}/source.png"
    assert job.output_key == f"outputs/{job.pk}/result.webp"
    assert job.attempts == 1 and job.converter_seconds > 0
    assert [e.kind for e in job.events.all()] == ["created", "started", "succeeded"]


def test_legacy_paths_work_too(api, run_jobs):
    with run_jobs():
        resp = submit(api, path="/api/convert")
    assert resp.status_code == 202
    job_id = resp.json()["jobId"]
    assert api.get(f"/api/status/{job_id}").json()["status"] == "succeeded"
    assert api.get(f"/api/download/{job_id}").status_code == 200


def test_api_answers_are_not_cacheable(api):
    assert api.get("/api/v1/formats")["Cache-Control"] == "no-store"


def test_missing_file_is_400(api):
    resp = api.post("/api/v1/convert", {"targetFormat": "webp"}, format="multipart")
    assert resp.status_code == 400
    assert error(resp)[0] == "missing_file"


def test_missing_target_is_400_listing_targets(api):
    resp = submit(api, target="")
    assert resp.status_code == 400
    code, message = error(resp)
    assert code == "missing_target" and "webp" in message


def test_unsupported_target_is_400_listing_valid_targets(api):
    resp = submit(api, target="mp3")
    assert resp.status_code == 400
    code, message = error(resp)
    assert code == "unsupported_conversion"
    assert "Valid targets for png" in message and "jpg" in message and "webp" in message
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "options, code",
    [("{not json", "invalid_options"), ('["a"]', "invalid_options"), ('{"colour": 3}', "invalid_option"),
     ('{"quality": 500}', "invalid_option"), ('{"quality": "high"}', "invalid_option")],
)
def test_bad_options_are_400(api, options, code):
    resp = submit(api, options=options)
    assert resp.status_code == 400
    assert error(resp)[0] == code
    assert not Job.objects.exists()


def test_too_large_is_413_and_nothing_is_kept(api, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    resp = submit(api, data=image_bytes(size=(400, 400), mode="RGB", color=None) + b"\0" * 20_000)
    assert resp.status_code == 413
    code, message = error(resp)
    assert code == "file_too_large" and "limit" in message
    assert not Job.objects.exists()


def test_content_not_matching_its_name_is_415_naming_what_was_detected(api):
    resp = submit(api, name="photo.png", data=b"%PDF-1.4 not really an image\n" * 20)
    assert resp.status_code == 415
    code, message = error(resp)
    assert code == "type_mismatch" and "application/pdf" in message
    assert not Job.objects.exists()


def test_unknown_type_is_415(api):
    resp = submit(api, name="thing.bin", data=bytes(range(256)) * 8)
    assert resp.status_code == 415
    assert error(resp)[0] in ("unsupported_format", "type_mismatch")


def test_empty_file_is_415(api):
    resp = submit(api, data=b"")
    assert resp.status_code in (400, 415)


def test_user_file_name_is_display_text_only(api, run_jobs):
    with run_jobs():
        resp = submit(api, name='../../etc/pa"ss\r\nwd.png')
    job = Job.objects.get(pk=resp.json()["jobId"])
    assert job.source_key == f"uploads/{job.pk}/source.png"
    assert "/" not in job.original_filename and "\n" not in job.original_filename
    download = api.get(f"/api/v1/download/{job.pk}")
    header = download["Content-Disposition"]
    assert header.startswith('attachment; filename="') and header.endswith('.webp"')
    assert "/" not in header and "\n" not in header and header.count('"') == 2


def test_bidi_overrides_and_invisible_characters_leave_the_file_name(api, run_jobs):
    """"invoice\u202egnp.exe" would display as "invoiceexe.png": Cc, Cf, Zl and Zp are dropped."""
    name = "in\u202evoice\u200b\u2066x\u2069\u2028\u2029\x07\ufeff\u00adgnp.exe.png"
    with run_jobs():
        resp = submit(api, name=name)
    job = Job.objects.get(pk=resp.json()["jobId"])
    assert job.original_filename == "invoicexgnp.exe.png"
    status = api.get(f"/api/v1/status/{job.pk}").json()
    assert status["result"]["filename"] == "invoicexgnp.exe.webp"
    header = api.get(f"/api/v1/download/{job.pk}")["Content-Disposition"]
    assert all(ch not in header for ch in "\u202e\u200b\u2066\u2028\ufeff")
    from conversions.files.storage import safe_filename

    assert safe_filename("\u202e\u2028") == "file"  # nothing visible left: the default
    assert safe_filename("r\u00e9sum\u00e9 \u6587\u4ef6.docx") == "r\u00e9sum\u00e9 \u6587\u4ef6.docx"  # letters stay


def test_unknown_job_is_404(api):
    for path in (f"/api/v1/status/{uuid.uuid4()}", "/api/v1/status/not-a-uuid", f"/api/v1/download/{uuid.uuid4()}"):
        resp = api.get(path)
        assert resp.status_code == 404, path
        assert error(resp)[0] == "job_not_found"


def test_unknown_api_path_is_json_404(api):
    resp = api.get("/api/v1/nope")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


def test_another_users_job_is_404(api, run_jobs):
    alice = User.objects.create_user("alice", password="pw-alice-123")
    bob = User.objects.create_user("bob", password="pw-bob-123")
    api.force_authenticate(alice)
    with run_jobs():
        job_id = submit(api).json()["jobId"]
    assert api.get(f"/api/v1/status/{job_id}").status_code == 200
    api.force_authenticate(bob)
    for resp in (api.get(f"/api/v1/status/{job_id}"), api.get(f"/api/v1/download/{job_id}"),
                 api.delete(f"/api/v1/jobs/{job_id}")):
        assert resp.status_code == 404
    api.force_authenticate(None)
    assert api.get(f"/api/v1/status/{job_id}").status_code == 404
    assert Job.objects.get(pk=job_id).status == JobStatus.SUCCEEDED


def test_download_before_ready_is_409(api, django_capture_on_commit_callbacks):
    resp = submit(api)  # on_commit never fires inside the test transaction: stays queued
    job_id = resp.json()["jobId"]
    resp = api.get(f"/api/v1/download/{job_id}")
    assert resp.status_code == 409
    assert error(resp)[0] == "not_ready"


def test_delete_purges_files_and_download_is_410(api, run_jobs):
    with run_jobs():
        job_id = submit(api).json()["jobId"]
    job = Job.objects.get(pk=job_id)
    assert storage.outputs().exists(job.output_key)
    resp = api.delete(f"/api/v1/jobs/{job_id}")
    assert resp.status_code == 200
    assert resp.json()["status"] == "expired"
    assert not storage.outputs().exists(job.output_key)
    assert not storage.uploads().exists(job.source_key)
    resp = api.get(f"/api/v1/download/{job_id}")
    assert resp.status_code == 410
    assert error(resp)[0] == "expired"


def test_delete_of_a_queued_job_cancels_it(api):
    job_id = submit(api).json()["jobId"]
    resp = api.delete(f"/api/v1/jobs/{job_id}")
    assert resp.json()["status"] == "canceled"
    assert api.get(f"/api/v1/download/{job_id}").status_code == 410
    assert JobEvent.objects.filter(job_id=job_id, kind="canceled").count() == 1


def test_rate_limit_is_429_with_retry_after(api, settings):
    settings.RATE_LIMIT = "2/min"
    codes = [submit(api).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    resp = submit(api)
    assert 1 <= int(resp["Retry-After"]) <= 60
    assert error(resp)[0] == "rate_limited"


def test_formats_catalog_comes_from_the_registry(api):
    body = api.get("/api/v1/formats").json()
    png = next(f for f in body["formats"] if f["format"] == "png")
    targets = {t["format"]: t for t in png["targets"]}
    assert {"jpg", "webp", "gif", "bmp", "tiff", "ico", "avif", "pdf"} <= set(targets)
    assert targets["webp"]["family"] == "media"
    assert targets["jpg"]["options"][0]["name"] == "quality"


def test_jobs_list_is_the_callers_newest_first(api, run_jobs):
    user = User.objects.create_user("carol", password="pw-carol-123")
    api.force_authenticate(user)
    with run_jobs():
        first = submit(api).json()["jobId"]
        second = submit(api, target="jpg").json()["jobId"]
    body = api.get("/api/v1/jobs").json()
    assert [r["jobId"] for r in body["results"]] == [second, first]
    assert body["count"] == 2
    api.force_authenticate(None)
    assert api.get("/api/v1/jobs").json()["count"] == 0


def test_schema_and_docs_are_served_without_a_cdn(api):
    schema = api.get("/api/v1/schema")
    assert schema.status_code == 200
    assert b"/api/v1/convert" in schema.content
    docs = api.get("/api/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger" in html.lower()
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_health_endpoints(api):
    assert api.get("/health").json() == {"status": "ok"}
    assert api.get("/api/health").json() == {"status": "ok"}
    body = api.get("/api/v1/health").json()
    assert body["status"] == "healthy"
    assert body["services"] == ["file", "media", "filter"]
    assert {"database", "broker", "storage", "workers"} <= set(body["checks"])


def test_readiness_is_503_when_storage_fails(api, monkeypatch):
    class Broken:
        def exists(self, name):
            raise OSError("disk gone")

    monkeypatch.setattr("conversions.files.storage.uploads", Broken)
    resp = api.get("/api/v1/health")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["storage"]["ok"] is False and "disk gone" in body["checks"]["storage"]["error"]


def test_readiness_details_only_for_trusted_callers(api, settings, monkeypatch):
    class Broken:
        def exists(self, name):
            raise OSError("cannot reach /srv/storage on db-internal.example")

    monkeypatch.setattr("conversions.files.storage.uploads", Broken)
    settings.METRICS_TOKEN = "s3cret"
    public = api.get("/api/v1/health", REMOTE_ADDR="203.0.113.9")
    assert public.status_code == 503
    assert set(public.json()) <= {"status", "services", "sandbox"} and public.json()["status"] == "unhealthy"
    assert "db-internal" not in public.content.decode()
    proxied = api.get("/api/v1/health", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert "checks" not in proxied.json()  # through a proxy the peer address proves nothing
    token = api.get("/api/v1/health", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret")
    assert "db-internal" in token.json()["checks"]["storage"]["error"]
    assert "queues" in token.json()["checks"]["workers"] or token.json()["checks"]["workers"]["ok"]


def test_a_type_without_a_signature_needs_its_name(api):
    """libmagic takes many byte strings for TGA: content alone does not make one."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "TGA")
    resp = submit(api, name="upload", data=buf.getvalue())
    assert resp.status_code == 415
    code, message = error(resp)
    assert code == "unsupported_format" and ".tga" in message
    assert submit(api, name="upload.tga", data=buf.getvalue()).status_code == 202

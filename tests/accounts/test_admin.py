import pytest
from django.contrib.auth.models import User

from accounts.models import ApiKey
from conversions.models import Job, JobStatus
from tests.builders import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-long-enough-1")
    client.force_login(admin)
    return client


@pytest.fixture
def done_job(api, run_jobs):
    owner = User.objects.create_user("ann", "ann@example.com")
    api.force_authenticate(owner)
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload("holiday.png", image_bytes()), "targetFormat": "jpg"},
                        format="multipart")
    return Job.objects.get(pk=resp.json()["jobId"])


def test_job_list_filters_and_search(staff_client, done_job):
    base = "/admin/conversions/job/"
    for query in ("", "?status__exact=succeeded", "?family__exact=media", "?source_format__exact=png",
                  f"?owner__id__exact={done_job.owner_id}", "?created_at__gte=2000-01-01+00:00:00%2B00:00", "?q=holiday", "?q=ann",
                  f"?q={done_job.pk}"):
        resp = staff_client.get(base + query)
        assert resp.status_code == 200, query
        assert str(done_job.pk) in resp.content.decode(), query
    assert str(done_job.pk) not in staff_client.get(base + "?status__exact=failed").content.decode()


def test_job_page_shows_events_and_file_links(staff_client, done_job):
    html = staff_client.get(f"/admin/conversions/job/{done_job.pk}/change/").content.decode()
    for kind in ("created", "started", "succeeded"):
        assert kind in html
    link = f"/admin/conversions/job/{done_job.pk}/file/output/"
    assert link in html
    resp = staff_client.get(link)
    assert resp.status_code == 200 and resp["Content-Disposition"] == 'attachment; filename="holiday.jpg"'
    assert staff_client.get(f"/admin/conversions/job/{done_job.pk}/file/source/").status_code == 200
    assert staff_client.get(f"/admin/conversions/job/{done_job.pk}/file/other/").status_code == 404


def test_actions_retry_cancel_purge(staff_client, done_job, django_capture_on_commit_callbacks):
    url = "/admin/conversions/job/"
    resp = staff_client.post(url, {"action": "purge_files", "_selected_action": [done_job.pk]})
    assert resp.status_code == 302
    done_job.refresh_from_db()
    assert done_job.status == JobStatus.EXPIRED and done_job.files_purged_at
    Job.objects.filter(pk=done_job.pk).update(status=JobStatus.FAILED, files_purged_at=None)
    staff_client.post(url, {"action": "retry_jobs", "_selected_action": [done_job.pk]})
    assert Job.objects.get(pk=done_job.pk).status == JobStatus.QUEUED
    staff_client.post(url, {"action": "cancel_jobs", "_selected_action": [done_job.pk]})
    assert Job.objects.get(pk=done_job.pk).status == JobStatus.CANCELED


def test_users_with_usage_and_keys(staff_client, done_job):
    ApiKey.generate(user=done_job.owner, name="ci-bot")
    html = staff_client.get("/admin/auth/user/").content.decode()
    assert "ann" in html and "jobs 24 h" in html.lower()
    html = staff_client.get(f"/admin/auth/user/{done_job.owner_id}/change/").content.decode()
    assert "ci-bot" in html
    assert staff_client.get("/admin/accounts/apikey/?q=ci-bot").status_code == 200


def test_admin_is_staff_only(client, done_job):
    user = User.objects.create_user("bob", password="pw-long-enough-1")
    client.force_login(user)
    assert client.get("/admin/conversions/job/").status_code == 302
    assert client.get(f"/admin/conversions/job/{done_job.pk}/file/output/").status_code == 302


def test_a_retry_refreshes_the_cached_status_at_once(staff_client, done_job, api):
    """The retry used to leave the status cache saying `failed` for up to 60 s (issue 11)."""
    from conversions.jobs.status_cache import cached_status, job_changed

    Job.objects.filter(pk=done_job.pk).update(status=JobStatus.FAILED, error_code="tool_failed")
    job_changed(done_job.pk)
    assert cached_status(done_job.pk)["status"] == "failed"
    staff_client.post("/admin/conversions/job/", {"action": "retry_jobs", "_selected_action": [done_job.pk]})
    assert cached_status(done_job.pk)["status"] == "queued"
    assert api.get(f"/api/v1/status/{done_job.pk}").json()["status"] == "queued"

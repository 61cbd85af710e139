"""Shared steps of the family tests: convert a file directly, or upload it through the API."""

from tests.builders import upload
from tests.media.helpers import convert  # noqa: F401  (re-exported: the worker's path without the database)


def api_convert(api, run_jobs, filename, data, target, options=None):
    """Upload through POST /api/v1/convert, run the job; return (status JSON, downloaded bytes or None)."""
    payload = {"file": upload(filename, data), "targetFormat": target}
    if options:
        payload["options"] = options
    with run_jobs():
        resp = api.post("/api/v1/convert", payload, format="multipart")
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["jobId"]
    status = api.get(f"/api/v1/status/{job_id}").json()
    if status["status"] != "succeeded":
        return status, None
    return status, b"".join(api.get(f"/api/v1/download/{job_id}").streaming_content)

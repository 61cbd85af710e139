"""A person in Chromium on a site with S3 storage: the file goes straight to the bucket, the server gets its uploadId."""

import re
import uuid

import pytest
from PIL import Image

from tests import services
from tests.live_site import run_site

pytestmark = pytest.mark.slow

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def s3_site(tmp_path_factory, s3_endpoint):
    bucket = f"site-{uuid.uuid4().hex[:12]}"
    client = services.make_bucket(s3_endpoint, bucket)
    env = {**services.S3_ENV, "S3_BUCKET": bucket, "S3_ENDPOINT_URL": s3_endpoint}
    with run_site(tmp_path_factory.mktemp("s3-site-var"), **env) as running:
        running.s3, running.bucket = client, bucket
        yield running


def test_convert_through_the_bucket_with_upload_progress(s3_site, page, tmp_path, s3_endpoint):
    path = tmp_path / "holiday.png"
    Image.effect_noise((900, 700), 60).convert("RGB").save(path, format="PNG")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(s3_site.url + "/converters/png-to-jpg")
    page.set_input_files("#file", str(path))
    page.get_by_role("button", name="Convert to JPG").click()
    download = page.locator("[data-download]")
    download.wait_for(state="visible", timeout=TIMEOUT)
    assert page.locator("[data-upload-progress]").evaluate("el => el.value") == 100
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == "holiday.jpg"
    with Image.open(info.value.path()) as im:
        assert im.format == "JPEG" and im.size == (900, 700)
    # One POST to the bucket (the file), two to our server (the presign, then the form with its uploadId).
    assert len([url for url in posts if url.startswith(s3_endpoint)]) == 1
    assert len([url for url in posts if url.startswith(s3_site.url)]) == 2
    objects = {o["Key"]: o["Size"] for o in s3_site.s3.list_objects_v2(Bucket=s3_site.bucket)["Contents"]}
    sources = [k for k in objects if k.startswith("uploads/")]
    assert len(sources) == 1 and re.fullmatch(r"uploads/[0-9a-f-]{36}/source", sources[0]), objects
    assert objects[sources[0]] == path.stat().st_size

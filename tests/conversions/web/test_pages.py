import io
import re

import pytest
from django.contrib.auth.models import User
from PIL import Image

from conversions.web import pages
from conversions.models import Job, JobStatus
from tests.builders import image_bytes, upload

pytestmark = pytest.mark.django_db

ORIGIN = {"HTTP_ORIGIN": "http://testserver"}


def submit(client, slug="png-to-jpg", name="photo.png", data=None, json=False, **fields):
    data = image_bytes() if data is None else data
    pair, _ = pages.resolve(slug)
    body = {"file": upload(name, data), "converter": slug, "targetFormat": pair.target if pair else "", **fields}
    extra = {"HTTP_ACCEPT": "application/json"} if json else {}
    return client.post("/convert", body, **extra, **ORIGIN)


def assert_public(resp):
    assert resp["Cache-Control"].startswith("public") and "max-age=" in resp["Cache-Control"]
    assert "Cookie" not in resp.get("Vary", "")
    assert not resp.cookies
    assert b"csrfmiddlewaretoken" not in resp.content


# --- Catalog pages ----------------------------------------------------------------


def test_home_lists_every_converter_grouped_and_is_cacheable(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert_public(resp)
    html = resp.content.decode()
    for pair in pages.all_pairs():
        assert f'href="/converters/{pair.slug}"' in html
    assert 'id="group-images"' in html
    assert 'type="search"' in html and 'for="converter-search"' in html


def test_converter_list_and_sitemap_list_every_pair(client):
    resp = client.get("/converters/")
    assert resp.status_code == 200
    assert_public(resp)
    sitemap = client.get("/sitemap.xml")
    assert sitemap.status_code == 200 and sitemap["Content-Type"] == "application/xml"
    locs = re.findall(r"<loc>(.*?)</loc>", sitemap.content.decode())
    for pair in pages.all_pairs():
        assert f"http://testserver/converters/{pair.slug}" in locs


def test_converter_page_has_title_description_form_options_and_canonical(client):
    resp = client.get("/converters/png-to-jpg")
    assert resp.status_code == 200
    assert_public(resp)
    html = resp.content.decode()
    assert "<title>PNG to JPG converter" in html
    assert '<meta name="description" content="Convert PNG files to JPG' in html
    assert '<link rel="canonical" href="http://testserver/converters/png-to-jpg">' in html
    assert "<h1>PNG to JPG converter</h1>" in html
    assert 'enctype="multipart/form-data"' in html and 'action="/convert?converter=png-to-jpg"' in html
    assert '<label for="file"' in html and 'id="file" name="file" type="file"' in html
    assert 'type="radio" id="opt-quality-balanced" name="opt_quality" value="balanced" checked' in html
    assert ">Smaller file</label>" in html and ">Best quality</label>" in html
    assert "How to convert PNG to JPG" in html
    assert 'href="/converters/png-to-webp"' in html  # related


def test_friendly_slugs_and_plain_extension_redirects(client):
    pair = pages.PagePair("docx", "pdf", object())
    assert pair.slug == "word-to-pdf"
    assert pages.PagePair("pdf", "xlsx", object()).slug == "pdf-to-excel"
    resp = client.get("/converters/jpeg-to-png")
    assert resp.status_code == 301 and resp["Location"] == "/converters/jpg-to-png"
    assert client.get("/converters/png-to-nothing").status_code == 404
    assert client.get("/converters/whatever").status_code == 404


def test_new_converters_appear_on_their_own(client):
    from conversions.engine.registry import Converter, registry

    class Fake(Converter):
        name, family, pairs = "fake", "documents", frozenset({("docx", "pdf")})

    fake = Fake()
    registry._converters.append(fake)
    try:
        assert client.get("/converters/word-to-pdf").status_code == 200
        assert client.get("/converters/docx-to-pdf")["Location"] == "/converters/word-to-pdf"
        assert 'href="/converters/word-to-pdf"' in client.get("/").content.decode()
    finally:
        registry._converters.remove(fake)


# --- Submitting ----------------------------------------------------------------------


def test_form_post_without_javascript_lands_on_the_job_page(client, run_jobs):
    with run_jobs():
        resp = submit(client, opt_quality="70")
    assert resp.status_code == 303
    job = Job.objects.get()
    assert resp["Location"] == f"/jobs/{job.pk}"
    assert job.options == {"quality": 70} and job.session_key and job.owner is None
    assert client.cookies.get("sessionid")
    page = client.get(resp["Location"])
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    html = page.content.decode()
    assert 'http-equiv="refresh"' not in html
    assert f'href="/api/v1/download/{job.pk}"' in html
    data = b"".join(client.get(f"/api/v1/download/{job.pk}").streaming_content)
    assert Image.open(io.BytesIO(data)).format == "JPEG"


def test_job_page_refreshes_itself_while_the_job_runs(client):
    resp = submit(client)
    page = client.get(resp["Location"])
    assert Job.objects.get().status == JobStatus.QUEUED
    assert '<meta http-equiv="refresh" content="2">' in page.content.decode()
    assert "no-store" in page["Cache-Control"]


def test_javascript_submit_answers_json_with_the_status_url(client, run_jobs):
    with run_jobs():
        resp = submit(client, json=True)
    assert resp.status_code == 202
    body = resp.json()
    assert body["statusUrl"].endswith(f"/api/v1/status/{body['jobId']}")
    assert body["jobUrl"] == f"http://testserver/jobs/{body['jobId']}"
    assert client.get(body["statusUrl"]).json()["status"] == "succeeded"


@pytest.mark.parametrize(
    "kwargs,status,code",
    [
        ({"name": "notes.png", "data": b"just text, not an image"}, 415, "type_mismatch"),
        ({"targetFormat": "mp3"}, 400, "unsupported_conversion"),
        ({"data": b""}, 415, "empty_file"),
    ],
)
def test_errors_are_shown_on_the_page_and_as_json(client, kwargs, status, code):
    resp = submit(client, **kwargs)
    assert resp.status_code == status
    html = resp.content.decode()
    assert 'role="alert"' in html and f'data-code="{code}"' in html
    assert "<h1>PNG to JPG converter</h1>" in html
    resp = submit(client, json=True, **kwargs)
    assert resp.status_code == status and resp.json()["error"]["code"] == code
    assert not Job.objects.exists()


def test_too_large_says_the_limit(client, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    resp = submit(client, data=image_bytes(size=(400, 400), color=(1, 2, 3)) + b"\0" * 20_000)
    assert resp.status_code == 413
    assert "limit for anonymous users" in resp.content.decode()
    resp = submit(client, json=True, data=b"\0" * 20_000)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "file_too_large"


def test_rate_limit_on_the_page(client, settings):
    settings.RATE_LIMIT = "2/min"
    codes = [submit(client, json=True).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    resp = submit(client)
    assert resp.status_code == 429 and int(resp["Retry-After"]) > 0
    assert "Too many uploads" in resp.content.decode()


def test_cross_site_posts_are_refused_before_the_upload_is_read(client):
    user = User.objects.create_user("ann", password="pw-long-enough-1")
    for who in (None, user):
        if who:
            client.force_login(who)
        resp = client.post("/convert", {"file": upload("a.png", image_bytes()), "converter": "png-to-jpg"},
                           HTTP_ORIGIN="https://evil.example", HTTP_ACCEPT="application/json")
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "cross_site"
        resp = client.post("/convert", {"file": upload("a.png", image_bytes()), "converter": "png-to-jpg"},
                           HTTP_SEC_FETCH_SITE="cross-site")
        assert resp.status_code == 403 and "from another site" in resp.content.decode()
        # No Origin, no Referer, no Sec-Fetch-Site: not a browser form post of ours.
        assert client.post("/convert", {"converter": "png-to-jpg"}).status_code == 403
    assert not Job.objects.exists()
    ok = client.post("/convert", {"file": upload("a.png", image_bytes()), "converter": "png-to-jpg"},
                     HTTP_SEC_FETCH_SITE="same-origin")
    assert ok.status_code == 303
    assert Job.objects.get().owner == user


# --- History and permissions ------------------------------------------------------


def test_history_shows_this_browsers_jobs_only_and_deletes(client, run_jobs):
    with run_jobs():
        submit(client, name="mine.png")
    other = type(client)()
    submit(other, name="theirs.png")
    html = client.get("/history").content.decode()
    assert "mine.png" in html and "theirs.png" not in html
    job = Job.objects.get(original_filename="mine.png")
    theirs = Job.objects.get(original_filename="theirs.png")
    assert client.post(f"/jobs/{theirs.pk}/delete").status_code == 404
    resp = client.post(f"/jobs/{job.pk}/delete")
    assert resp.status_code == 302 and resp["Location"] == "/history"
    job.refresh_from_db()
    assert job.status == JobStatus.EXPIRED and job.files_purged_at
    assert "Deleted mine.png" in client.get("/history").content.decode()


def test_delete_needs_csrf_token(client):
    submit(client)
    job = Job.objects.get()
    strict = type(client)(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    assert strict.post(f"/jobs/{job.pk}/delete").status_code == 403


def test_another_users_job_is_404_on_page_and_api(client, run_jobs):
    ann = User.objects.create_user("ann", password="pw-long-enough-1")
    bob = User.objects.create_user("bob", password="pw-long-enough-1")
    client.force_login(ann)
    with run_jobs():
        submit(client)
    job = Job.objects.get()
    assert job.owner == ann
    assert client.get(f"/jobs/{job.pk}").status_code == 200
    assert "photo.png" in client.get("/history").content.decode()
    for who in (bob, None):
        other = type(client)()
        if who:
            other.force_login(who)
        assert other.get(f"/jobs/{job.pk}").status_code == 404
        assert other.get(f"/api/v1/status/{job.pk}").status_code == 404
        assert other.get(f"/api/v1/download/{job.pk}").status_code == 404
        assert other.post(f"/jobs/{job.pk}/delete").status_code == 404
        assert "photo.png" not in other.get("/history").content.decode()


def test_unknown_job_page_is_404(client):
    assert client.get("/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/jobs/not-a-uuid").status_code == 404


def test_static_assets_are_served(client):
    for path in ("/static/css/site.css", "/static/js/convert.js", "/static/js/search.js"):
        resp = client.get(path)
        assert resp.status_code == 200, path


def test_catalog_search_works_without_javascript(client):
    html = client.get("/converters/?q=png+to+jpg").content.decode()
    assert 'href="/converters/png-to-jpg"' in html and 'href="/converters/jpg-to-png"' not in html
    assert 'value="png to jpg"' in html
    html = client.get("/converters/?q=nothing-like-this").content.decode()
    assert "No converter matches “nothing-like-this”" in html


# --- Filter pages ----------------------------------------------------------------------


def test_filter_pages_come_from_the_operation_vocabulary(client):
    from conversions.web import filter_pages

    pages_ = filter_pages.all_filters()
    assert {"image-resize", "pdf-merge", "video-trim"} <= {p.slug for p in pages_}
    home = client.get("/").content.decode()
    assert 'id="group-filters"' in home
    sitemap = client.get("/sitemap.xml").content.decode()
    for page in pages_:
        assert page.url in home and f"http://testserver{page.url}</loc>" in sitemap
    resp = client.get("/filters/image-resize")
    assert resp.status_code == 200
    assert_public(resp)
    html = resp.content.decode()
    assert "<h1>Image resize</h1>" in html and 'action="/filter?filter=image-resize"' in html
    assert 'name="p_width"' in html and '<select id="p-fit" name="p_fit"' in html
    assert 'type="checkbox" id="p-upscale"' in html
    assert "multiple" in client.get("/filters/pdf-merge").content.decode()
    assert client.get("/filters/image-nothing").status_code == 404


def test_filter_form_runs_a_filter_job(client, run_jobs):
    with run_jobs():
        resp = client.post("/filter", {"file": upload("big.png", image_bytes(size=(200, 100))), "filter": "image-resize",
                                       "p_width": "50", "p_fit": "contain"}, **ORIGIN)
    assert resp.status_code == 303
    job = Job.objects.get()
    assert job.kind == "filter" and job.operations[0]["op"] == "resize" and job.operations[0]["width"] == 50
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    page = client.get(resp["Location"]).content.decode()
    assert 'href="/filters/image-resize"' in page  # convert another
    data = b"".join(client.get(f"/api/v1/download/{job.pk}").streaming_content)
    assert Image.open(io.BytesIO(data)).size == (50, 25)


def test_filter_form_errors_name_the_field(client):
    resp = client.post("/filter", {"file": upload("a.png", image_bytes()), "filter": "image-rotate"}, **ORIGIN)
    assert resp.status_code == 400
    html = resp.content.decode()
    assert "degrees" in html and 'role="alert"' in html and "<h1>Image rotate</h1>" in html
    resp = client.post("/filter", {"file": upload("a.png", image_bytes()), "filter": "image-rotate", "p_degrees": "90"},
                       HTTP_ACCEPT="application/json", **ORIGIN)
    assert resp.status_code == 202


def test_error_pages_do_not_touch_the_session(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and "Page not found" in resp.content.decode()
    assert "Cookie" not in resp.get("Vary", "")


def test_option_labels_read_as_words():
    assert pages.field_label("videoBitrate") == "Video bitrate"
    assert pages.field_label("sample_rate") == "Sample rate"
    assert pages.field_label("quality") == "Quality"


def test_pdf_operations_are_listed_with_the_pdf_tools():
    groups = {key: rows for key, _, _, rows in pages.grouped_by_source()}
    pdf_items = [item.slug for _, _, items in groups["pdf"] for item in items]
    assert "pdf-merge" in pdf_items and "pdf-compress" in pdf_items
    assert not any(item.slug.startswith("pdf-") for _, _, items in groups.get("filters", []) for item in items)


def test_image_filter_pages_offer_only_what_the_filters_accept(client):
    """They offered .svg, which the server then refused (issue 11)."""
    from conversions.web import filter_pages

    page = next(p for p in filter_pages.all_filters() if p.family == "image")
    html = client.get(page.url).content.decode()
    assert ".png" in page.accept and ".jpeg" in page.accept
    assert ".svg" not in page.accept and ".svg" not in html.split('accept="', 1)[1].split('"', 1)[0]

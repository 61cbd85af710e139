"""A person in Chromium: convert with and without JavaScript, sign up and use an API key."""

import io
import time

import pytest
import requests
from PIL import Image

from tests.builders import image_bytes

pytestmark = pytest.mark.slow

TIMEOUT = 30_000


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "holiday.png"
    # Big enough that the upload takes a few progress events.
    im = Image.effect_noise((900, 700), 60).convert("RGB")
    im.save(path, format="PNG")
    return path


def assert_jpeg(path):
    with Image.open(path) as im:
        assert im.format == "JPEG"


def test_convert_png_to_jpg_with_javascript(site, page, png, artifacts):
    page.goto(site.url + "/converters/png-to-jpg")
    assert page.title().startswith("PNG to JPG converter")
    page.screenshot(path=str(artifacts / "converter-page.png"), full_page=True)
    page.set_input_files("#file", str(png))
    assert "holiday.png" in page.locator("[data-file-name]").inner_text()
    page.get_by_role("button", name="Convert to JPG").click()
    panel = page.locator("[data-panel]")
    panel.wait_for(state="visible")
    download = page.locator("[data-download]")
    download.wait_for(state="visible", timeout=TIMEOUT)
    assert page.locator("[data-upload-progress]").evaluate("el => el.value") == 100
    assert page.locator("[data-job-progress]").evaluate("el => el.value") == 100
    assert page.locator("[data-panel-title]").inner_text() == "Your file is ready"
    page.screenshot(path=str(artifacts / "converter-done.png"), full_page=True)
    # Keyboard users land on the download button.
    assert page.evaluate("document.activeElement.hasAttribute('data-download')")
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == "holiday.jpg"
    assert_jpeg(info.value.path())
    page.get_by_role("button", name="Convert another file").click()
    assert page.locator("#file").is_visible() and page.evaluate("document.activeElement.id") == "file"
    # The XMLHttpRequest upload gave this browser a session: the job is in its history.
    page.goto(site.url + "/history")
    assert page.get_by_role("link", name="holiday.png").count() == 1


def test_convert_png_to_jpg_without_javascript(site, browser, png, artifacts):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(site.url + "/converters/png-to-jpg")
        page.set_input_files("#file", str(png))
        page.get_by_label("Smaller file").check()
        page.get_by_role("button", name="Convert to JPG").click()
        page.wait_for_url("**/jobs/*")
        link = page.get_by_role("link", name="Download holiday.jpg")
        link.wait_for(state="visible", timeout=TIMEOUT)  # the page refreshes itself until done
        page.screenshot(path=str(artifacts / "job-page.png"), full_page=True)
        with page.expect_download() as info:
            link.click()
        assert_jpeg(info.value.path())
        page.goto(site.url + "/history")
        assert page.get_by_role("link", name="holiday.png").count() >= 1
        page.screenshot(path=str(artifacts / "history.png"), full_page=True)
    finally:
        context.close()


def test_wrong_file_type_is_explained(site, page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    page.goto(site.url + "/converters/png-to-jpg")
    page.set_input_files("#file", str(bad))
    page.get_by_role("button", name="Convert to JPG").click()
    alert = page.locator("[data-error]")
    alert.wait_for(state="visible", timeout=TIMEOUT)
    assert page.locator("[data-panel-title]").inner_text() == "Wrong file type"
    assert "PNG" in alert.inner_text() or "png" in alert.inner_text()


def test_home_search_and_keyboard(site, page, artifacts):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site.url + "/")
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    search = page.get_by_label("Find a converter")
    search.fill("png to jpg")
    visible = page.locator("[data-search]:visible a")
    assert visible.count() == 1 and visible.get_attribute("href") == "/converters/png-to-jpg"
    assert page.locator("[data-popular]").is_hidden()
    assert "1 converter found" in page.locator("#search-status").inner_text()
    search.fill("")
    assert page.locator("[data-search]:visible").count() > 100
    search.fill("png-to-jpg")
    search.press("Enter")
    page.wait_for_url("**/converters/png-to-jpg")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/")
    page.screenshot(path=str(artifacts / "home-mobile.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(site.url + "/converters/png-to-jpg")
    page.screenshot(path=str(artifacts / "converter-mobile.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_sign_up_create_api_key_and_use_it(site, page, artifacts):
    name = f"user{int(time.time() * 1000)}"
    page.goto(site.url + "/accounts/signup/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-secret-42!")
    page.get_by_label("Password confirmation").fill("a-long-secret-42!")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/accounts/")
    page.get_by_label("Key name").fill("my script")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("[data-new-key]").input_value()
    assert key.startswith("ca_")
    page.screenshot(path=str(artifacts / "account.png"), full_page=True)

    auth = {"Authorization": f"Bearer {key}"}
    resp = requests.post(site.url + "/api/v1/convert", headers=auth, timeout=30,
                         files={"file": ("api.png", image_bytes(), "image/png")}, data={"targetFormat": "jpg"})
    assert resp.status_code == 202, resp.text
    status_url = resp.json()["statusUrl"]
    deadline = time.monotonic() + 30
    while (body := requests.get(status_url, headers=auth, timeout=10).json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert body["status"] == "succeeded"
    assert requests.get(status_url, timeout=10).status_code == 404  # without the key: not yours
    data = requests.get(body["result"]["downloadUrl"], headers=auth, timeout=10).content
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    # The key's job is the account's: it is in the history, and the key shows as used.
    page.goto(site.url + "/history")
    assert page.get_by_role("link", name="api.png").count() == 1
    page.goto(site.url + "/accounts/")
    assert "never" not in page.locator("table").inner_text()


def test_resize_an_image_with_a_filter_page(site, page, png, artifacts):
    page.goto(site.url + "/filters/image-resize")
    page.set_input_files("#file", str(png))
    page.get_by_label("Width").fill("300")
    page.screenshot(path=str(artifacts / "filter-page.png"), full_page=True)
    page.get_by_role("button", name="Resize").click()
    download = page.locator("[data-download]")
    download.wait_for(state="visible", timeout=TIMEOUT)
    with page.expect_download() as info:
        download.click()
    with Image.open(info.value.path()) as im:
        assert im.width == 300


def test_too_large_upload_answers_413_over_a_real_socket(site):
    big = b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024)
    headers = {"Accept": "application/json", "Origin": site.url}
    resp = requests.post(site.url + "/convert", headers=headers, timeout=30,
                         files={"file": ("big.png", big, "image/png")}, data={"converter": "png-to-jpg"})
    assert resp.status_code == 413
    assert "3 MB limit" in resp.json()["error"]["message"]


def test_too_large_file_is_refused_before_uploading(site, page, tmp_path):
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024))
    page.goto(site.url + "/converters/png-to-jpg")
    page.get_by_role("link", name="Log in").wait_for()  # the account check (with the limits) has answered
    page.set_input_files("#file", str(big))
    page.get_by_role("button", name="Convert to JPG").click()
    alert = page.locator("[data-error]")
    alert.wait_for(state="visible", timeout=TIMEOUT)
    assert page.locator("[data-panel-title]").inner_text() == "File too large"
    assert "the limit is 3.0 MB" in alert.inner_text() and "Signed-in users" in alert.inner_text()
    assert page.locator("[data-upload-progress]").evaluate("el => el.value") == 0


def tab_to(page, predicate, limit=40):
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(predicate):
            return
    raise AssertionError(f"never reached by Tab: {predicate}")


def test_keyboard_only_conversion(site, page, png):
    page.goto(site.url + "/converters/png-to-jpg")
    tab_to(page, "document.activeElement.id === 'file'")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(png))
    tab_to(page, "document.activeElement.hasAttribute('data-submit')")
    page.keyboard.press("Enter")
    page.locator("[data-download]").wait_for(state="visible", timeout=TIMEOUT)
    assert page.evaluate("document.activeElement.hasAttribute('data-download')")
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    assert_jpeg(info.value.path())


@pytest.mark.parametrize("path", ["/", "/converters/png-to-jpg", "/filters/image-resize", "/accounts/signup/",
                                  "/accounts/login/"])
def test_every_control_has_a_label(site, page, path):
    page.goto(site.url + path)
    unlabeled = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea, button'))
        .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map(el => el.outerHTML)""")
    assert unlabeled == []
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("h1").count() == 1


CONTRAST_JS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || !box.width || el.closest('.sr-only, [hidden]')) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) bad.push(el.tagName + '.' + el.className + ': ' + ratio.toFixed(2));
  }
  return bad;
}"""


@pytest.mark.parametrize("path", ["/", "/converters/png-to-jpg", "/accounts/login/", "/history"])
def test_text_contrast_meets_wcag_aa(site, page, path):
    page.goto(site.url + path)
    assert page.evaluate(CONTRAST_JS) == []


def test_one_converter_page_per_group_renders(site, page, artifacts):
    """A screenshot of the first converter of each group, for a look at pages with other options."""
    from conversions.web import pages

    seen = {}
    for pair in pages.all_pairs():
        seen.setdefault(pair.group, pair)
    assert seen
    for group, pair in seen.items():
        page.goto(site.url + pair.url)
        assert page.locator("h1").inner_text() == f"{pair.source_label} to {pair.target_label} converter"
        page.screenshot(path=str(artifacts / f"group-{group}.png"), full_page=True)


def test_drag_and_drop_a_file(site, page):
    import base64

    png_b64 = base64.b64encode(image_bytes()).decode()
    page.goto(site.url + "/converters/png-to-jpg")
    data_transfer = page.evaluate_handle(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
            return dt;
        }""",
        png_b64,
    )
    page.dispatch_event("[data-dropzone]", "dragover", {"dataTransfer": data_transfer})
    assert "dragging" in page.locator("[data-dropzone]").get_attribute("class")
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": data_transfer})
    assert "dropped.png" in page.locator("[data-file-name]").inner_text()
    page.get_by_role("button", name="Convert to JPG").click()
    page.locator("[data-download]").wait_for(state="visible", timeout=TIMEOUT)
    assert page.locator("[data-download]").inner_text() == "Download dropped.jpg"

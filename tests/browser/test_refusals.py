"""The card after a refused upload (413, 415, 429): the error and the way forward, nothing else.

Every refusal here is the real server's answer over a real socket; the only
thing held back is the account check's answer in the 413 test, so that the
page cannot refuse the file itself before sending it.
"""

import pytest

from tests.builders import image_bytes
from tests.live_site import run_site

pytestmark = pytest.mark.slow

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def throttled_site(tmp_path_factory):
    """A server whose submit rate limit lets one upload a minute through."""
    with run_site(tmp_path_factory.mktemp("throttled-var"), RATE_LIMIT="1/min") as running:
        yield running


def refused_card(page):
    """The panel's state once a refusal is shown, as a person would read it."""
    page.locator("[data-error]").wait_for(state="visible", timeout=TIMEOUT)
    return {
        "title": page.locator("[data-panel-title]").inner_text(),
        "error": page.locator("[data-error]").inner_text(),
        "meters": page.locator("[data-meters]").is_visible(),
        "waiting": page.get_by_text("waiting", exact=True).is_visible(),
        "job_link": page.get_by_role("link", name="Job details").is_visible(),
        "download": page.locator("[data-download]").is_visible(),
        "again": page.locator("[data-again]").inner_text() if page.locator("[data-again]").is_visible() else None,
        "sign_in": page.get_by_role("link", name="Sign in for higher limits").is_visible(),
    }


def test_wrong_type_card_offers_another_file(site, page, tmp_path, artifacts):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    page.goto(site.url + "/converters/png-to-jpg")
    page.set_input_files("#file", str(bad))
    page.get_by_role("button", name="Convert to JPG").click()
    card = refused_card(page)
    page.screenshot(path=str(artifacts / "refused-415.png"), full_page=True)
    assert card["title"] == "Wrong file type"
    assert not card["meters"] and not card["waiting"] and not card["job_link"] and not card["download"]
    assert card["again"] == "Choose another file" and not card["sign_in"]
    page.get_by_role("button", name="Choose another file").click()
    assert page.locator("#file").is_visible() and page.locator("#file").input_value() == ""


def test_too_large_card_offers_sign_in(site, page, tmp_path, artifacts):
    # Without the account check's answer the page has no limit to compare with, so
    # the upload goes out and the server's own 413 comes back.
    page.route("**/accounts/me", lambda route: route.abort())
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024))
    page.goto(site.url + "/converters/png-to-jpg")
    page.set_input_files("#file", str(big))
    page.get_by_role("button", name="Convert to JPG").click()
    card = refused_card(page)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "refused-413-mobile.png"), full_page=True)
    assert card["title"] == "File too large", card
    assert "3 MB" in card["error"]
    assert not card["meters"] and not card["waiting"] and not card["job_link"] and not card["download"]
    assert card["again"] == "Choose a smaller file"
    assert card["sign_in"]
    href = page.get_by_role("link", name="Sign in for higher limits").get_attribute("href")
    assert href == "/accounts/login/?next=%2Fconverters%2Fpng-to-jpg"


def test_too_large_without_javascript_offers_sign_in(site, browser, tmp_path):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        big = tmp_path / "huge.png"
        big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4 * 1024 * 1024))
        page.goto(site.url + "/converters/png-to-jpg")
        page.set_input_files("#file", str(big))
        page.get_by_role("button", name="Convert to JPG").click()
        alert = page.locator("#form-error")
        alert.wait_for(state="visible", timeout=TIMEOUT)
        assert "3 MB" in alert.inner_text()
        assert page.get_by_role("link", name="Sign in for higher limits").is_visible()
        assert page.get_by_role("button", name="Convert to JPG").is_visible()  # the form, to try again
        assert page.get_by_role("link", name="Job details").count() == 0
    finally:
        context.close()


def test_rate_limited_card_keeps_the_file_to_try_again(throttled_site, page, tmp_path, artifacts):
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes())
    page.goto(throttled_site.url + "/converters/png-to-jpg")
    page.set_input_files("#file", str(photo))
    page.get_by_role("button", name="Convert to JPG").click()
    page.locator("[data-download]").wait_for(state="visible", timeout=TIMEOUT)  # the minute's one upload
    page.get_by_role("button", name="Convert another file").click()
    page.set_input_files("#file", str(photo))
    page.get_by_role("button", name="Convert to JPG").click()
    card = refused_card(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(artifacts / "refused-429.png"), full_page=True)
    assert card["title"] == "Limit reached", card
    assert "try again in" in card["error"].lower()
    assert not card["meters"] and not card["waiting"] and not card["job_link"] and not card["download"]
    # The address's rate limit is the same signed in or not: no sign-in offered.
    assert card["again"] == "Try again" and not card["sign_in"]
    page.get_by_role("button", name="Try again").click()
    assert "photo.png" in page.locator("[data-file-name]").inner_text()
    assert page.locator("#file").evaluate("el => el.files.length") == 1

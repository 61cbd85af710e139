"""Under the Content-Security-Policy the pages still work in Chromium, and nothing is blocked."""

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

TIMEOUT = 30_000
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def watched(page):
    console = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.add_init_script(WATCH)
    yield page, console


def violations(page, console):
    return page.evaluate("window.__cspViolations || []") + console


def test_converting_with_javascript_breaks_no_rule(site, watched, tmp_path):
    page, console = watched
    png = tmp_path / "photo.png"
    Image.effect_noise((300, 200), 60).convert("RGB").save(png)
    resp = page.goto(site.url + "/converters/png-to-jpg")
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    page.set_input_files("#file", str(png))
    page.get_by_role("button", name="Convert to JPG").click()
    page.locator("[data-download]").wait_for(state="visible", timeout=TIMEOUT)
    assert violations(page, console) == []


@pytest.mark.parametrize("path", ["/", "/converters/", "/accounts/signup/", "/accounts/login/", "/history"])
def test_pages_load_their_scripts_and_styles(site, watched, path):
    page, console = watched
    page.goto(site.url + path)
    page.wait_for_load_state("networkidle")
    # site.css loaded (a blocked stylesheet has no rules to read).
    assert page.evaluate("Array.from(document.styleSheets).some(s => s.href && s.href.endsWith('site.css') && s.cssRules.length > 0)")
    assert violations(page, console) == []


def test_the_home_search_script_runs(site, watched):
    page, console = watched
    page.goto(site.url + "/")
    search = page.locator("input[type=search]").first
    search.fill("mp4")
    page.wait_for_timeout(300)
    assert violations(page, console) == []


def test_the_api_docs_render_under_their_policy(site, watched):
    page, console = watched
    page.goto(site.url + "/api/docs")
    page.locator(".swagger-ui .info").wait_for(state="visible", timeout=TIMEOUT)
    assert violations(page, console) == []

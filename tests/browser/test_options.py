"""The options panel as a person meets it: a quality in plain words first, expert fields folded away."""

import pytest

from tests.media.media_builders import ffprobe, make_video

pytestmark = pytest.mark.slow

TIMEOUT = 60_000
EXPERT_LABELS = ("Quality number (CRF)", "Video bitrate (kbit/s)", "Height (pixels)", "Frame rate (fps)",
                 "Audio bitrate (kbit/s)", "Sample rate (Hz)", "Channels")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("options") / "holiday.mp4"
    make_video(path, seconds=2, size="320x240", pattern="testsrc2")
    return path


def test_video_page_offers_quality_first_and_folds_the_expert_fields(site, page, artifacts):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site.url + "/converters/mp4-to-webm")
    quality = page.get_by_role("group", name="Quality")
    assert [r.inner_text() for r in quality.locator("label").all()] == ["Smaller file", "Balanced", "Best quality"]
    assert page.get_by_label("Balanced").is_checked()
    assert page.get_by_label("Width (pixels)").is_visible()
    words = page.locator("form label").evaluate_all("ls => ls.map(l => l.textContent.trim().toLowerCase())")
    assert len(words) == len(set(words)), f"two choices read alike: {sorted(words)}"
    for label in EXPERT_LABELS:
        assert not page.get_by_label(label).is_visible(), label
    # The tools' own words are nowhere on the page a person reads first.
    text = page.locator("form").inner_text()
    for jargon in ("Crf", "Fps", "Sample rate", "Video bitrate"):
        assert jargon not in text, jargon
    page.screenshot(path=str(artifacts / "options-video.png"), full_page=True)

    page.get_by_text("Advanced settings").click()
    for label in EXPERT_LABELS:
        assert page.get_by_label(label).is_visible(), label
    page.screenshot(path=str(artifacts / "options-video-advanced.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "options-video-advanced-mobile.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_quality_is_reached_and_changed_with_the_keyboard(site, page):
    page.goto(site.url + "/converters/mp4-to-webm")
    page.get_by_label("Balanced").focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_label("Best quality").is_checked()
    assert page.evaluate("document.activeElement.id") == "opt-quality-best"


def convert_with(page, site, clip, choice, tmp_path):
    page.goto(site.url + "/converters/mp4-to-webm")
    page.set_input_files("#file", str(clip))
    page.get_by_label(choice).check()
    page.get_by_role("button", name="Convert to WebM").click()
    download = page.locator("[data-download]")
    download.wait_for(state="visible", timeout=TIMEOUT)
    with page.expect_download() as info:
        download.click()
    path = tmp_path / f"{choice}.webm"
    info.value.save_as(path)
    return path


def test_a_smaller_file_is_smaller(site, page, clip, tmp_path, artifacts):
    small = convert_with(page, site, clip, "Smaller file", tmp_path)
    page.screenshot(path=str(artifacts / "options-video-done.png"), full_page=True)
    best = convert_with(page, site, clip, "Best quality", tmp_path)
    assert {s["codec_name"] for s in ffprobe(small)["streams"]} == {"vp9", "opus"}
    assert small.stat().st_size < best.stat().st_size


def test_expert_field_from_the_form_reaches_the_encoder(site, page, clip, tmp_path):
    page.goto(site.url + "/converters/mp4-to-webm")
    page.set_input_files("#file", str(clip))
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Height (pixels)").fill("120")
    page.get_by_role("button", name="Convert to WebM").click()
    download = page.locator("[data-download]")
    download.wait_for(state="visible", timeout=TIMEOUT)
    with page.expect_download() as info:
        download.click()
    path = tmp_path / "small.webm"
    info.value.save_as(path)
    video = next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (160, 120)


def test_image_page_shows_the_same_quality_words(site, page, artifacts):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/converters/png-to-jpg")
    assert page.get_by_role("group", name="Quality").is_visible()
    assert page.get_by_label("Balanced").is_checked()
    assert page.locator("details.advanced").count() == 0  # nothing expert to fold away here
    page.screenshot(path=str(artifacts / "options-image-mobile.png"), full_page=True)

"""Subtitles: text that is no subtitle fails clearly, old encodings are read, one upload through the API."""

import pytest

from conversions.errors import ConversionFailed

from .builders import SRT
from .helpers import api_convert, convert


def test_text_that_holds_no_cue_fails_as_invalid_subtitles(tmp_path):
    src = tmp_path / "notes.srt"
    src.write_text("Shopping list\nbread\nmilk\n")
    with pytest.raises(ConversionFailed) as err:
        convert(src, "vtt", tmp_path / "work")
    assert err.value.code == "invalid_subtitles" and "holds no subtitles" in str(err.value)


def test_a_windows_1252_subrip_file_is_read(tmp_path):
    src = tmp_path / "old.srt"
    src.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nCafé crème, héron\n".encode("cp1252"))
    out, _ = convert(src, "vtt", tmp_path / "work")
    text = out.read_text("utf-8")
    assert text.startswith("WEBVTT") and "Café crème, héron" in text


def test_a_cue_with_markup_keeps_only_its_text_in_txt(tmp_path):
    src = tmp_path / "tags.srt"
    src.write_text('1\n00:00:01,000 --> 00:00:02,000\n<font color="red"><b>heron</b></font>\n')
    out, _ = convert(src, "txt", tmp_path / "work")
    assert out.read_text() == "heron\n"


@pytest.mark.django_db
def test_an_srt_upload_becomes_webvtt_through_the_api(api, run_jobs):
    status, data = api_convert(api, run_jobs, "film.srt", SRT.encode(), "vtt")
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"] == "film.vtt"
    text = data.decode()
    assert text.startswith("WEBVTT") and "00:00:00.500 --> 00:00:01.500" in text and "heron" in text


@pytest.mark.django_db
def test_a_binary_file_named_srt_is_refused_at_upload(api):
    from tests.builders import image_bytes, upload

    resp = api.post("/api/v1/convert", {"file": upload("film.srt", image_bytes()), "targetFormat": "vtt"},
                    format="multipart")
    assert resp.status_code == 415 and resp.json()["error"]["code"] == "type_mismatch"

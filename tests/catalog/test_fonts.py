"""Fonts: hostile files fail clearly in the child, and one real upload goes through the API."""

import struct

import pytest
from fontTools.ttLib import TTFont

from conversions.documents.fonts import FontConverter
from conversions.errors import ConversionFailed

from .builders import FONT_FAMILY, make_font
from .helpers import api_convert, convert


def test_random_bytes_named_ttf_fail_as_an_invalid_font(tmp_path):
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"\x00\x01\x00\x00" + bytes(range(256)) * 8)
    with pytest.raises(ConversionFailed) as err:
        convert(bad, "woff2", tmp_path / "work")
    assert err.value.code == "invalid_font"
    assert "could not be read" in str(err.value) and str(tmp_path) not in str(err.value)


def test_a_truncated_font_fails_as_an_invalid_font(tmp_path):
    font = make_font(tmp_path / "whole.ttf")
    cut = tmp_path / "cut.otf"
    data = font.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionFailed) as err:
        convert(cut, "ttf", tmp_path / "work")
    assert err.value.code == "invalid_font"


def test_a_table_offset_beyond_the_file_fails_clearly(tmp_path):
    font = make_font(tmp_path / "whole.ttf")
    data = bytearray(font.read_bytes())
    # Table record 0 (after the 12-byte header): tag, checksum, offset, length -> point it far away.
    struct.pack_into(">I", data, 12 + 8, 0x7FFF0000)
    bad = tmp_path / "far.ttf"
    bad.write_bytes(bytes(data))
    with pytest.raises(ConversionFailed) as err:
        convert(bad, "otf", tmp_path / "work")
    assert err.value.code == "invalid_font"


def test_a_woff2_brotli_bomb_is_ended_by_the_childs_memory_limit(tmp_path, monkeypatch):
    import brotli

    monkeypatch.setattr(FontConverter, "memory_mb", 256)
    font = make_font(tmp_path / "seed.ttf", flavor="woff2")
    data = font.read_bytes()
    # WOFF2: a 48-byte header (totalCompressedSize at 20), the table directory, then one brotli
    # stream. Keep header and directory, and put 512 MB of brotli'd zeros in place of the stream.
    compressed_size = struct.unpack_from(">I", data, 20)[0]
    directory_end = next(at for at in range(48, len(data)) if _inflates(data[at:at + compressed_size]))
    comp = brotli.Compressor(quality=1)
    chunk = bytes(64 * 2**20)
    bomb = b"".join(comp.process(chunk) for _ in range(8)) + comp.finish()
    body = bytearray(data[:directory_end] + bomb)
    struct.pack_into(">I", body, 8, len(body))
    struct.pack_into(">I", body, 20, len(bomb))
    bad = tmp_path / "bomb.woff2"
    bad.write_bytes(bytes(body))
    with pytest.raises(ConversionFailed) as err:
        convert(bad, "ttf", tmp_path / "work")
    assert err.value.code in ("invalid_font", "tool_failed")
    assert "memory" in str(err.value) or "MemoryError" in str(err.value), str(err.value)


def _inflates(stream):
    import brotli

    try:
        brotli.decompress(stream)
        return True
    except brotli.error:
        return False


@pytest.mark.django_db
def test_a_woff2_upload_becomes_a_ttf_through_the_api(api, run_jobs, tmp_path):
    font = make_font(tmp_path / "heron.woff2", truetype=False, flavor="woff2")
    status, data = api_convert(api, run_jobs, "heron.woff2", font.read_bytes(), "ttf")
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"] == "heron.ttf" and status["result"]["contentType"] == "font/ttf"
    out = tmp_path / "out.ttf"
    out.write_bytes(data)
    converted = TTFont(str(out))
    assert "glyf" in converted and converted["name"].getDebugName(1) == FONT_FAMILY


@pytest.mark.django_db
def test_random_bytes_uploaded_as_a_font_are_refused_at_upload(api):
    from tests.builders import upload

    resp = api.post("/api/v1/convert", {"file": upload("x.woff", b"MZ" + bytes(500)), "targetFormat": "ttf"},
                    format="multipart")
    assert resp.status_code == 415, resp.content

"""Zip containers checked before any tool opens them."""

import io
import time
import zipfile

import pytest

from conversions.engine.archives import check_container
from conversions.errors import ConversionFailed


def build(entries, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def check(tmp_path, data, fmt="docx"):
    path = tmp_path / f"doc.{fmt}"
    path.write_bytes(data)
    with pytest.raises(ConversionFailed) as err:
        check_container(path, fmt)
    return err.value


def test_an_ordinary_container_passes(tmp_path):
    path = tmp_path / "ok.docx"
    path.write_bytes(build([("[Content_Types].xml", "<Types/>"), ("word/document.xml", "<w:document/>" * 100)]))
    check_container(path, "docx")


def test_too_many_entries(tmp_path, settings):
    settings.ARCHIVE_MAX_ENTRIES = 10
    err = check(tmp_path, build([(f"part{i}.xml", "x") for i in range(11)]))
    assert err.code == "archive_too_many_entries"


def test_high_ratio_below_the_size_cap(tmp_path, settings):
    settings.ARCHIVE_MAX_RATIO = 100
    err = check(tmp_path, build([("word/document.xml", b"\0" * (20 * 2**20))]))
    assert err.code == "archive_ratio" and "zip bomb" in err.message


def test_a_part_that_lies_about_its_size_fails_its_crc(tmp_path):
    """Central directory says 10 bytes; the deflated data holds 50 MB."""
    real = b"A" * (50 * 2**20)
    data = bytearray(build([("word/document.xml", real)]))
    # Rewrite the declared sizes (local header and central directory) to 10 bytes.
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(sig)
        data[pos + offset : pos + offset + 4] = (10).to_bytes(4, "little")
    started = time.monotonic()
    err = check(tmp_path, bytes(data))
    assert err.code == "damaged_archive"
    assert time.monotonic() - started < 5


def test_not_a_zip(tmp_path):
    assert check(tmp_path, b"plain text, not a zip").code == "damaged_archive"


def test_other_formats_are_not_zip_checked(tmp_path):
    path = tmp_path / "doc.rtf"
    path.write_bytes(b"{\\rtf1 hi}")
    check_container(path, "rtf")

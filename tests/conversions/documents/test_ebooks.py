"""E-books through calibre: EPUB <-> MOBI/AZW3, read back, and nothing from the server let in."""

import re
import shutil
import zipfile

import pytest

from tests.builders import upload
from tests.conversions.documents.test_documents import convert
from tests.hostile_documents import rewrite_zip
from tests.services import require

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _calibre():
    require(shutil.which("ebook-convert"), "calibre (ebook-convert) is not installed")


def epub_text(path):
    with zipfile.ZipFile(path) as zf:
        parts = [n for n in zf.namelist() if n.endswith((".html", ".xhtml", ".htm"))]
        return " ".join(re.sub(r"<[^>]+>", " ", zf.read(n).decode("utf-8", "replace")) for n in parts)


@pytest.mark.parametrize("fmt", ["mobi", "azw3"])
def test_epub_to_kindle_and_back_keeps_the_text(tmp_path, documents, fmt):
    out, ctx, converter = convert(tmp_path, documents["epub"], "epub", fmt)
    assert converter.name == "calibre" and ctx.output_format == fmt
    assert out.read_bytes()[60:68] == b"BOOKMOBI"
    back, _, _ = convert(tmp_path, out, fmt, "epub")
    assert "Quarterly report about migrating herons" in " ".join(epub_text(back).split())


def test_mobi_to_azw3(tmp_path, documents):
    mobi, _, _ = convert(tmp_path, documents["epub"], "epub", "mobi")
    azw3, _, _ = convert(tmp_path, mobi, "mobi", "azw3")
    assert azw3.read_bytes()[60:68] == b"BOOKMOBI"


def test_epub_parts_pointing_at_server_files_are_not_read(tmp_path, documents):
    secret = tmp_path / "server-secret.txt"
    secret.write_text("SERVER-SECRET-7f3a\n")
    escape = "../" * 12 + str(secret).lstrip("/")

    def edit(name, text):
        if name.endswith(".opf"):
            text = text.replace(
                "</manifest>",
                f'<item id="leak" href="{escape}" media-type="application/xhtml+xml"/>'
                f'<item id="leak2" href="file://{secret}" media-type="application/xhtml+xml"/></manifest>',
            )
            return text.replace("</spine>", '<itemref idref="leak"/><itemref idref="leak2"/></spine>')
        if name.endswith("ch001.xhtml"):
            return text.replace("</body>", f'<img src="{escape}"/><iframe src="file://{secret}"></iframe></body>')
        return text

    evil = rewrite_zip(documents["epub"], tmp_path / "evil.epub", edit)
    mobi, _, _ = convert(tmp_path, evil, "epub", "mobi")
    back, _, _ = convert(tmp_path, mobi, "mobi", "epub")
    with zipfile.ZipFile(back) as zf:
        assert not any(b"SERVER-SECRET" in zf.read(n) for n in zf.namelist())


def test_epub_to_mobi_through_the_api(api, run_jobs, documents):
    with run_jobs():
        resp = api.post(
            "/api/v1/convert",
            {"file": upload("book.epub", documents["epub"].read_bytes()), "targetFormat": "mobi"},
            format="multipart",
        )
    assert resp.status_code == 202, resp.json()
    status = api.get(f"/api/v1/status/{resp.json()['jobId']}").json()
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"] == "book.mobi"
    assert status["result"]["contentType"] == "application/x-mobipocket-ebook"

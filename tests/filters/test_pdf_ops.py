"""PDF operations: page counts, order and rotation (pdfinfo), gray pixels, a zip of pages."""

import io
import subprocess
import zipfile

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader

from tests.filters.conftest import pdfinfo

pytestmark = pytest.mark.django_db

RED, GREEN, BLUE = (200, 30, 30), (30, 160, 30), (30, 30, 200)


def page_colours(path, dpi=10):
    """The colour at the middle of each page, rendered by poppler."""
    out = subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path)], capture_output=True, check=True).stdout
    colours, data = [], out
    while data:
        im = Image.open(io.BytesIO(data))
        im.load()
        colours.append(im.convert("RGB").getpixel((im.width // 2, im.height // 2)))
        data = data[data.index(b"IEND") + 8 :]
    return colours


def close(a, b, tolerance=24):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def test_rotate_some_pages(submit, tmp_path):
    _, out = submit.run("doc.pdf", [{"op": "rotate", "degrees": 90, "pages": "1,3"}], tmp_path=tmp_path)
    pages, rotations, _ = pdfinfo(out)
    assert pages == 3 and rotations == [90, 0, 90]
    assert [p.rotation for p in PdfReader(out).pages] == [90, 0, 90]


def test_rotate_all_pages_counterclockwise(submit, tmp_path):
    _, out = submit.run("doc.pdf", [{"op": "rotate", "degrees": -90}], tmp_path=tmp_path)
    assert pdfinfo(out)[1] == [270, 270, 270]


def test_pages_extracts_and_reorders(submit, tmp_path):
    _, out = submit.run("doc.pdf", [{"op": "pages", "select": "3,1-2"}], tmp_path=tmp_path)
    assert pdfinfo(out)[0] == 3
    got = page_colours(out)
    assert close(got[0], BLUE) and close(got[1], RED) and close(got[2], GREEN)
    (tmp_path / "b").mkdir()
    _, last = submit.run("doc.pdf", [{"op": "pages", "select": "last"}], tmp_path=tmp_path / "b")
    assert pdfinfo(last)[0] == 1 and close(page_colours(last)[0], BLUE)


def test_pages_out_of_range_fails_naming_the_page(submit):
    with submit.run_jobs():
        resp = submit.post("doc.pdf", [{"op": "pages", "select": "2-9"}])
    status = submit.api.get(resp.json()["statusUrl"]).json()
    assert status["status"] == "failed" and status["error"]["code"] == "invalid_operation"
    assert "pages: page 9 does not exist (the document has 3 pages)" in status["error"]["message"]


def test_merge_keeps_the_order_of_the_files(submit, tmp_path):
    _, out = submit.run(["other.pdf", "doc.pdf"], [{"op": "merge"}, {"op": "rotate", "degrees": 180, "pages": "1"}], tmp_path=tmp_path)
    pages, rotations, sizes = pdfinfo(out)
    assert pages == 4 and rotations == [180, 0, 0, 0]
    assert sizes[0] == (400.0, 300.0) and sizes[1] == (300.0, 400.0)
    assert close(page_colours(out)[1], RED)


def test_split_gives_a_zip_with_one_pdf_per_page(submit, tmp_path):
    status, out = submit.run("doc.pdf", [{"op": "split"}], tmp_path=tmp_path)
    assert status["targetFormat"] == "zip" and status["result"]["contentType"] == "application/zip"
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names == ["page-0001.pdf", "page-0002.pdf", "page-0003.pdf"]
        for name in names:
            assert len(PdfReader(io.BytesIO(archive.read(name))).pages) == 1


def test_grayscale_leaves_no_colour(submit, tmp_path):
    _, out = submit.run("doc.pdf", [{"op": "grayscale"}], tmp_path=tmp_path)
    assert pdfinfo(out)[0] == 3
    raw = subprocess.run(["pdftoppm", "-r", "10", "-f", "1", "-l", "1", "-png", str(out)], capture_output=True, check=True).stdout
    r, g, b = Image.open(io.BytesIO(raw)).convert("RGB").split()
    assert ImageChops.difference(r, g).getextrema()[1] <= 2 and ImageChops.difference(g, b).getextrema()[1] <= 2


def test_compress_screen_shrinks_an_image_heavy_pdf(submit, tmp_path):
    noisy = Image.effect_noise((1200, 1600), 60).convert("RGB")
    noisy.save(submit.samples / "scan.pdf", resolution=150, quality=95)
    _, out = submit.run("scan.pdf", [{"op": "compress", "preset": "screen"}], tmp_path=tmp_path)
    assert pdfinfo(out)[0] == 1
    assert out.stat().st_size < (submit.samples / "scan.pdf").stat().st_size / 2


def test_watermark_adds_text_to_every_page(submit, tmp_path):
    _, out = submit.run("doc.pdf", [{"op": "watermark", "text": "CONFIDENTIAL (draft)"}], tmp_path=tmp_path)
    texts = [page.extract_text() for page in PdfReader(out).pages]
    assert all("CONFIDENTIAL (draft)" in text for text in texts) and len(texts) == 3
    assert pdfinfo(out)[0] == 3


def test_pdf_chain_of_five(submit, tmp_path):
    ops = [
        {"op": "merge"},
        {"op": "pages", "select": "2-4"},
        {"op": "rotate", "degrees": 90, "pages": "2"},
        {"op": "watermark", "text": "copy"},
        {"op": "compress", "preset": "ebook"},
    ]
    _, out = submit.run(["other.pdf", "doc.pdf"], ops, tmp_path=tmp_path)
    pages, rotations, sizes = pdfinfo(out)
    # Ghostscript bakes /Rotate into the page: compare the orientation as displayed.
    shown = [(h, w) if rot in (90, 270) else (w, h) for rot, (w, h) in zip(rotations, sizes)]
    assert pages == 3 and shown == [(300, 400), (400, 300), (300, 400)]


def test_a_damaged_pdf_fails_at_once_without_retries(submit):
    good = (submit.samples / "doc.pdf").read_bytes()
    (submit.samples / "broken.pdf").write_bytes(good[:1500] + bytes(range(256)) * 8)
    with submit.run_jobs():
        resp = submit.post("broken.pdf", [{"op": "rotate", "degrees": 90}])
    status = submit.api.get(resp.json()["statusUrl"]).json()
    assert status["status"] == "failed" and status["error"]["code"] == "invalid_pdf"
    assert "could not be read" in status["error"]["message"] and "/tmp" not in status["error"]["message"]
    from conversions.models import Job

    assert Job.objects.get(pk=status["jobId"]).attempts == 1

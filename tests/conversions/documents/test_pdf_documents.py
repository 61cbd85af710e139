"""PDF to Word/text/images/HTML and images to PDF, on PDFs LibreOffice made."""

import io
import zipfile

import pytest
from PIL import Image

from tests.conversions.documents.test_documents import convert
from tests.documents_fixtures import WORDS, docx_text, pdf_pages


def test_pdf_to_docx_gives_editable_paragraphs_not_pictures(tmp_path, documents):
    out, ctx, converter = convert(tmp_path, documents["long_pdf"], "pdf", "docx")
    assert converter.name == "pdf2docx"
    xml = docx_text(out)
    assert xml.count("<w:p>") + xml.count("<w:p ") >= 100  # ~13 paragraphs a page, 10 pages
    assert "Quarterly report about migrating herons chapter 7" in "".join(
        part.split(">", 1)[1] for part in xml.split("<w:t")[1:] if ">" in part
    ).replace("</w:t>", "")
    with zipfile.ZipFile(out) as zf:
        assert not [n for n in zf.namelist() if n.startswith("word/media/")]
    # Per-page progress from pdf2docx's log reached the worker's side.
    assert (ctx.workdir / "progress.txt").read_text() == "95"
    assert ctx.progress >= 10


def test_pdf_to_txt(tmp_path, documents):
    out, _, _ = convert(tmp_path, documents["pdf"], "pdf", "txt")
    assert WORDS in " ".join(out.read_text().split())


def test_pdf_to_html_is_one_self_contained_page(tmp_path, documents):
    out, ctx, _ = convert(tmp_path, documents["pdf"], "pdf", "html")
    html = out.read_text()
    assert ctx.output_format == "html" and "<html" in html.lower()
    assert "Quarterly" in html and "herons" in html


def test_pdf_single_page_to_png_is_one_image(tmp_path, documents):
    assert pdf_pages(documents["short_pdf"]) == 1
    out, ctx, _ = convert(tmp_path, documents["short_pdf"], "pdf", "png", dpi=40)
    assert ctx.output_format == "png"
    assert Image.open(out).format == "PNG"


def test_pdf_pages_to_jpg_come_back_as_a_zip(tmp_path, documents):
    pages = pdf_pages(documents["long_pdf"])
    out, ctx, _ = convert(tmp_path, documents["long_pdf"], "pdf", "jpg", dpi=36)
    assert ctx.output_format == "zip"
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert len(names) == pages and names[0] == "page-01.jpg"
        assert Image.open(io.BytesIO(zf.read(names[-1]))).format == "JPEG"


def test_damaged_pdf_fails_clearly(tmp_path, documents):
    from conversions.errors import ConversionFailed

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(documents["pdf"].read_bytes()[:400])
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, broken, "pdf", "txt")
    assert err.value.code == "invalid_pdf"


def test_multi_frame_tiff_to_pdf_gives_one_page_per_frame(tmp_path):
    frames = [Image.new("RGB", (80, 60), c) for c in ("red", "green", "blue")]
    tiff = tmp_path / "scan.tiff"
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    out, _, _ = convert(tmp_path, tiff, "tiff", "pdf")
    assert pdf_pages(out) == 3


def test_a_giant_page_is_refused_before_drawing(tmp_path, settings):
    from conversions.errors import ConversionFailed

    settings.MAX_IMAGE_PIXELS = 50_000_000
    giant = tmp_path / "giant.pdf"
    # One 200 x 200 inch page (14400 pt): 484 megapixels at 110 dpi.
    Image.new("RGB", (100, 100), "white").save(giant, resolution=0.5)
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, giant, "pdf", "png")
    assert err.value.code == "page_too_large" and "lower dpi" in err.value.message

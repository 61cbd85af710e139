"""Document conversions on real files: every pair family through the real tools.

The converters run exactly as a worker runs them (registry -> converter ->
warm LibreOffice bridge / pandoc / poppler), on files the tools made, and
every output is opened and checked for the source's text, pages and cells.
"""

import re
import shutil
import zipfile

import pytest

from conversions.engine.context import ConversionContext
from conversions.engine.registry import registry
from tests.documents_fixtures import pdf_pages, pdf_text, zip_names

WRITER = ("doc", "docx", "odt", "rtf", "txt", "html")
CALC = ("xls", "xlsx", "ods", "csv")
IMPRESS = ("ppt", "pptx", "odp")


def convert(tmp_path, src, source_format, target, **options):
    converter = registry.find(source_format, target)
    assert converter is not None, f"no converter for {source_format} -> {target}"
    workdir = tmp_path / f"work-{source_format}-{target}"
    workdir.mkdir()
    source = workdir / f"source.{source_format}"
    shutil.copy(src, source)
    ctx = ConversionContext(
        workdir=workdir, source_path=source, source_format=source_format, target_format=target,
        options=converter.clean_options(source_format, target, options),
    )  # fmt: skip
    out = converter.convert(ctx) or ctx.output_path
    assert out.exists() and out.stat().st_size > 0
    return out, ctx, converter


def text_of(path, fmt):
    """The readable text of a document, however it is stored."""
    if fmt == "pdf":
        return pdf_text(path)
    if fmt in ("doc", "xls", "ppt"):
        raw = path.read_bytes()
        return raw.decode("latin-1") + raw.decode("utf-16-le", "replace")
    if fmt in ("docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"):
        with zipfile.ZipFile(path) as zf:
            parts = [n for n in zf.namelist() if n.endswith(".xml") or n.endswith(".xhtml")]
            return re.sub(r"<[^>]+>", " ", " ".join(zf.read(n).decode("utf-8", "replace") for n in parts))
    return path.read_text(errors="replace")


def pairs(sources, targets):
    return [(s, t) for s in sources for t in targets if s != t]


@pytest.mark.parametrize("source,target", pairs(WRITER, ["pdf", "docx", "odt", "rtf", "txt", "html", "epub"]))
def test_word_processing_pairs(tmp_path, documents, office_bridge, source, target):
    warm = office_bridge.calls
    out, ctx, converter = convert(tmp_path, documents[source], source, target)
    assert converter.name == "libreoffice"
    assert ctx.output_format == target
    assert "Quarterly report about migrating herons" in " ".join(text_of(out, target).split())
    assert office_bridge.calls == warm + 1  # the warm path, not the cold fallback


@pytest.mark.parametrize("source,target", [("docx", "doc"), ("odt", "doc"), ("doc", "odt")])
def test_word_formats_to_each_other(tmp_path, documents, office_bridge, source, target):
    out, _, _ = convert(tmp_path, documents[source], source, target)
    assert "Quarterly report about migrating herons" in text_of(out, target)


@pytest.mark.parametrize("source,target", pairs(CALC, ["pdf", "xlsx", "ods", "csv", "html"]))
def test_spreadsheet_pairs(tmp_path, documents, office_bridge, source, target):
    warm = office_bridge.calls
    out, _, converter = convert(tmp_path, documents[source], source, target)
    assert converter.name == "libreoffice"
    text = text_of(out, target)
    for cell in ("heron", "crane", "stork", "2.25"):
        assert cell in text, (cell, text[:500])
    assert office_bridge.calls == warm + 1  # the warm path, not the cold fallback


def test_xlsx_cells_keep_their_values(tmp_path, documents, office_bridge):
    out, _, _ = convert(tmp_path, documents["ods"], "ods", "xlsx")
    csv_back, _, _ = convert(tmp_path, out, "xlsx", "csv")
    rows = [line.split(",") for line in csv_back.read_text().splitlines()]
    assert rows[0] == ["name", "count", "price"]
    assert rows[3] == ["stork", "11", "4"]


@pytest.mark.parametrize("source,target", pairs(IMPRESS, ["pdf", "pptx", "odp"]))
def test_presentation_pairs(tmp_path, documents, office_bridge, source, target):
    warm = office_bridge.calls
    out, _, _ = convert(tmp_path, documents[source], source, target)
    text = " ".join(text_of(out, target).split())
    for words in ("Herons fly south", "Cranes stay home", "Storks carry babies"):
        assert words in text
    assert office_bridge.calls == warm + 1  # the warm path, not the cold fallback


def test_slides_count_survives_to_pdf(tmp_path, documents, office_bridge):
    out, _, _ = convert(tmp_path, documents["pptx"], "pptx", "pdf")
    # pandoc's deck: a title slide and three content slides.
    assert pdf_pages(out) == 4


@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("jpg", b"\xff\xd8\xff")])
def test_slides_to_images_come_back_as_a_zip_of_one_image_per_slide(tmp_path, documents, office_bridge, fmt, magic):
    out, ctx, _ = convert(tmp_path, documents["pptx"], "pptx", fmt, dpi=50)
    assert ctx.output_format == "zip"
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert names == [f"slide-{i:02d}.{fmt}" for i in range(1, 5)]
        assert all(zf.read(n).startswith(magic) for n in names)


def test_ten_page_docx_to_pdf_keeps_its_pages(tmp_path, documents, office_bridge):
    out, _, _ = convert(tmp_path, documents["long_docx"], "docx", "pdf")
    text = pdf_text(out)
    assert "migrating herons chapter 10" in " ".join(text.split())
    assert pdf_pages(out) >= 10


def test_pdf_options_pages_and_pdfa(tmp_path, documents, office_bridge):
    out, ctx, _ = convert(tmp_path, documents["long_docx"], "docx", "pdf", pages="2-3", pdfa=True)
    assert ctx.options == {"pages": "2-3", "pdfa": True}
    assert pdf_pages(out) == 2
    assert b"pdfaid:part" in out.read_bytes()


def test_pdf_options_through_the_cold_fallback(settings, tmp_path, documents, office_bridge):
    office_bridge.shutdown()
    settings.OFFICE_PYTHON = "/nonexistent/python3"
    try:
        out, _, _ = convert(tmp_path, documents["long_docx"], "docx", "pdf", pages="1-2", pdfa=True)
    finally:
        office_bridge._unavailable_until = 0.0
    assert pdf_pages(out) == 2
    assert b"pdfaid:part" in out.read_bytes()


@pytest.mark.parametrize("pages", ["abc", "1-", "1;2", "9" * 200])
def test_bad_page_ranges_are_refused_at_submission(pages):
    from conversions.errors import BadRequest

    converter = registry.find("docx", "pdf")
    with pytest.raises(BadRequest) as err:
        converter.clean_options("docx", "pdf", {"pages": pages})
    assert err.value.code == "invalid_option"


def test_a_damaged_document_fails_with_a_message_free_of_server_paths(tmp_path, documents, office_bridge):
    from conversions.errors import ConversionFailed

    broken = tmp_path / "broken.doc"
    broken.write_bytes(documents["doc"].read_bytes()[:3000])
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, broken, "doc", "pdf")
    assert err.value.code == "office_failed"
    assert "/" not in err.value.message and "password-protected" in err.value.message


@pytest.mark.parametrize("source", ["docx", "odt", "doc", "rtf"])
def test_word_pages_to_images(tmp_path, documents, office_bridge, source):
    out, ctx, _ = convert(tmp_path, documents[source], source, "jpg", dpi=40)
    assert ctx.output_format == "zip"
    assert zip_names(out) == ["page-01.jpg", "page-02.jpg"]  # the report lays out on two pages

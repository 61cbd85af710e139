"""pandoc pairs on files pandoc wrote, and what its sandbox keeps out."""

import zipfile

import pytest

from conversions.errors import ConversionFailed
from conversions.engine.registry import registry
from tests.builders import image_bytes
from tests.conversions.documents.test_documents import convert, text_of
from tests.documents_fixtures import pdf_text

SOURCES = ("md", "html", "rst", "epub", "docx", "odt", "org", "textile", "mediawiki", "tex")
TARGETS = ("md", "html", "docx", "odt", "epub", "rst")


def test_every_markup_pair_is_offered():
    for source in SOURCES:
        for target in TARGETS:
            if source != target:
                assert registry.find(source, target) is not None, (source, target)
    # LibreOffice keeps the layout where it reads and writes both sides.
    assert registry.find("docx", "odt").name == "libreoffice"
    assert registry.find("md", "docx").name == "pandoc"
    assert registry.find("epub", "docx").name == "pandoc"


@pytest.mark.parametrize("source,target", [(s, t) for s in SOURCES for t in TARGETS if s != t])
def test_pandoc_pairs(tmp_path, documents, office_bridge, source, target):
    out, ctx, _ = convert(tmp_path, documents[source], source, target)
    assert ctx.output_format == target
    assert "migrating herons" in " ".join(text_of(out, target).split())


@pytest.mark.parametrize("source", ["md", "rst", "org", "tex", "epub"])
def test_markup_to_pdf_needs_no_tex(tmp_path, documents, office_bridge, source):
    out, _, converter = convert(tmp_path, documents[source], source, "pdf")
    assert converter.name == "pandoc"
    assert "Quarterly report about migrating herons" in " ".join(pdf_text(out).split())


def test_images_pointing_at_server_files_are_not_embedded(tmp_path):
    secret = tmp_path / "server-secret.png"
    secret.write_bytes(image_bytes("PNG"))
    src = tmp_path / "evil.md"
    src.write_text(f"# Hi\n\nText ![secret]({secret}) and ![net](http://127.0.0.1:9/x.png)\n")
    for target in ("docx", "odt", "epub"):
        out, _, _ = convert(tmp_path, src, "md", target)
        with zipfile.ZipFile(out) as zf:
            media = [n for n in zf.namelist() if n.lower().endswith((".png", ".jpg")) and not n.startswith("Thumbnails/")]
        assert media == [], (target, media)
        assert "secret" in text_of(out, target)


def test_latex_cannot_include_server_files(tmp_path):
    src = tmp_path / "evil.tex"
    src.write_text("\\documentclass{article}\\begin{document}Hello\\input{/etc/passwd}\\end{document}\n")
    try:
        out, _, _ = convert(tmp_path, src, "tex", "md")
    except ConversionFailed:
        return
    assert "root:" not in out.read_text()


def test_metadata_cannot_name_a_cover_file(tmp_path):
    secret = tmp_path / "server-secret.png"
    secret.write_bytes(image_bytes("PNG"))
    src = tmp_path / "cover.md"
    src.write_text(f"---\ntitle: Book\ncover-image: {secret}\n---\n\nBody text\n")
    out, _, _ = convert(tmp_path, src, "md", "epub")
    with zipfile.ZipFile(out) as zf:
        assert not [n for n in zf.namelist() if "cover" in n.lower() and n.lower().endswith(".png")]


# --- Tables (issue 14 item 1): a caption's empty short caption is a null the tree needs ----------

TABLES = {
    "md": "# Counts\n\n| Bird | Count |\n|------|-------|\n| Heron | 12 |\n| Egret | 7 |\n\n: Heron counts\n",
    "rst": "Counts\n======\n\n.. table:: Heron counts\n\n   =====  =====\n   Bird   Count\n   =====  =====\n"
    "   Heron  12\n   Egret  7\n   =====  =====\n",
    "org": "* Counts\n\n#+CAPTION: Heron counts\n| Bird | Count |\n|------+-------|\n| Heron | 12 |\n| Egret | 7 |\n",
    "html": "<html><head><title>Counts</title></head><body><table><caption>Heron counts</caption>"
    "<tr><th>Bird</th><th>Count</th></tr><tr><td>Heron</td><td>12</td></tr><tr><td>Egret</td><td>7</td></tr>"
    "</table></body></html>",
}


def table_pairs():
    return [(s, t) for s in TABLES for t in registry.targets(s) if registry.find(s, t).name == "pandoc"]


@pytest.mark.parametrize("source,target", table_pairs())
def test_tables_convert_to_every_pandoc_target(tmp_path, office_bridge, source, target):
    src = tmp_path / f"table.{source}"
    src.write_text(TABLES[source])
    out, _, _ = convert(tmp_path, src, source, target)
    text = " ".join(text_of(out, target).split())
    assert "Heron" in text and "Egret" in text and "12" in text, (source, target)


@pytest.mark.parametrize("source", ["docx", "odt", "epub"])
def test_tables_out_of_documents_to_markup(tmp_path, office_bridge, source):
    md = tmp_path / "table.md"
    md.write_text(TABLES["md"])
    doc, _, _ = convert(tmp_path, md, "md", source)
    targets = [t for t in registry.targets(source) if registry.find(source, t).name == "pandoc"]
    assert {"md", "rst"} <= set(targets)
    for target in targets:
        out, _, _ = convert(tmp_path, doc, source, target)
        assert "Egret" in " ".join(text_of(out, target).split()), (source, target)


def test_table_pairs_cover_the_issue():
    pairs = set(table_pairs())
    for pair in [("md", "html"), ("md", "docx"), ("md", "pdf"), ("html", "md"), ("rst", "html"), ("org", "epub")]:
        assert pair in pairs


@pytest.mark.django_db
def test_html_title_is_the_users_file_name(api, run_jobs):
    from tests.builders import upload

    with run_jobs():
        resp = api.post(
            "/api/v1/convert",
            {"file": upload("Heron report.md", TABLES["md"].encode()), "targetFormat": "html"},
            format="multipart",
        )
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["jobId"]
    assert api.get(f"/api/v1/status/{job_id}").json()["status"] == "succeeded"
    body = b"".join(api.get(f"/api/v1/download/{job_id}").streaming_content).decode()
    assert "<title>Heron report</title>" in body
    assert "source" not in body.split("<title>")[1].split("</title>")[0]

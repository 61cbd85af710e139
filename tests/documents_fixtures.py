"""Real documents for the document tests, made by the tools themselves.

pandoc writes docx, odt, rtf, html, epub and pptx from Markdown; a cold
LibreOffice (its own throw-away profile) writes doc, xls, xlsx, ods, ppt and
odp. Built once per session in a temporary folder.
"""

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from tests.services import require

WORDS = "Quarterly report about migrating herons"

SLIDES_MD = """---
title: Heron deck
---

# First slide

Herons fly south

# Second slide

Cranes stay home

# Third slide

Storks carry babies
"""

CSV = "name,count,price\nheron,3,1.5\ncrane,7,2.25\nstork,11,4\n"


def report_md(pages=1):
    """Markdown of about `pages` A4 pages: headings and paragraphs of known text."""
    parts = ["---\ntitle: Heron report\n---\n"]
    for page in range(1, pages + 1):
        parts.append(f"# Chapter {page}\n\n{WORDS} chapter {page}.\n")
        for para in range(12):
            parts.append(f"Paragraph {page}.{para}: " + "Lorem ipsum dolor sit amet, consectetur adipiscing. " * 5 + "\n")
    return "\n".join(parts)


def pandoc(src, dst, *args):
    subprocess.run(["pandoc", str(src), "-s", "-o", str(dst), *args], check=True, timeout=120)


def cold_soffice(src, fmt, outdir, infilter=None):
    """Convert with a fresh soffice and its own throw-away profile."""
    with tempfile.TemporaryDirectory(prefix="lo-fixture-") as profile:
        argv = ["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{profile}"]
        if infilter:
            argv.append(f"--infilter={infilter}")
        argv += ["--convert-to", fmt, "--outdir", str(outdir), str(src)]
        subprocess.run(argv, check=True, timeout=180, capture_output=True)
    out = Path(outdir) / f"{Path(src).stem}.{fmt.split(':')[0]}"
    assert out.exists(), f"soffice did not make {out}"
    return out


def build_documents(root):
    root = Path(root)
    (root / "report.md").write_text(report_md(1))
    (root / "long.md").write_text(report_md(10))
    (root / "deck.md").write_text(SLIDES_MD)
    (root / "table.csv").write_text(CSV)
    files = {"md": root / "report.md", "csv": root / "table.csv", "txt": root / "report.txt"}
    (root / "report.txt").write_text(f"{WORDS}\n\nSecond paragraph of plain text.\n")
    for fmt in ("docx", "odt", "rtf", "html", "epub"):
        pandoc(root / "report.md", root / f"report.{fmt}")
        files[fmt] = root / f"report.{fmt}"
    for fmt, writer in (("rst", "rst"), ("org", "org"), ("textile", "textile"), ("mediawiki", "mediawiki"), ("tex", "latex")):
        pandoc(root / "report.md", root / f"report.{fmt}", "-t", writer)
        files[fmt] = root / f"report.{fmt}"
    pandoc(root / "long.md", root / "long.docx")
    files["long_docx"] = root / "long.docx"
    pandoc(root / "deck.md", root / "deck.pptx")
    files["pptx"] = root / "deck.pptx"
    files["doc"] = cold_soffice(files["docx"], "doc", root)
    files["xlsx"] = cold_soffice(files["csv"], "xlsx", root, infilter="Text - txt - csv (StarCalc):44,34,76,1")
    files["xls"] = cold_soffice(files["xlsx"], "xls", root)
    files["ods"] = cold_soffice(files["xlsx"], "ods", root)
    files["ppt"] = cold_soffice(files["pptx"], "ppt", root)
    files["odp"] = cold_soffice(files["pptx"], "odp", root)
    files["pdf"] = cold_soffice(files["docx"], "pdf", root)
    files["short_pdf"] = cold_soffice(files["txt"], "pdf", root)
    files["long_pdf"] = cold_soffice(files["long_docx"], "pdf", root)
    return files


@pytest.fixture(scope="session")
def documents(tmp_path_factory):
    for tool in ("pandoc", "soffice", "pdftotext"):
        require(shutil.which(tool), f"{tool} is not installed")
    return build_documents(tmp_path_factory.mktemp("documents"))


@pytest.fixture(scope="session", autouse=False)
def office_bridge():
    """The process's warm bridge, stopped at the end so no soffice outlives the tests."""
    from conversions.documents.office_bridge import manager

    require(Path("/usr/bin/python3").exists(), "Debian's python3 (for python3-uno) is missing")
    yield manager()
    manager().shutdown()


def pdf_text(path):
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_pages(path):
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def docx_text(path):
    with zipfile.ZipFile(path) as zf:
        return zf.read("word/document.xml").decode()


def zip_names(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()

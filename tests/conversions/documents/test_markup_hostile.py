"""Markup that names server files or URLs: every source to every target it offers.

Each source of the corpus points, in every way its language allows (raw HTML
img/video/audio/source/embed/object/iframe/link, poster attributes, markdown
and rst images, org links, LaTeX \\input and \\includegraphics, CSS url()), at
a secret text file and a secret PNG beside the job directory (by absolute and
by relative path, the way `../../convertall.sqlite3` carried the database out)
and at a loopback listener. No output may hold a marker, in any zip member or
in a PDF's text, no output may hold a picture, and no connection may arrive.
"""

import io
import subprocess
import time
import zipfile

import pytest
from PIL import Image, PngImagePlugin

from conversions.errors import ConversionFailed
from conversions.engine.registry import registry
from tests.conversions.documents.test_documents import convert
from tests.documents_fixtures import pdf_text
from tests.hostile_documents import Listener

MARKER = "SECRET-MARKER-7f3a9c"
SOURCES = ("md", "html", "rst", "org", "tex", "mediawiki", "textile", "epub")


def secret_png():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", MARKER)
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def html_refs(txt, png, url):
    """Raw HTML that names files and URLs in every place a writer might follow."""
    refs = []
    for path in (txt, png, "../secret.txt", "../../secret.png", f"file://{png}", url):
        refs += [
            f'<img src="{path}" alt="pic">',
            f'<video src="{path}" poster="{path}"><source src="{path}"></video>',
            f'<audio src="{path}"><source src="{path}"></audio>',
            f'<embed src="{path}">',
            f'<object data="{path}"></object>',
            f'<iframe src="{path}"></iframe>',
            f'<link rel="stylesheet" href="{path}">',
            f'<div style="background-image: url({path})">styled</div>',
        ]
    return "\n".join(refs) + f"\n<style>body {{ background: url({png}); }}</style>\n"


def corpus(root, url):
    txt, png = root / "secret.txt", root / "secret.png"
    raw = html_refs(txt, png, url)
    image_refs = (png, "../../secret.png", url)
    return {
        "md": "# Herons\n\nBody text.\n\n" + raw + "\n\n" + "\n".join(f"![alt]({p})" for p in image_refs) + "\n",
        "html": f"<html><head><title>Herons</title><link rel='icon' href='{png}'></head><body><p>Body text.</p>"
        + raw + "</body></html>",
        "rst": "Herons\n======\n\nBody text.\n\n"
        + "".join(f".. image:: {p}\n\n.. figure:: {p}\n\n" for p in image_refs)
        + ".. raw:: html\n\n   " + raw.replace("\n", "\n   ") + "\n\n"
        + f".. include:: {txt}\n",
        "org": "* Herons\n\nBody text.\n\n"
        + "".join(f"[[file:{p}]]\n\n" for p in image_refs)
        + f"#+INCLUDE: \"{txt}\"\n\n#+BEGIN_EXPORT html\n{raw}\n#+END_EXPORT\n",
        "tex": "\\documentclass{article}\\usepackage{graphicx}\\begin{document}\\section{Herons}Body text.\n"
        + f"\\input{{{txt}}}\n\\include{{{root / 'secret'}}}\n"
        + "".join(f"\\includegraphics{{{p}}}\n" for p in image_refs)
        + "\\end{document}\n",
        "mediawiki": "== Herons ==\n\nBody text.\n\n" + "".join(f"[[File:{p}]]\n\n" for p in image_refs) + raw,
        "textile": "h1. Herons\n\nBody text.\n\n" + "".join(f"!{p}!\n\n" for p in image_refs) + raw,
        "epub": None,  # built below from the HTML
    }


def hostile_epub(path, html):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        zf.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
            "</container>",
        )
        zf.writestr(
            "content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>'
            "<dc:title>Herons</dc:title><dc:language>en</dc:language></metadata>"
            '<manifest><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest>'
            '<spine><itemref idref="c"/></spine></package>',
        )
        zf.writestr("c.xhtml", html)
    return path


@pytest.fixture(scope="module")
def listener():
    with Listener() as lst:
        yield lst


@pytest.fixture
def hostile(tmp_path, listener):
    """(source file by format) with the secrets beside the job directories."""
    (tmp_path / "secret.txt").write_text(f"{MARKER}\nroot:x:0:0\n")
    (tmp_path / "secret.png").write_bytes(secret_png())
    url = f"http://127.0.0.1:{listener.port}/x.png"
    texts = corpus(tmp_path, url)
    files = {}
    for fmt, text in texts.items():
        if text is not None:
            files[fmt] = tmp_path / f"evil.{fmt}"
            files[fmt].write_text(text)
    xhtml = '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Herons</title></head><body><p>Body text.</p>'
    body = html_refs(tmp_path / "secret.txt", tmp_path / "secret.png", url)
    files["epub"] = hostile_epub(tmp_path / "evil.epub", xhtml + body + "</body></html>")
    return files


def offered(source):
    return registry.targets(source)


def leaks(out, target):
    """Where the output holds a secret: marker text, or any picture at all (the corpus has none of its own)."""
    found = []
    data = out.read_bytes()
    if MARKER.encode() in data:
        found.append("raw bytes")
    if zipfile.is_zipfile(out):
        with zipfile.ZipFile(out) as zf:
            for name in zf.namelist():
                member = zf.read(name)
                if MARKER.encode() in member or b"root:x:0:0" in member:
                    found.append(name)
                if name.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".svg", ".txt")) and not name.startswith(
                    "Thumbnails/"
                ):
                    found.append(f"picture {name}")
    if target == "pdf":
        if MARKER in pdf_text(out):
            found.append("pdf text")
        images = subprocess.run(["pdfimages", "-list", str(out)], capture_output=True, text=True, check=True)
        if len(images.stdout.strip().splitlines()) > 2:
            found.append("pdf image")
    return found


def hostile_pairs():
    return [(s, t) for s in SOURCES for t in offered(s)]


@pytest.mark.parametrize("source,target", hostile_pairs())
def test_markup_cannot_read_or_fetch(tmp_path, hostile, listener, office_bridge, source, target):
    before = listener.connections
    try:
        out, _, _ = convert(tmp_path, hostile[source], source, target)
    except ConversionFailed as exc:
        assert MARKER not in str(exc)
        return
    time.sleep(0.2)
    assert leaks(out, target) == [], f"{source} -> {target} carried a server file out"
    assert listener.connections == before, f"{source} -> {target} connected out"


def test_the_corpus_is_whole():
    for source in SOURCES:
        assert offered(source), f"nothing offered for {source}"
    assert len(hostile_pairs()) >= 40


def test_tables_survive_the_tree_cleaning(tmp_path):
    """A caption's empty short caption is a null that pandoc's tree needs (issue 14 item 1)."""
    src = tmp_path / "t.md"
    src.write_text("| a | b |\n|---|---|\n| 1 | 2 |\n\n: Heron counts\n")
    out, _, _ = convert(tmp_path, src, "md", "docx")
    assert zipfile.is_zipfile(out)


@pytest.mark.parametrize("target", ["pdf", "odt", "html", "txt"])
def test_office_documents_cannot_link_server_files(tmp_path, documents, office_bridge, target):
    from tests.hostile_documents import docx_with_linked_image

    (tmp_path / "secret.png").write_bytes(secret_png())
    src = docx_with_linked_image(documents["docx"], tmp_path / "linked.docx", f"file://{tmp_path / 'secret.png'}")
    out, _, _ = convert(tmp_path, src, "docx", target)
    assert leaks(out, target) == []


def hostile_svg(root, url):
    refs = ("/".join(("", *root.parts[1:], "secret.png")), "../secret.png", f"file://{root / 'secret.png'}", url)
    images = "".join(
        f'<image href="{p}" x="0" y="0" width="80" height="80"/><image xlink:href="{p}" width="80" height="80"/>'
        for p in refs
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:xi="http://www.w3.org/2001/XInclude" width="80" height="80">'
        f"<style>@import url({url}/a.css); rect {{ fill: url({root / 'secret.svg'}#g); }}</style>"
        f'{images}<text x="0" y="40" fill="#c81e1e" font-size="30"><xi:include href="{root / "secret.txt"}" '
        'parse="text"/></text></svg>'
    )


def test_svg_cannot_read_or_fetch(tmp_path, listener):
    """librsvg reads nothing outside the SVG's folder (svg -> pdf is this raster, wrapped)."""
    target = "png"
    (tmp_path / "secret.txt").write_text(f"{MARKER}\n")
    (tmp_path / "secret.png").write_bytes(secret_png())
    src = tmp_path / "evil.svg"
    src.write_text(hostile_svg(tmp_path, f"http://127.0.0.1:{listener.port}"))
    before = listener.connections
    out, _, _ = convert(tmp_path, src, "svg", target)
    time.sleep(0.2)
    assert listener.connections == before
    assert leaks(out, target) == []
    with Image.open(out) as im:
        reds = [p for p in im.convert("RGB").getdata() if p[0] > 150 and p[1] < 80 and p[2] < 80]
    assert reds == [], "the secret picture or text was drawn"

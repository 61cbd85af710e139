"""Markup documents with pandoc: md, rst, org, textile, mediawiki, LaTeX and more.

Markup names files, and a writer that embeds what the markup names would
carry a server file out inside the result (`<img src="../../db.sqlite3">` in
markdown -> epub did exactly that with Debian's pandoc 2.17, whose docx/odt/
epub writers cannot run under `--sandbox`). So, in layers:

- pandoc 3.x from PyPI's pypandoc-binary, pinned in the lock: its `--sandbox`
  covers every reader and writer, and every pandoc run here uses it. Without
  that binary the converter is not offered (fail closed, never Debian's 2.x).
- The tree between reader and writer is cleaned: images keep only inline
  `data:` pictures (a path or URL becomes its alt text), attributes that name
  resources (`src`, `poster`, `href`, `style`...) go, metadata keeps only plain
  descriptive keys, cleaned the same way. Raw HTML/LaTeX is dropped before
  every writer that embeds resources (docx, odt, epub, and the HTML that
  LibreOffice prints to PDF); text writers keep it as the user's own text.
- The runner's box (no network, private work dir) holds under all of that.

PDF needs no TeX: the cleaned tree becomes HTML, which the warm LibreOffice
prints. Priority 5: where LibreOffice offers the same pair (docx <-> odt,
html -> docx, ...) its layout-preserving path (priority 10) wins; pandoc
serves the markup formats LibreOffice cannot read or write.
"""

import importlib.util
import json
import logging
import os
from functools import cache
from pathlib import Path

from conversions.engine import archives
from conversions.engine.registry import Converter, register

logger = logging.getLogger(__name__)

READERS = {"md": "markdown", "html": "html", "rst": "rst", "epub": "epub", "docx": "docx", "odt": "odt",
           "org": "org", "textile": "textile", "mediawiki": "mediawiki", "tex": "latex"}  # fmt: skip
WRITERS = {"md": "markdown", "html": "html5", "docx": "docx", "odt": "odt", "epub": "epub3", "rst": "rst"}
# Writers that keep raw HTML/LaTeX as text; every other target (and pdf) loses it.
RAW_KEEPING_WRITERS = {"md", "html", "rst"}
PDF_SOURCES = ("md", "rst", "org", "textile", "mediawiki", "tex", "epub", "html")
SAFE_META = {"title", "subtitle", "author", "date", "lang", "abstract", "keywords", "subject", "description"}
# Attribute keys kept on any element; everything else (src, poster, href, data, style...) may name a resource.
SAFE_ATTR_KEYS = {"width", "height", "lang", "dir"}
# Element types whose first content item is an Attr ([id, classes, [[key, value]...]]).
ATTR_FIRST = {"Image", "Link", "Span", "Div", "Code", "CodeBlock", "Figure", "Table"}
RTS = ("+RTS", "-M1024m", "-RTS")  # pandoc's own heap cap, under the runner's address-space cap
_DROP = object()


@cache
def pandoc_binary():
    """The pandoc 3.x that pypandoc-binary ships, or None (then no pandoc pair is offered)."""
    spec = importlib.util.find_spec("pypandoc")
    if spec is None or not spec.submodule_search_locations:
        return None
    exe = Path(next(iter(spec.submodule_search_locations))) / "files" / "pandoc"
    return str(exe.resolve()) if os.access(exe, os.X_OK) else None


def _pairs():
    pairs = {(s, t) for s in READERS for t in WRITERS if s != t}
    pairs |= {(s, "pdf") for s in PDF_SOURCES}
    return frozenset(pairs)


def clean_tree(tree, *, drop_raw=False):
    """Strip everything a writer (or LibreOffice) could fetch or read from the JSON tree."""
    meta = {k: v for k, v in tree.get("meta", {}).items() if k in SAFE_META}
    tree["meta"] = {k: _clean(v, drop_raw) for k, v in meta.items()}
    tree["blocks"] = _clean(tree.get("blocks", []), drop_raw)
    return tree


def _clean(node, drop_raw):
    if isinstance(node, list):
        # Only what _clean itself removed goes: pandoc's own nulls (a table
        # caption's empty short caption) are part of the tree's shape.
        cleaned = [_clean(n, drop_raw) for n in node]
        return [n for n in cleaned if n is not _DROP]
    if not isinstance(node, dict):
        return node
    kind = node.get("t")
    if drop_raw and kind in ("RawBlock", "RawInline"):
        return _DROP
    if kind == "Image":
        attr, alt, (url, _title) = node["c"]
        if not url.startswith("data:"):
            return {"t": "Span", "c": [_clean_attr(attr), _clean(alt, drop_raw)]}
    cleaned = {k: _clean(v, drop_raw) for k, v in node.items()}
    if kind in ATTR_FIRST and isinstance(cleaned.get("c"), list) and cleaned["c"]:
        cleaned["c"][0] = _clean_attr(cleaned["c"][0])
    return cleaned


def _clean_attr(attr):
    if isinstance(attr, list) and len(attr) == 3 and isinstance(attr[2], list):
        ident, classes, pairs = attr
        return [ident, classes, [kv for kv in pairs if isinstance(kv, list) and kv and kv[0] in SAFE_ATTR_KEYS]]
    return attr


@register
class PandocConverter(Converter):
    name = "pandoc"
    family = "documents"
    tool = "pandoc"
    pairs = _pairs()
    priority = 5

    @classmethod
    def available(cls):
        return pandoc_binary() is not None

    def convert(self, ctx):
        archives.check_container(ctx.source_path, ctx.source_format)
        tree = self._read(ctx)
        ctx.set_progress(40)
        if ctx.target_format == "pdf":
            return self._to_pdf(ctx, tree)
        drop_raw = ctx.target_format not in RAW_KEEPING_WRITERS
        self._write(ctx, clean_tree(tree, drop_raw=drop_raw), ctx.target_format, ctx.output_path)
        return ctx.output_path

    def _read(self, ctx):
        ast = ctx.workdir / "tree.json"
        ctx.run([pandoc_binary(), *RTS, "--sandbox", "-f", READERS[ctx.source_format], "-t", "json",
                 "-o", ast.name, ctx.source_path.name], timeout=120, tool="pandoc")  # fmt: skip
        return json.loads(ast.read_text(encoding="utf-8"))

    def _write(self, ctx, tree, target, out):
        clean = ctx.workdir / "clean.json"
        clean.write_text(json.dumps(tree), encoding="utf-8")
        argv = [pandoc_binary(), *RTS, "--sandbox", "-f", "json", "-t", WRITERS[target], "-s", "-o", out.name, clean.name]
        if not tree["meta"].get("title"):
            # Writers that need a title would otherwise use our internal file name.
            argv += ["--metadata", f"pagetitle={ctx.display_name or 'Document'}"]
        ctx.run(argv, timeout=120, tool="pandoc")

    def _to_pdf(self, ctx, tree):
        from conversions.documents.office import OfficeJob, office_convert

        html = ctx.workdir / "document.html"
        self._write(ctx, clean_tree(tree, drop_raw=True), "html", html)
        ctx.set_progress(60)
        office_convert(ctx, OfficeJob.plan(html, "html", ctx.output_path, "pdf"))
        return ctx.output_path

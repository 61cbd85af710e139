"""Markup documents with pandoc: md, rst, org, textile, mediawiki, LaTeX and more.

Every input is read with `--sandbox` into pandoc's JSON tree, so no reader
can include a file (`\\input`, `.. include::`) or fetch a URL. Debian's pandoc
2.17 cannot write docx/odt/epub under `--sandbox` (it fails to read its own
data files there), so the tree is cleaned before any writer sees it: images
keep only inline `data:` pictures (a path or URL becomes its alt text) and
metadata keeps only plain descriptive keys (no `cover-image`, `css`...).
Writers then have nothing to fetch; text writers run sandboxed anyway, zip
writers without it, both without network. `--extract-media` is never used.

PDF needs no TeX: the cleaned tree becomes HTML, which the warm LibreOffice
prints (raw HTML dropped first, so it cannot point LibreOffice anywhere).
Priority 5: where LibreOffice offers the same pair (docx <-> odt, html -> docx,
...) its layout-preserving path (priority 10) wins; pandoc serves the
markup formats LibreOffice cannot read or write.
"""

import json
import logging

from conversions import archives
from conversions.registry import Converter, register

logger = logging.getLogger(__name__)

READERS = {"md": "markdown", "html": "html", "rst": "rst", "epub": "epub", "docx": "docx", "odt": "odt",
           "org": "org", "textile": "textile", "mediawiki": "mediawiki", "tex": "latex"}  # fmt: skip
WRITERS = {"md": "markdown", "html": "html5", "docx": "docx", "odt": "odt", "epub": "epub3", "rst": "rst"}
SANDBOXABLE_WRITERS = {"md", "html", "rst"}
PDF_SOURCES = ("md", "rst", "org", "textile", "mediawiki", "tex", "epub", "html")
SAFE_META = {"title", "subtitle", "author", "date", "lang", "abstract", "keywords", "subject", "description"}
RTS = ("+RTS", "-M1024m", "-RTS")  # pandoc's own heap cap, under the runner's address-space cap


def _pairs():
    pairs = {(s, t) for s in READERS for t in WRITERS if s != t}
    pairs |= {(s, "pdf") for s in PDF_SOURCES}
    return frozenset(pairs)


def clean_tree(tree, *, drop_raw=False):
    """Strip everything a writer (or LibreOffice) could fetch or read from the JSON tree."""
    tree["meta"] = {k: v for k, v in tree.get("meta", {}).items() if k in SAFE_META}
    tree["blocks"] = _clean(tree.get("blocks", []), drop_raw)
    return tree


def _clean(node, drop_raw):
    if isinstance(node, list):
        cleaned = [_clean(n, drop_raw) for n in node]
        return [n for n in cleaned if n is not None]
    if not isinstance(node, dict):
        return node
    kind = node.get("t")
    if kind == "Image":
        attr, alt, (url, _title) = node["c"]
        if not url.startswith("data:"):
            return {"t": "Span", "c": [attr, _clean(alt, drop_raw)]}
    if drop_raw and kind in ("RawBlock", "RawInline"):
        return None
    return {k: _clean(v, drop_raw) for k, v in node.items()}


@register
class PandocConverter(Converter):
    name = "pandoc"
    family = "documents"
    tool = "pandoc"
    pairs = _pairs()
    priority = 5

    def convert(self, ctx):
        archives.check_container(ctx.source_path, ctx.source_format)
        tree = self._read(ctx)
        ctx.set_progress(40)
        if ctx.target_format == "pdf":
            return self._to_pdf(ctx, tree)
        self._write(ctx, clean_tree(tree), ctx.target_format, ctx.output_path)
        return ctx.output_path

    def _read(self, ctx):
        ast = ctx.workdir / "tree.json"
        ctx.run(["pandoc", *RTS, "--sandbox", "-f", READERS[ctx.source_format], "-t", "json",
                 "-o", ast.name, ctx.source_path.name], timeout=120, tool="pandoc")  # fmt: skip
        return json.loads(ast.read_text(encoding="utf-8"))

    def _write(self, ctx, tree, target, out):
        clean = ctx.workdir / "clean.json"
        clean.write_text(json.dumps(tree), encoding="utf-8")
        argv = ["pandoc", *RTS, "-f", "json", "-t", WRITERS[target], "-s", "-o", out.name, clean.name]
        if target in SANDBOXABLE_WRITERS:
            argv.insert(len(RTS) + 1, "--sandbox")
        if target == "html" and not tree["meta"].get("title"):
            argv += ["--metadata", f"pagetitle={ctx.source_path.stem}"]
        ctx.run(argv, timeout=120, tool="pandoc")

    def _to_pdf(self, ctx, tree):
        from conversions.converters.office import OfficeJob, office_convert

        html = ctx.workdir / "document.html"
        self._write(ctx, clean_tree(tree, drop_raw=True), "html", html)
        ctx.set_progress(60)
        office_convert(ctx, OfficeJob.plan(html, "html", ctx.output_path, "pdf"))
        return ctx.output_path

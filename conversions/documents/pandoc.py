"""Markup documents with pandoc: md, rst, org, textile, mediawiki, LaTeX and more.

Markup names files, and a writer that embeds what the markup names would
carry a server file out inside the result (`<img src="../../db.sqlite3">` in
markdown -> epub did exactly that with Debian's pandoc 2.17, whose docx/odt/
epub writers cannot run under `--sandbox`). So, in layers:

- pandoc 3.x from PyPI's pypandoc-binary, pinned in the lock: its `--sandbox`
  covers every reader and writer, and every pandoc run here uses it. Without
  that binary the converter is not offered (fail closed, never Debian's 2.x).
- The tree between reader and writer is cleaned, in the same pandoc run, by
  our Lua filters (clean.lua, drop_raw.lua beside this file): images keep only
  inline `data:` pictures (a path or URL becomes its alt text), attributes
  that name resources (`src`, `poster`, `href`, `style`...) go, metadata keeps
  only plain descriptive keys, cleaned the same way. Raw HTML/LaTeX is dropped
  before every writer that embeds resources (docx, odt, epub, and the HTML
  that LibreOffice prints to PDF); text writers keep it as the user's own text.
  One run, not a reader run to JSON and a writer run: each costs pandoc's
  start and the sandbox launcher's (issue 12).
- The runner's box (no network, private work dir) holds under all of that.

PDF needs no TeX: the cleaned tree becomes HTML, which the warm LibreOffice
prints. Priority 5: where LibreOffice offers the same pair (docx <-> odt,
html -> docx, ...) its layout-preserving path (priority 10) wins; pandoc
serves the markup formats LibreOffice cannot read or write.
"""

import importlib.util
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
# The tree's cleaning, as Lua filters run by the same pandoc between reader and writer (the tool may
# read them: the runner's read_only). drop_raw.lua goes first before writers that embed files.
CLEAN_FILTER = Path(__file__).resolve().with_name("clean.lua")
DROP_RAW_FILTER = Path(__file__).resolve().with_name("drop_raw.lua")
# A reader that reads differently when standalone (rst promotes a lone top heading to the title and
# a docinfo field list to metadata) gets a run of its own, without -s, as before: the same tree.
STANDALONE_SENSITIVE_READERS = {"rst"}
RTS = ("+RTS", "-M1024m", "-RTS")  # pandoc's own heap cap, under the runner's address-space cap


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
        if ctx.target_format == "pdf":
            return self._to_pdf(ctx)
        self._run(ctx, ctx.target_format, ctx.output_path, drop_raw=ctx.target_format not in RAW_KEEPING_WRITERS)
        return ctx.output_path

    def _run(self, ctx, target, out, *, drop_raw):
        """One sandboxed pandoc: reader, our cleaning filters, writer (two for a standalone-sensitive reader)."""
        reader, source = READERS[ctx.source_format], ctx.source_path.name
        if reader in STANDALONE_SENSITIVE_READERS:
            ctx.run([pandoc_binary(), *RTS, "--sandbox", "-f", reader, "-t", "json", "-o", "tree.json", source],
                    timeout=120, tool="pandoc")  # fmt: skip
            reader, source = "json", "tree.json"
        filters = (DROP_RAW_FILTER, CLEAN_FILTER) if drop_raw else (CLEAN_FILTER,)
        argv = [pandoc_binary(), *RTS, "--sandbox", "-f", reader, "-t", WRITERS[target], "-s",
                *(f"--lua-filter={f}" for f in filters),
                # Writers that need a title would otherwise use our internal file name; clean.lua
                # keeps it only when the document has no title of its own (-M overrides the document's).
                "--metadata", f"pagetitle={ctx.display_name or 'Document'}",
                "-o", out.name, source]  # fmt: skip
        ctx.run(argv, timeout=120, tool="pandoc", read_only=filters)

    def _to_pdf(self, ctx):
        from conversions.documents.office import OfficeJob, office_convert

        html = ctx.workdir / "document.html"
        self._run(ctx, "html", html, drop_raw=True)
        ctx.set_progress(60)
        office_convert(ctx, OfficeJob.plan(html, "html", ctx.output_path, "pdf"))
        return ctx.output_path

"""E-books: EPUB <-> MOBI/AZW3 with calibre's `ebook-convert`.

Runs through the sandboxed runner: no network, the job's folder as HOME and
TMPDIR (calibre writes its config there), Qt on the offscreen platform, CPU,
memory and output caps. EPUB inputs pass the zip checks first. EPUB -> PDF is
not calibre's: its PDF writer is Chromium, which refuses to run as root without
disabling its own sandbox; pandoc + the warm LibreOffice do that pair.
"""

import logging

from conversions.engine import archives
from conversions.engine.registry import Converter, register

logger = logging.getLogger(__name__)

EBOOKS = ("epub", "mobi", "azw3")


@register
class CalibreConverter(Converter):
    name = "calibre"
    family = "documents"
    tool = "ebook-convert"
    pairs = frozenset((s, t) for s in EBOOKS for t in EBOOKS if s != t)
    priority = 10

    def convert(self, ctx):
        archives.check_container(ctx.source_path, ctx.source_format)
        ctx.set_progress(10)
        argv = ["ebook-convert", ctx.source_path.name, ctx.output_path.name]
        if ctx.target_format == "epub":
            argv.append("--no-default-epub-cover")  # no 150 KB generated title picture
        ctx.run(
            argv, timeout=300, memory_mb=2048, tool="ebook-convert",
            env={"QT_QPA_PLATFORM": "offscreen", "CALIBRE_CONFIG_DIRECTORY": str(ctx.workdir / "calibre")},
        )  # fmt: skip
        return ctx.output_path

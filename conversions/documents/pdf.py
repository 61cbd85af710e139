"""PDF to Word, text, images and HTML.

PDF -> DOCX uses pdf2docx (PyMuPDF), which rebuilds editable paragraphs and
tables rather than pasting one picture per page. It runs in a child Python
through the sandboxed runner, so a hostile PDF that crashes or exhausts
MuPDF takes down that child, not the worker. Text, HTML and images come from
poppler's command-line tools, also sandboxed. Images -> PDF (multi-frame TIFF
included) are already done by media/converters/images.py with Pillow.
"""

import logging
import re
import sys
import zipfile
from pathlib import Path

from conversions.errors import ConversionFailed
from conversions.engine.registry import Converter, Param, register, tool_installed

logger = logging.getLogger(__name__)

MAX_RASTER_PAGES = 500

# pdf2docx logs "[3/4] Parsing pages..." then "(i/n) Page p" per page, twice
# (parse, then create); the child turns those into a percentage in a file the
# worker reads on every tick.
PDF2DOCX_SCRIPT = """
import logging, os, re, sys
class Progress(logging.Handler):
    phase = 0
    def emit(self, record):
        msg = record.getMessage()
        if "[3/4]" in msg or "[4/4]" in msg:
            self.phase = 3 if "[3/4]" in msg else 4
        m = re.match(r"\\((\\d+)/(\\d+)\\)", msg)
        if m and self.phase:
            done = int(m.group(1)) / int(m.group(2))
            pct = 10 + done * 50 if self.phase == 3 else 60 + done * 35
            with open("progress.tmp", "w") as f:
                f.write(str(int(pct)))
            os.replace("progress.tmp", "progress.txt")
root = logging.getLogger()
root.handlers[:] = [Progress()]
root.setLevel(logging.INFO)
from pdf2docx import Converter
cv = Converter(sys.argv[1])
try:
    cv.convert(sys.argv[2], multi_processing=False)
finally:
    cv.close()
"""


def page_count(ctx, pdf):
    """Pages of a PDF per pdfinfo (sandboxed); a damaged file fails here, clearly."""
    result = ctx.run(["pdfinfo", str(pdf)], timeout=60, tool="pdfinfo", check=False)
    match = re.search(r"^Pages:\s+(\d+)", result.stdout, re.M)
    if result.returncode != 0 or not match:
        raise ConversionFailed(
            "The PDF cannot be read: it is damaged or password-protected.", code="invalid_pdf"
        )
    return int(match.group(1))


def check_page_pixels(ctx, pdf, pages, dpi):
    """Refuse pages that would draw larger than the image pixel cap (a 200-inch page at 300 dpi)."""
    from django.conf import settings

    result = ctx.run(["pdfinfo", "-f", "1", "-l", str(pages), str(pdf)], timeout=60, tool="pdfinfo", check=False)
    cap = settings.MAX_IMAGE_PIXELS
    total = 0
    for number, width, height in re.findall(r"^Page\s+(\d+) size:\s+([\d.]+) x ([\d.]+) pts", result.stdout, re.M):
        pixels = float(width) / 72 * dpi * float(height) / 72 * dpi
        if pixels > cap:
            raise ConversionFailed(
                f"Page {number} would be {pixels / 1e6:.0f} megapixels at {dpi} dpi, over the "
                f"{cap / 1e6:g}-megapixel limit; choose a lower dpi.",
                code="page_too_large",
            )
        total += pixels
    # Every page together against the job's pixel budget, before any is drawn:
    # a tiny PDF of 500 large pages must not fill the disk with images.
    ctx.budget.spend_pixels(total, what="pages drawn")


def rasterize(ctx, pdf, fmt, *, dpi=110, name="page"):
    """One image per page; a single page comes back as is, several as a zip."""
    pages = page_count(ctx, pdf)
    if pages > MAX_RASTER_PAGES:
        raise ConversionFailed(
            f"The document has {pages} pages; at most {MAX_RASTER_PAGES} are turned into images.", code="too_many_pages"
        )
    check_page_pixels(ctx, pdf, pages, dpi)
    outdir = ctx.workdir / "pages"
    outdir.mkdir(exist_ok=True)
    flag = "-png" if fmt == "png" else "-jpeg"
    ctx.run(["pdftoppm", flag, "-r", str(int(dpi)), str(pdf), str(outdir / name)], timeout=300, tool="pdftoppm")
    images = sorted(outdir.glob(f"{name}-*.{'png' if fmt == 'png' else 'jpg'}"), key=_page_number)
    if not images:
        raise ConversionFailed("The document has no page to draw.", code="empty_output")
    ctx.set_progress(90)
    if len(images) == 1:
        return images[0]
    archive = ctx.workdir / "output.zip"
    width = max(2, len(str(len(images))))
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for i, image in enumerate(images, 1):
            zf.write(image, f"{name}-{i:0{width}d}.{fmt}")
    ctx.output_format = "zip"
    return archive


def _page_number(path):
    return int(path.stem.rsplit("-", 1)[1])


@register
class PdfToDocx(Converter):
    name = "pdf2docx"
    family = "documents"
    tool = ""
    pairs = frozenset({("pdf", "docx")})
    priority = 10

    @classmethod
    def available(cls):
        import importlib.util

        return tool_installed("pdfinfo") and importlib.util.find_spec("pdf2docx") is not None

    def convert(self, ctx):
        pages = page_count(ctx, ctx.source_path)
        ctx.set_progress(10)
        # pdf2docx lays out every page in memory: a generous but finite cap.
        progress_file = ctx.workdir / "progress.txt"

        def on_tick():
            try:
                ctx.progress = max(ctx.progress, min(99, int(progress_file.read_text())))
            except (OSError, ValueError):
                pass
            ctx.tick()

        try:
            ctx.run(
                [sys.executable, "-I", "-c", PDF2DOCX_SCRIPT, ctx.source_path.name, ctx.output_path.name],
                timeout=max(120, pages * 10), memory_mb=3072, tool="pdf2docx", on_tick=on_tick,
            )  # fmt: skip
        except ConversionFailed as exc:
            if exc.code != "tool_failed":
                raise  # timeouts and resource limits already say what happened
            # A Python traceback names server paths: the log gets it, the user a plain answer.
            logger.warning("pdf2docx failed job=%s: %s", ctx.job_id, exc.message)
            raise ConversionFailed(
                "This PDF could not be turned into a Word document; it may be damaged or use features "
                "pdf2docx cannot read. Try PDF to text or images.",
                code="pdf2docx_failed",
            ) from None
        logger.info("pdf2docx job=%s family=documents pages=%s", ctx.job_id, pages)
        return ctx.output_path


@register
class PopplerConverter(Converter):
    name = "poppler"
    family = "documents"
    tool = "pdftoppm"
    pairs = frozenset({("pdf", "txt"), ("pdf", "png"), ("pdf", "jpg"), ("pdf", "html")})
    priority = 10
    options = (Param("dpi", int, "Resolution of page images", default=110, min=36, max=300),)

    def options_for(self, source, target):
        return self.options if target in ("png", "jpg") else ()

    def convert(self, ctx):
        target = ctx.target_format
        if target in ("png", "jpg"):
            return rasterize(ctx, ctx.source_path, target, dpi=ctx.options.get("dpi", 110))
        page_count(ctx, ctx.source_path)
        ctx.set_progress(10)
        if target == "txt":
            ctx.run(["pdftotext", "-layout", "-enc", "UTF-8", ctx.source_path.name, ctx.output_path.name],
                    timeout=120, tool="pdftotext")  # fmt: skip
            return ctx.output_path
        # One self-contained page of positioned text; images are left out rather than written beside it.
        stem = ctx.workdir / "html"
        ctx.run(["pdftohtml", "-s", "-i", "-noframes", "-q", "-enc", "UTF-8", ctx.source_path.name, stem.name],
                timeout=120, tool="pdftohtml")  # fmt: skip
        produced = Path(f"{stem}.html")
        if not produced.exists():
            raise ConversionFailed("pdftohtml produced no page for this PDF.", code="empty_output")
        return produced

"""Word processing, spreadsheets and presentations through a warm LibreOffice.

Every job goes to the process's warm bridge (conversions/documents/office_bridge.py);
only when the bridge cannot start at all does a job pay for a cold
`soffice --convert-to`, with the same hardened throw-away profile. Zip-based
inputs are checked for bombs and hostile names before LibreOffice sees them.
Slides or pages to images: the document goes to PDF on the warm office, then
poppler draws one image per page (LibreOffice's own png export draws only the
first one).
"""

import json
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from conversions.engine import archives
from conversions.documents.html_clean import clean_html_file
from conversions.errors import BadRequest, ConversionFailed
from conversions.documents.lo_bridge import write_profile
from conversions.documents.office_bridge import BridgeUnavailable, manager
from conversions.engine.registry import Converter, Param, register

logger = logging.getLogger(__name__)

WRITER_SOURCES = ("doc", "docx", "odt", "rtf", "txt", "html")
WRITER_TARGETS = ("pdf", "docx", "odt", "rtf", "txt", "html", "epub")
WORD_FORMATS = ("doc", "docx", "odt")  # these also convert to each other, doc included
CALC_SOURCES = ("xls", "xlsx", "ods", "csv")
CALC_TARGETS = ("pdf", "xlsx", "ods", "csv", "html")
IMPRESS_SOURCES = ("ppt", "pptx", "odp")
IMPRESS_TARGETS = ("pdf", "pptx", "odp", "png", "jpg")
PAGE_RANGE = re.compile(r"\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*")
CSV_OPTIONS = "44,34,76,1"  # comma, double quote, UTF-8, from line 1
# Export: the same, and text quoted only where needed (LibreOffice quotes every text cell otherwise).
CSV_EXPORT_OPTIONS = "44,34,76,1,,0,false,true,true,false,false"

KIND_OF = {**{s: "text" for s in WRITER_SOURCES}, **{s: "spreadsheet" for s in CALC_SOURCES},
           **{s: "presentation" for s in IMPRESS_SOURCES}}  # fmt: skip

# Every input is opened with the import filter of its sniffed format, never
# LibreOffice's own guess: a file named .docx that is really something else
# (an RTF, a flat XML, a format with a weaker parser) fails to load instead
# of reaching whichever of LibreOffice's ~200 import filters claims it. Plain
# inputs need it too: txt would open in Writer/Web or Calc depending on its
# content, csv as text.
LOAD_FILTERS = {
    "doc": ("MS Word 97", ""),
    "docx": ("MS Word 2007 XML", ""),
    "odt": ("writer8", ""),
    "rtf": ("Rich Text Format", ""),
    "txt": ("Text (encoded)", "UTF8"),
    "html": ("HTML (StarWriter)", ""),
    "xls": ("MS Excel 97", ""),
    "xlsx": ("Calc MS Excel 2007 XML", ""),
    "ods": ("calc8", ""),
    "csv": ("Text - txt - csv (StarCalc)", CSV_OPTIONS),
    "ppt": ("MS PowerPoint 97", ""),
    "pptx": ("Impress MS PowerPoint 2007 XML", ""),
    "odp": ("impress8", ""),
}

EXPORT_FILTERS = {
    ("text", "pdf"): ("writer_pdf_Export", ""),
    ("text", "docx"): ("MS Word 2007 XML", ""),
    ("text", "doc"): ("MS Word 97", ""),
    ("text", "odt"): ("writer8", ""),
    ("text", "rtf"): ("Rich Text Format", ""),
    ("text", "txt"): ("Text (encoded)", "UTF8"),
    ("text", "html"): ("HTML (StarWriter)", "EmbedImages"),
    ("text", "epub"): ("EPUB", ""),
    ("spreadsheet", "pdf"): ("calc_pdf_Export", ""),
    ("spreadsheet", "xlsx"): ("Calc MS Excel 2007 XML", ""),
    ("spreadsheet", "ods"): ("calc8", ""),
    ("spreadsheet", "csv"): ("Text - txt - csv (StarCalc)", CSV_EXPORT_OPTIONS),
    ("spreadsheet", "html"): ("HTML (StarCalc)", ""),
    ("presentation", "pdf"): ("impress_pdf_Export", ""),
    ("presentation", "pptx"): ("Impress MS PowerPoint 2007 XML", ""),
    ("presentation", "odp"): ("impress8", ""),
}


def _pairs():
    pairs = {(s, t) for s in WRITER_SOURCES for t in WRITER_TARGETS}
    pairs |= {(s, t) for s in WORD_FORMATS for t in WORD_FORMATS}
    pairs |= {(s, t) for s in CALC_SOURCES for t in CALC_TARGETS}
    pairs |= {(s, t) for s in IMPRESS_SOURCES for t in IMPRESS_TARGETS}
    pairs |= {(s, t) for s in WORD_FORMATS + ("rtf",) for t in ("png", "jpg")}  # "word to jpg": one image a page
    return frozenset((s, t) for s, t in pairs if s != t)


@dataclass
class OfficeJob:
    """One LibreOffice load + store, as the bridge and the cold path both need it."""

    src: Path
    dst: Path
    kind: str
    load_filter: str
    load_options: str
    export_filter: str
    export_options: str
    export_data: dict = field(default_factory=dict)  # the export filter's FilterData

    @classmethod
    def plan(cls, src, source_format, dst, target):
        kind = KIND_OF[source_format]
        load_filter, load_options = LOAD_FILTERS[source_format]
        export_filter, export_options = EXPORT_FILTERS[(kind, target)]
        return cls(Path(src), Path(dst), kind, load_filter, load_options, export_filter, export_options)

    def request(self):
        return {
            "op": "convert", "src": str(self.src), "dst": str(self.dst), "kinds": [self.kind],
            "load_filter": self.load_filter, "load_options": self.load_options,
            "export_filter": self.export_filter, "export_options": self.export_options,
            "export_data": self.export_data,
        }  # fmt: skip


def office_convert(ctx, job):
    """Run one OfficeJob on the warm bridge, or cold if the bridge cannot start."""
    started = time.monotonic()
    if job.load_filter.startswith("HTML"):
        clean_html_file(job.src)
    try:
        # The bridge's own allowance, cut to what is left of the job's time budget.
        reply = manager().convert(job.request(), timeout=ctx.remaining_seconds(_timeout()), on_tick=ctx.tick)
        path = "warm"
    except BridgeUnavailable:
        _cold_convert(ctx, job)
        reply, path = {"ok": True}, "cold"
    if not reply.get("ok"):
        raise _failure(reply, ctx.source_format)
    if not job.dst.exists() or job.dst.stat().st_size == 0:
        raise ConversionFailed("LibreOffice produced no output for this file.", code="empty_output")
    logger.info(
        "office job=%s family=documents tool=soffice path=%s filter=%s seconds=%.3f office_seconds=%.3f",
        ctx.job_id, path, job.export_filter, time.monotonic() - started, reply.get("seconds", 0),
    )  # fmt: skip


def _failure(reply, source_format):
    if reply.get("code") == "wrong_kind":
        return ConversionFailed(
            f"The {source_format.upper()} file {reply.get('error', 'opened as another kind of document')}; "
            "check that it is what its extension says.",
            code="wrong_document_kind",
        )
    # The UNO error names server paths and source files: it goes to the log only.
    logger.warning("office failed format=%s: %s", source_format, reply.get("error", "")[:500])
    return ConversionFailed(
        f"LibreOffice could not convert this {source_format.upper()} file; it may be damaged or password-protected.",
        code="office_failed",
    )


def _cold_convert(ctx, job):
    """`soffice --convert-to` in the sandbox: the fallback when no bridge can start."""
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-", dir=ctx.workdir))
    outdir = Path(tempfile.mkdtemp(prefix="lo-out-", dir=ctx.workdir))
    ext = job.dst.suffix.lstrip(".")
    target = f"{ext}:{job.export_filter}" + (f":{job.export_options}" if job.export_options else "")
    if job.export_data:  # LibreOffice 7.4+ takes FilterData as JSON after the filter name
        kinds = {bool: "boolean", int: "long", str: "string"}
        data = {k: {"type": kinds[type(v)], "value": str(v).lower() if isinstance(v, bool) else str(v)}
                for k, v in job.export_data.items()}  # fmt: skip
        target = f"{ext}:{job.export_filter}:{json.dumps(data)}"
    argv = ["soffice", "--headless", "--norestore", "--nolockcheck", "--nologo",
            f"-env:UserInstallation={write_profile(profile)}"]  # fmt: skip
    if job.load_filter:
        argv.append(f"--infilter={job.load_filter}" + (f":{job.load_options}" if job.load_options else ""))
    argv += ["--convert-to", target, "--outdir", str(outdir), str(job.src)]
    ctx.run(argv, timeout=_timeout(), memory_mb=0, tool="soffice", env={"SAL_USE_VCLPLUGIN": "svp"}, tmp_sockets=True)
    produced = outdir / f"{job.src.stem}.{ext}"
    if not produced.exists():
        raise ConversionFailed("LibreOffice could not convert this file.", code="office_failed")
    produced.replace(job.dst)


def pdf_export_data(options):
    data = {}
    if options.get("pdfa"):
        data["SelectPdfVersion"] = 2  # PDF/A-2b
    if options.get("pages"):
        data["PageRange"] = options["pages"]
    return data


def step(ctx, percent):
    """Note progress without a write of its own: most office calls finish in a fraction
    of a second, and a status write per step would cost more than the conversion's
    overhead budget. The bridge's wait ticks every 0.25 s, which saves it for long ones."""
    ctx.progress = max(ctx.progress, percent)


def _timeout():
    from django.conf import settings

    return settings.OFFICE_BRIDGE_TIMEOUT_SECONDS


@register
class OfficeConverter(Converter):
    name = "libreoffice"
    family = "documents"
    tool = "soffice"
    pairs = _pairs()
    priority = 10
    options = (
        Param("dpi", int, "Resolution of page or slide images", default=110, min=36, max=300),
        Param("pdfa", bool, "Archival PDF/A-2b", default=False),
        Param("pages", str, "Pages to include, e.g. 1-3,5 (all when empty)", default=""),
    )

    def options_for(self, source, target):
        if target in ("png", "jpg"):
            return self.options[:1]
        return self.options[1:] if target == "pdf" else ()

    def clean_options(self, source, target, raw):
        cleaned = super().clean_options(source, target, raw)
        pages = cleaned.get("pages", "").replace(" ", "")
        if pages and (len(pages) > 100 or not PAGE_RANGE.fullmatch(pages)):
            raise BadRequest(f"{source} -> {target}: 'pages' must look like 1-3,5; got {(raw or {}).get('pages')!r}.",
                             code="invalid_option")  # fmt: skip
        if "pages" in cleaned:
            cleaned["pages"] = pages
        return cleaned

    def convert(self, ctx):
        archives.check_container(ctx.source_path, ctx.source_format)
        step(ctx, 10)
        if ctx.target_format in ("png", "jpg"):
            return self._pages_to_images(ctx)
        job = OfficeJob.plan(ctx.source_path, ctx.source_format, ctx.output_path, ctx.target_format)
        if ctx.target_format == "pdf":
            job.export_data = pdf_export_data(ctx.options)
        office_convert(ctx, job)
        return ctx.output_path

    def _pages_to_images(self, ctx):
        from conversions.documents.pdf import rasterize

        pdf = ctx.workdir / "pages.pdf"
        office_convert(ctx, OfficeJob.plan(ctx.source_path, ctx.source_format, pdf, "pdf"))
        step(ctx, 50)
        name = "slide" if KIND_OF[ctx.source_format] == "presentation" else "page"
        return rasterize(ctx, pdf, ctx.target_format, dpi=ctx.options.get("dpi", 110), name=name)

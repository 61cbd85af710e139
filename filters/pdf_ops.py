"""PDF operations: structure with pikepdf (`pdftool.py`), pixels with Ghostscript.

`engine` says who runs an op; `pdf_exec` batches consecutive pikepdf ops
into one sandboxed subprocess and gives Ghostscript ops their own run.
"""

from filters.vocabulary import Operation, Param, parse_pages, register

PRESETS = ("screen", "ebook", "printer", "prepress")


class PdfOperation(Operation):
    family = "pdf"
    engine = "pikepdf"

    def tool_params(self, p, where="pdf"):
        """The parameters as pdftool.py reads them."""
        return dict(p)

    def gs_args(self, p):
        return []


@register
class PdfMerge(PdfOperation):
    name = "merge"
    help = "Join every uploaded PDF (several 'file' fields), in the order sent."
    multi_file = True


@register
class PdfRotate(PdfOperation):
    name = "rotate"
    help = "Rotate pages clockwise by 90, 180 or 270 degrees (all pages, or `pages` like '1-3,5')."
    params = (
        Param("degrees", int, required=True, choices=(90, 180, 270, -90, -180, -270)),
        Param("pages", str, max_length=500),
    )

    def check(self, p, where):
        if "pages" in p:
            parse_pages(p["pages"], where, field="pages")

    def tool_params(self, p, where="pdf"):
        out = {"op": "rotate", "degrees": p["degrees"]}
        if "pages" in p:
            out["spans"] = parse_pages(p["pages"], where, field="pages")
        return out


@register
class PdfPages(PdfOperation):
    name = "pages"
    help = "Keep these pages in this order: '1-3,5', '5-1' (reversed), 'last'."
    params = (Param("select", str, required=True, max_length=500),)

    def check(self, p, where):
        parse_pages(p["select"], where)

    def tool_params(self, p, where="pdf"):
        return {"op": "pages", "spans": parse_pages(p["select"], where)}


@register
class PdfWatermark(PdfOperation):
    name = "watermark"
    help = "Write a text diagonally across every page (Helvetica, gray, translucent)."
    params = (
        Param("text", str, required=True, max_length=100),
        Param("opacity", float, default=0.3, min=0.05, max=1),
    )


@register
class PdfSplit(PdfOperation):
    name = "split"
    help = "One PDF per page, returned as a zip."
    last_only = True


@register
class PdfCompress(PdfOperation):
    name = "compress"
    engine = "gs"
    help = "Rewrite with Ghostscript at a preset: screen (72 dpi images), ebook (150), printer (300), prepress."
    params = (Param("preset", str, default="ebook", choices=PRESETS),)

    def gs_args(self, p):
        return [f"-dPDFSETTINGS=/{p['preset']}"]


@register
class PdfGrayscale(PdfOperation):
    name = "grayscale"
    engine = "gs"
    help = "Convert text, vector art and images to gray."

    def gs_args(self, p):
        return ["-sColorConversionStrategy=Gray", "-dProcessColorModel=/DeviceGray", "-dOverrideICC=true"]


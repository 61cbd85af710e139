"""Structural PDF operations with pikepdf (qpdf), run as a sandboxed subprocess.

Usage: python pdftool.py OPS_JSON OUTPUT INPUT [INPUT...]

It imports no Django: `filters.pdf_exec` starts it through the runner, so a
hostile PDF meets qpdf inside the runner's memory, CPU, time and network
limits, not inside the worker. Exit code 2 means the request does not fit
the document, 3 that the PDF cannot be used (stderr says why, for the user);
anything else is a failure.
"""

import json
import math
import sys
import zipfile
from pathlib import Path

import pikepdf
from pikepdf import Dictionary, Name, Pdf


class UserError(Exception):
    exit_code = 2  # the operation does not fit this document


class BadInput(UserError):
    exit_code = 3  # the PDF itself cannot be used


def resolve_pages(spans, count):
    """[(start, end)] with -1 meaning the last page -> 0-based indexes, in order."""
    out = []
    for start, end in spans:
        start, end = (count if v == -1 else v for v in (start, end))
        for number in (start, end):
            if number > count:
                raise UserError(f"page {number} does not exist (the document has {count} pages).")
        step = 1 if end >= start else -1
        out.extend(n - 1 for n in range(start, end + step, step))
    return out


def op_merge(pdf, params, inputs):
    for path in inputs[1:]:
        with open_pdf(path) as other:
            pdf.pages.extend(other.pages)
    return pdf


def op_rotate(pdf, params, inputs):
    spans = params.get("spans")
    indexes = resolve_pages(spans, len(pdf.pages)) if spans else range(len(pdf.pages))
    for index in sorted(set(indexes)):
        pdf.pages[index].rotate(params["degrees"], relative=True)
    return pdf


def op_pages(pdf, params, inputs):
    indexes = resolve_pages(params["spans"], len(pdf.pages))
    out = Pdf.new()
    for index in indexes:
        out.pages.append(pdf.pages[index])
    return out


def _pdf_string(text):
    raw = text.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def op_watermark(pdf, params, inputs):
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)
    )
    alpha = params.get("opacity", 0.3)
    state = pdf.make_indirect(Dictionary(Type=Name.ExtGState, ca=alpha, CA=alpha))
    text = _pdf_string(params["text"])
    for page in pdf.pages:
        x0, y0, x1, y1 = (float(v) for v in page.mediabox)
        width, height = x1 - x0, y1 - y0
        size = max(8.0, min(width, height) / max(6, len(params["text"]) * 0.6))
        angle = math.atan2(height, width)
        cos, sin = math.cos(angle), math.sin(angle)
        text_width = 0.55 * size * len(params["text"])
        fname = page.add_resource(font, Name.Font, prefix="Fwm")
        gname = page.add_resource(state, Name.ExtGState, prefix="GSwm")
        stream = (
            f"q {gname} gs 0.5 0.5 0.5 rg {cos:.4f} {sin:.4f} {-sin:.4f} {cos:.4f} "
            f"{x0 + width / 2:.2f} {y0 + height / 2:.2f} cm BT {fname} {size:.1f} Tf "
            f"{-text_width / 2:.1f} {-size / 3:.1f} Td ("
        ).encode() + text + b") Tj ET Q"
        # Wrap the page's own content in q/Q so its graphics state cannot leak into ours.
        page.contents_add(b"q", prepend=True)
        page.contents_add(b"Q " + stream)
    return pdf


def split(pdf, out):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, page in enumerate(pdf.pages, start=1):
            single = Pdf.new()
            single.pages.append(page)
            name = Path(out).with_name(f"page-{number:04d}.pdf")
            single.save(name)
            archive.write(name, f"page-{number:04d}.pdf")
            name.unlink()


OPS = {"merge": op_merge, "rotate": op_rotate, "pages": op_pages, "watermark": op_watermark}


def open_pdf(path):
    try:
        return Pdf.open(path)
    except pikepdf.PasswordError:
        raise BadInput("The PDF is password-protected; remove the password first.") from None
    except pikepdf.PdfError as exc:
        raise BadInput(f"The PDF could not be read: {exc}") from None


def main(argv):
    ops, out, inputs = json.loads(argv[1]), argv[2], argv[3:]
    pdf = open_pdf(inputs[0])
    for params in ops:
        if params["op"] == "split":
            split(pdf, out)
            return 0
        try:
            pdf = OPS[params["op"]](pdf, params, inputs)
        except BadInput:
            raise
        except UserError as exc:
            raise UserError(f"{params['op']}: {exc}") from None
    pdf.remove_unreferenced_resources()
    pdf.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except UserError as exc:
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)

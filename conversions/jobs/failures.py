"""Name the infrastructure failures a worker meets, in words a user can act on.

A full temporary disk or an unreachable S3 is worth another attempt (another
worker, a moment later), but if every attempt fails the job's error should
say what happened rather than "server error".
"""

import errno
import re

from conversions.errors import TransientError

_DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(exc):
    """A TransientError with a clear code and message for a known cause, else `exc`."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno in _DISK_ERRNOS:
            return TransientError(
                "The server ran out of temporary disk space while converting this file; "
                "try again later or with a smaller file.",
                code="disk_full",
            )
        if _storage_unreachable(cause):
            return TransientError(
                "The file storage could not be reached while the job ran; try again in a few minutes.",
                code="storage_unavailable",
            )
    return exc


def _storage_unreachable(exc):
    try:
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
    except ImportError:
        return False
    return isinstance(exc, (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError))


# What a tool's error text may carry that a user must never see: where the
# server keeps things, and which versions of which tools it runs (an
# attacker's shopping list of CVEs).
_BANNER_LINE = re.compile(r"^\s*(?:configuration:|built with |Copyright ).*$", re.M | re.I)
_LIBRARY_LINE = re.compile(r"^\s*lib[a-z0-9]+\s+\d+\.\s*\d+\.\s*\d+.*$", re.M)  # ffmpeg's "libavutil 58. 29.100"
_PATH = re.compile(r"(?<![\w:/.])(?:/[\w.+\-@~]+)+/?")
_TOOL_VERSION = re.compile(
    r"\b(ffmpeg|ffprobe|pandoc|soffice|libreoffice|ghostscript|gs|calibre|ebook-convert|pdftoppm|pdfinfo|pdftotext|"
    r"pdftohtml|poppler|rsvg-convert|librsvg|vips|libvips|pillow|pikepdf|qpdf|pdf2docx|python|tesseract)"
    r"(?:\s+version)?\s+v?\d+(?:\.\d+)+[\w.\-+~]*",
    re.I,
)
_VERSION = re.compile(r"\b(?:version|ver\.?)\s+v?\d+(?:\.\d+)+[\w.\-+~]*|\bv\d+\.\d+(?:\.\d+)*[\w.\-+~]*", re.I)


def public_message(text):
    """`text` without server paths (a file keeps its bare name) or tool versions, for the user's eyes."""
    text = _LIBRARY_LINE.sub("", _BANNER_LINE.sub("", text or ""))
    text = _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1] or "", text)
    text = _TOOL_VERSION.sub(lambda m: m.group(1), text)
    text = _VERSION.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", re.sub(r"\n\s*\n+", "\n", text)).strip()

"""What an upload really is: libmagic's verdict checked against its name."""

import logging

import magic

from . import formats
from .errors import UnsupportedType

logger = logging.getLogger(__name__)


def detect_mime(path):
    return magic.from_file(str(path), mime=True)


def identify(path, filename, *, accepted=None):
    """Return (format name, detected MIME) for an uploaded file, or raise 415.

    The claimed extension must agree with the content; a file with no known
    extension is taken for what its content says. `accepted` limits the
    answer to formats some converter reads.
    """
    mime = detect_mime(path)
    claimed = formats.extension_of(filename)
    candidates = formats.formats_for_mime(mime)
    if accepted is not None:
        candidates = [c for c in candidates if c in accepted]
    if claimed:
        if accepted is not None and claimed not in accepted:
            raise UnsupportedType(
                f"{claimed.upper()} files are not accepted here (detected {mime}).", code="unsupported_format"
            )
        if claimed in candidates:
            return claimed, mime
        raise UnsupportedType(
            f"The file is named .{claimed} but its content looks like {mime}. "
            f"Upload a real {claimed.upper()} file or rename it to match its content.",
            code="type_mismatch",
        )
    if not candidates:
        raise UnsupportedType(f"Files of type {mime} are not supported.", code="unsupported_format")
    exact = [c for c in candidates if formats.FORMATS[c].content_type == mime]
    return (exact or candidates)[0], mime

"""What an upload really is: libmagic's verdict checked against its name."""

import logging
import threading

import magic

from conversions.engine import formats
from conversions.errors import UnsupportedType

logger = logging.getLogger(__name__)


# libmagic 5.44 reads up to 7 MiB of every file; the types accepted here are
# decided in the first kilobytes (ZIP entry names, ftyp boxes, ID3 headers),
# and reading 1 MiB takes the sniff of a 10 MB upload from ~10 ms to <1 ms.
SNIFF_BYTES = 1024 * 1024
_magic = {}
_magic_lock = threading.Lock()


def detector():
    """The process's one libmagic handle (made at start-up by convertall/apps.py)."""
    sniffer = _magic.get("mime")
    if sniffer is not None:
        return sniffer
    with _magic_lock:
        if "mime" not in _magic:
            sniffer = magic.Magic(mime=True)  # it serializes calls with its own lock
            try:
                sniffer.setparam(magic.MAGIC_PARAM_BYTES_MAX, SNIFF_BYTES)
            except (AttributeError, NotImplementedError, magic.MagicException):
                logger.info("libmagic cannot limit the bytes it reads; sniffing whole files")
            _magic["mime"] = sniffer  # only once it is set up
        return _magic["mime"]


def detect_mime(path):
    return detector().from_file(str(path))


# ffmpeg's HLS and concat demuxers follow a playlist to other files and URLs.
# Workers force an explicit demuxer anyway; an upload that is a playlist is
# refused here, whatever its name, so it is never stored or probed.
_PLAYLIST_MARKERS = (b"#EXTM3U", b"#EXT-X-", b"ffconcat version", b"concat:")
_MEDIA_CATEGORIES = ("audio", "video")


def refuse_playlist(path, fmt):
    if fmt is None or formats.FORMATS[fmt].category not in _MEDIA_CATEGORIES:
        return
    with open(path, "rb") as fh:
        head = fh.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(_PLAYLIST_MARKERS) or b"#EXTM3U" in head or b"#EXT-X-" in head:
        raise UnsupportedType(
            f"This file is a playlist or concat script, not a {fmt.upper()} file. "
            "Upload the media file itself.",
            code="playlist_refused",
        )


# Types libmagic guesses from loose header rules rather than a signature (TGA has
# none: many random byte strings pass for one). Taken only when the name says so.
NAME_REQUIRED = frozenset({"image/x-tga"})


def identify(path, filename, *, accepted=None):
    """Return (format name, detected MIME) for an uploaded file, or raise 415.

    The claimed extension must agree with the content; a file with no known
    extension is taken for what its content says. `accepted` limits the
    answer to formats some converter reads.
    """
    mime = detect_mime(path)
    claimed = formats.extension_of(filename)
    refuse_playlist(path, claimed)
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
    if mime in NAME_REQUIRED:
        raise UnsupportedType(
            f"This file's content has no signature to tell its type by (it might be {mime}). "
            f"Name it with its extension (.{candidates[0]}) if that is what it is.",
            code="unsupported_format",
        )
    exact = [c for c in candidates if formats.FORMATS[c].content_type == mime]
    return (exact or candidates)[0], mime

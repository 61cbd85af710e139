"""Zip containers (OOXML, ODF, EPUB) checked in the decoder child, before any tool opens them.

No Django here: `conversions.engine.archives` sends the file and its limits
to `conversions/decoder_child.py`, so the central directory is parsed and
every part inflated (zlib on untrusted bytes) inside the sandbox, never in
the worker.
"""

import stat
import zipfile

from conversions.decode_errors import DecodeFailed


def run(request):
    """The decoder child's `zip.check` task."""
    return check_zip(request["source"], request["label"], request["limits"])


def check_zip(path, label, limits):
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DecodeFailed(
            f"The {label} file is damaged: its zip structure cannot be read ({exc}).", code="damaged_archive"
        ) from None
    if len(infos) > limits["entries"]:
        raise DecodeFailed(
            f"The {label} file holds {len(infos)} parts; at most {limits['entries']} are accepted.",
            code="archive_too_many_entries",
        )
    total = packed = 0
    for info in infos:
        _check_name(info, label)
        total += info.file_size
        packed += info.compress_size
        if total > limits["bytes"]:
            raise DecodeFailed(
                f"The {label} file unpacks to more than {limits['bytes'] // 2**20} MB "
                "(a zip bomb or an oversized document); it was not opened.",
                code="archive_too_large",
            )
    ratio = total / max(packed, 1)
    if total > 1 * 2**20 and ratio > limits["ratio"]:
        raise DecodeFailed(
            f"The {label} file is compressed {ratio:.0f} to 1, far beyond real documents "
            f"(limit {limits['ratio']} to 1); it looks like a zip bomb and was not opened.",
            code="archive_ratio",
        )
    _inflate_all(path, label)
    return {"entries": len(infos), "bytes": total, "ratio": round(ratio, 1)}


def _inflate_all(path, label):
    """Inflate every part once, in small chunks, against its CRC.

    The sizes above are the archive's claims; a part whose data inflates past
    its declared size fails its CRC here (Python stops at the declared size),
    so no tool later meets a part bigger than the totals that were checked.
    Costs milliseconds for ordinary documents.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                with zf.open(info) as part:
                    while part.read(1 << 20):
                        pass
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise DecodeFailed(
            f"The {label} file is damaged: a part does not unpack as its header says ({exc}).",
            code="damaged_archive",
        ) from None


def _check_name(info, label):
    name = info.filename.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DecodeFailed(
            f"The {label} file contains a part named {info.filename!r} that points outside the document.",
            code="archive_bad_path",
        )
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        raise DecodeFailed(f"The {label} file contains a symbolic link ({info.filename!r}).", code="archive_bad_path")

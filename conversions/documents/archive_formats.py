"""Archives: zip, tar, tar.gz, tar.bz2, tar.xz and 7z into each other (bsdtar, libarchive).

Nothing is unpacked before the archive's listing passes today's checks
(ARCHIVE_MAX_UNCOMPRESSED_MB, ARCHIVE_MAX_RATIO, ARCHIVE_MAX_ENTRIES; names
that climb out or are absolute; links, devices and FIFOs refused); a zip
also gets the central-directory and CRC checks of conversions/engine/
archives.py. bsdtar then unpacks into the job's folder under the runner's
file-size limit, the unpacked tree is measured again (the listing is the
archive's claim), and the new archive is written from it. Every bsdtar run
goes through the runner's sandbox. bsdtar reads whatever archive it recognizes: the
upload's sniff (libmagic must agree with the name) is what pins the format.
"""

import logging
import os

from django.conf import settings

from conversions.engine.archives import check_zip
from conversions.engine.registry import Converter, register
from conversions.errors import ConversionFailed

logger = logging.getLogger(__name__)

ARCHIVE_FORMATS = ("zip", "tar", "tgz", "tbz2", "txz", "7z")
WRITE_ARGS = {
    "zip": ["--format", "zip"],
    "tar": ["--format", "pax"],
    "tgz": ["--format", "pax", "-z"],
    "tbz2": ["--format", "pax", "-j"],
    "txz": ["--format", "pax", "-J"],
    "7z": ["--format", "7zip"],
}


def limits():
    return {
        "bytes": settings.ARCHIVE_MAX_UNCOMPRESSED_MB * 2**20,
        "ratio": settings.ARCHIVE_MAX_RATIO,
        "entries": settings.ARCHIVE_MAX_ENTRIES,
    }


def refuse(message, code):
    return ConversionFailed(message, code=code)


def check_listing(listing, packed_size, label):
    """Raise unless every entry of `bsdtar -tv` output is a plain file or folder inside the archive."""
    lim = limits()
    entries = [line for line in listing.splitlines() if line.strip()]
    if not entries:
        raise refuse(f"The {label} archive is empty.", "empty_archive")
    if len(entries) > lim["entries"]:
        raise refuse(f"The {label} archive holds {len(entries)} entries; at most {lim['entries']} are accepted.",
                     "archive_too_many_entries")
    total = 0
    for line in entries:
        fields = line.split(None, 8)
        if len(fields) < 9:
            raise refuse(f"The {label} archive's listing could not be read.", "damaged_archive")
        mode, size, name = fields[0], fields[4], fields[8]
        if mode[0] not in "-d":
            raise refuse(f"The {label} archive contains a link or special file ({name!r}); it was not opened.",
                         "archive_bad_path")
        check_name(name, label)
        total += int(size) if size.isdigit() else 0
        if total > lim["bytes"]:
            raise refuse(f"The {label} archive unpacks to more than {lim['bytes'] // 2**20} MB; it was not opened.",
                         "archive_too_large")
    ratio = total / max(packed_size, 1)
    if total > 2**20 and ratio > lim["ratio"]:
        raise refuse(f"The {label} archive is compressed {ratio:.0f} to 1 (limit {lim['ratio']} to 1); it looks "
                     "like a bomb and was not opened.", "archive_ratio")
    return len(entries), total


def check_name(name, label):
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or ".." in clean.split("/"):
        raise refuse(f"The {label} archive contains an entry named {name!r} that points outside the archive.",
                     "archive_bad_path")


def measure(root):
    """(files, bytes) actually unpacked; links are refused even if the listing hid them."""
    files = size = 0
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                raise refuse("The archive unpacked a symbolic link; it was refused.", "archive_bad_path")
        for name in names:
            files += 1
            size += os.lstat(os.path.join(folder, name)).st_size
    return files, size


@register
class ArchiveConverter(Converter):
    name = "bsdtar"
    family = "documents"
    tool = "bsdtar"
    pairs = frozenset((s, t) for s in ARCHIVE_FORMATS for t in ARCHIVE_FORMATS if s != t)

    def convert(self, ctx):
        label = ctx.source_format.upper()
        src = ctx.source_path.name
        if ctx.source_format == "zip":
            check_zip(ctx.source_path, label="ZIP")
        listing = ctx.run(["bsdtar", "-tvf", src], timeout=120, memory_mb=1024, tool="bsdtar").stdout
        count, claimed = check_listing(listing, ctx.source_path.stat().st_size, label)
        ctx.set_progress(20)
        unpacked = ctx.workdir / "unpacked"
        unpacked.mkdir()
        max_mb = settings.ARCHIVE_MAX_UNCOMPRESSED_MB + 1
        self._extract(ctx, src, unpacked, max_mb)
        files, size = measure(unpacked)
        if size > limits()["bytes"]:
            raise refuse(f"The {label} archive unpacked to more than its listing said; it was refused.",
                         "archive_too_large")
        ctx.set_progress(60)
        names = sorted(os.listdir(unpacked))
        if not names:
            raise refuse(f"The {label} archive holds no files.", "empty_archive")
        out = ctx.output_path
        ctx.run(["bsdtar", "-cf", str(out), *WRITE_ARGS[ctx.target_format], "-C", str(unpacked), "--", *names],
                timeout=300, memory_mb=1024, tool="bsdtar")
        logger.info("archive job=%s %s -> %s entries=%s bytes=%s", ctx.job_id, ctx.source_format,
                    ctx.target_format, count, size)
        return out

    def _extract(self, ctx, src, unpacked, max_mb):
        # -C keeps every path under the folder; bsdtar also refuses '..' and strips a leading '/' by default.
        ctx.run(["bsdtar", "-xf", src, "-C", str(unpacked), "--no-same-owner", "--no-same-permissions",
                 "--no-xattrs", "--no-acls", "--no-fflags"],
                timeout=300, memory_mb=1024, max_file_mb=max_mb, tool="bsdtar")

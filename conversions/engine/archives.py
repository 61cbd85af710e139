"""Zip containers (OOXML, ODF, EPUB) checked before any tool opens them.

A 2 MB DOCX can hold a gigabyte of zeros; LibreOffice or pandoc would inflate
all of it. The central directory says how big every entry claims to be, so
the totals, ratio, entry count and names are checked from it alone, without
inflating anything; then every part is inflated once against its CRC. Both
run in the decoder child (`zipcheck.py`): the worker never parses the zip.
"""

import logging
from pathlib import Path

from django.conf import settings

from conversions.decoders import run_decoder

logger = logging.getLogger(__name__)

ZIP_FORMATS = frozenset({"docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"})


def check_container(path, fmt):
    """Raise ConversionFailed when a zip-based document looks hostile or broken."""
    if fmt in ZIP_FORMATS:
        check_zip(path, label=fmt.upper())


def check_zip(path, *, label="archive"):
    """Run the checks in the decoder child: parsing and inflating happen outside the worker."""
    request = {"source": Path(path).name, "label": label, "limits": _limits()}
    figures = run_decoder(None, "zip.check", request, tool="zip checker", inputs=(path,))
    logger.debug("archive ok label=%s entries=%s bytes=%s ratio=%s", label, *figures.values())


def _limits():
    return {
        "bytes": settings.ARCHIVE_MAX_UNCOMPRESSED_MB * 2**20,
        "ratio": settings.ARCHIVE_MAX_RATIO,
        "entries": settings.ARCHIVE_MAX_ENTRIES,
    }

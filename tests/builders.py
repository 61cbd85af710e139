"""Small builders for real files used by the tests."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_bytes(fmt="PNG", size=(64, 48), mode="RGB", color=(200, 30, 30), **save):
    im = Image.new(mode, size, color if mode != "L" else 128)
    buf = io.BytesIO()
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    im.save(buf, format=fmt, **save)
    return buf.getvalue()


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" viewBox="0 0 120 80">
  <rect width="120" height="80" fill="#2266cc"/>
  <circle cx="60" cy="40" r="25" fill="#ffcc00"/>
</svg>
"""


def wait_until(predicate, timeout=20):
    """True once predicate() is, polling every 50 ms; False after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False

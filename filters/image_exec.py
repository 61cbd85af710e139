"""Run an image operation chain: load once (lazily), apply, save once.

Only the expected decoder opens a file (the format was sniffed), and the
pixel cap is checked from the header before any pixel is decoded. BMP and ICO
go through Pillow (libvips reads them only through ImageMagick).
"""

import io
import logging

import pyvips
from django.conf import settings
from PIL import Image

from conversions.errors import ConversionFailed

logger = logging.getLogger(__name__)
logging.getLogger("pyvips").setLevel(logging.WARNING)  # it logs every pipeline decision at INFO
# libvips caches up to 100 recent operations (and their pixels) for reuse; every
# job reads a new file, so the cache only holds memory.
pyvips.cache_set_max(0)

VIPS_LOADERS = {
    "jpg": "jpegload", "png": "pngload", "webp": "webpload", "gif": "gifload",
    "tiff": "tiffload", "heic": "heifload", "avif": "heifload",
}
THUMBNAIL_OK = set(VIPS_LOADERS)
PILLOW_ONLY = {"bmp", "ico"}
SOURCES = tuple(sorted(set(VIPS_LOADERS) | PILLOW_ONLY))
TARGETS = ("png", "jpg", "webp", "gif", "tiff", "avif", "bmp", "ico")
LOSSY = {"jpg", "webp", "avif"}
DEFAULT_QUALITY = {"jpg": 85, "webp": 80, "avif": 50}
MAX_BYTES_ROUNDS = 6


class ImageState:
    """The image as the chain sees it: a lazy vips image plus save settings."""

    def __init__(self, path, fmt, access="sequential"):
        self.path, self.fmt, self.access = path, fmt, access
        self.image = None
        self.thumbnail_ok = fmt in THUMBNAIL_OK
        self.quality = None
        self.max_bytes = None
        self.strip = False
        self._header = None

    def header(self):
        if self.image is not None:
            return self.image
        if self._header is None:
            self._header = _open(self.path, self.fmt, self.access)
        return self._header

    def get(self):
        if self.image is None:
            self.image = self.header().autorot()
        return self.image


def _open(path, fmt, access):
    cap = settings.MAX_IMAGE_PIXELS
    try:
        if fmt in PILLOW_ONLY:
            im = _from_pillow(path, fmt)
        else:
            im = getattr(pyvips.Image, VIPS_LOADERS[fmt])(str(path), access=access)
    except pyvips.Error as exc:
        raise ConversionFailed(f"The {fmt.upper()} image could not be read: {_vips_message(exc)}", code="invalid_image") from None
    if im.width * im.height > cap:
        raise ConversionFailed(
            f"The image ({im.width}x{im.height}) is larger than the {cap / 1e6:g}-megapixel limit.", code="image_too_large"
        )
    return im


def _from_pillow(path, fmt):
    from media.imaging import open_image, prepare

    with open_image(path, fmt, settings.MAX_IMAGE_PIXELS) as im:
        im = prepare(im, "png")
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=1)
    return pyvips.Image.pngload_buffer(buf.getvalue())


def _vips_message(exc):
    return (getattr(exc, "detail", "") or str(exc)).strip().splitlines()[-1][:300]


def run_image_chain(ctx, src_path, src_fmt, target, ops, step):
    """Apply `ops` to the image at src_path; write ctx.workdir/filtered.<target>."""
    from filters.vocabulary import operations

    # Sequential access streams the decode in strips; ops that read rows out of
    # order (turning, flipping) need the random-access loader instead.
    random_access = any(operations.get("image", p["op"]).random_access for p in ops)
    state = ImageState(src_path, src_fmt, "random" if random_access else "sequential")
    for index, params in enumerate(ops):
        operations.get("image", params["op"]).apply(state, params)
        step(index, len(ops))
    out = ctx.workdir / f"filtered.{target}"
    try:
        save(state, out, target)
    except pyvips.Error as exc:
        raise ConversionFailed(f"The image could not be processed: {_vips_message(exc)}", code="invalid_image") from None
    return out, target


def _normalize(im, target):
    if im.interpretation not in ("srgb", "b-w") or im.format != "uchar":
        im = im.colourspace("b-w" if im.bands in (1, 2) else "srgb")
    if target == "jpg" and im.hasalpha():
        im = im.flatten(background=[255] * (im.bands - 1))
    return im


def save(state, out, target):
    im = _normalize(state.get(), target)
    if state.max_bytes:
        _save_max_bytes(im, state, out, target)
    else:
        _write(im, target, state.quality, state.strip, out)


def _save_kwargs(target, quality, strip):
    kw = {"strip": strip}
    if target in LOSSY:
        kw["Q"] = quality or DEFAULT_QUALITY[target]
    if target == "jpg":
        kw.update(optimize_coding=True, interlace=True)
    if target == "png":
        kw["compression"] = 6
        if quality:
            kw.update(palette=True, Q=quality, compression=9)
    if target == "tiff":
        kw["compression"] = "deflate"
    if target == "avif":
        kw["compression"] = "av1"
    return kw


_SUFFIX = {"jpg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif", "tiff": ".tif", "avif": ".avif"}


def _write(im, target, quality, strip, out=None):
    """Save to `out` (returns None) or, when out is None, to memory (returns bytes)."""
    if target in PILLOW_ONLY:
        data = _pillow_encode(im, target)
        if out is None:
            return data
        out.write_bytes(data)
        return None
    kw = _save_kwargs(target, quality, strip)
    if out is None:
        return im.write_to_buffer(_SUFFIX[target], **kw)
    im.write_to_file(str(out), **kw)
    return None


def _pillow_encode(im, target):
    png = im.write_to_buffer(".png", compression=1)
    with Image.open(io.BytesIO(png), formats=["PNG"]) as pim:
        pim.load()
        if target == "ico" and max(pim.size) > 256:
            pim.thumbnail((256, 256))
        if target == "bmp" and pim.mode == "LA":
            pim = pim.convert("L")
        buf = io.BytesIO()
        pim.save(buf, format={"bmp": "BMP", "ico": "ICO"}[target])
    return buf.getvalue()


def _save_max_bytes(im, state, out, target):
    """The best quality (then the largest size) whose encoding fits max_bytes."""
    limit = state.max_bytes
    im = im.copy_memory()  # encoded several times: decode and filter only once
    for _ in range(MAX_BYTES_ROUNDS):
        data = _best_under(im, target, limit, state)
        if data is not None:
            out.write_bytes(data)
            return None
        size = len(_write(im, target, _lowest_quality(target), state.strip))
        scale = min(0.9, (limit / size) ** 0.5 * 0.95)
        if im.width * scale < 8 or im.height * scale < 8:
            break
        im = im.resize(scale).copy_memory()
    raise ConversionFailed(
        f"compress: could not make the {target.upper()} image smaller than {limit} bytes.", code="cannot_compress"
    )


def _lowest_quality(target):
    return 5 if target in LOSSY or target == "png" else None


def _best_under(im, target, limit, state):
    if target not in LOSSY and target != "png":
        data = _write(im, target, None, state.strip)
        return data if len(data) <= limit else None
    if target == "png":
        data = _write(im, target, None, state.strip)
        if len(data) <= limit:
            return data
    lo, hi, best = 5, (state.quality or 95), None
    while lo <= hi:
        q = (lo + hi) // 2
        data = _write(im, target, q, state.strip)
        if len(data) <= limit:
            best, lo = data, q + 1
        else:
            hi = q - 1
    return best

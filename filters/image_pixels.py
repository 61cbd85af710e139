"""An image filter chain as the decoder child runs it: load once (lazily), apply, save once.

No Django here: `filters.image_exec` sends the chain (already validated by
the operation vocabulary) to `conversions/decoder_child.py`, so libvips and
Pillow parse the user's file under the decoder budget, never in the worker.
Only the expected decoder opens a file (the format was sniffed), and the
pixel cap is checked from the header before any pixel is decoded. BMP and
ICO go through Pillow (libvips reads them only through ImageMagick).

Every op builds on one lazy vips pipeline, so peak memory stays bounded by
the strips in flight, not the whole decoded image; the pixels are computed
once, when the result is saved. libvips was picked by measurement
(bench/filters.py): a 12 MP JPEG resized to 1600 px and saved as WebP takes
~0.3 s and ~90 MB with `thumbnail` (shrink-on-load, streaming) against
~0.45 s and ~140 MB with Pillow.
"""

import io
import logging
from pathlib import Path

from media.vips import pyvips
from PIL import Image

from conversions.decode_errors import DecodeFailed
from media.images.kinds import AVIF_EFFORT
from media.imaging import VIPS_LOADERS, open_image, prepare

logging.getLogger("pyvips").setLevel(logging.WARNING)  # it logs every pipeline decision at INFO
# libvips caches up to 100 recent operations (and their pixels) for reuse; every
# job reads a new file, so the cache only holds memory.
pyvips.cache_set_max(0)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
HUGE = 10_000_000  # "no limit" for the unconstrained side of a thumbnail
THUMBNAIL_OK = set(VIPS_LOADERS)
PILLOW_ONLY = {"bmp", "ico"}
LOSSY = {"jpg", "webp", "avif"}
DEFAULT_QUALITY = {"jpg": 85, "webp": 75, "avif": 50}
MAX_BYTES_ROUNDS = 6


def run(request):
    """The decoder child's `image.filter` task: {"width", "height"} of the result."""
    access = "random" if request["random_access"] else "sequential"
    state = ImageState(request["source"], request["format"], access, request["max_pixels"])
    for params in request["ops"]:
        APPLY[params["op"]](state, params)
    try:
        save(state, Path(request["output"]), request["target"])
    except pyvips.Error as exc:
        raise DecodeFailed(f"The image could not be processed: {_vips_message(exc)}", code="invalid_image") from None
    return {}


class ImageState:
    """The image as the chain sees it: a lazy vips image plus save settings."""

    def __init__(self, path, fmt, access, cap):
        self.path, self.fmt, self.access, self.cap = path, fmt, access, cap
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
            self._header = _open(self.path, self.fmt, self.access, self.cap)
        return self._header

    def get(self):
        if self.image is None:
            self.image = self.header().autorot()
        return self.image


def _open(path, fmt, access, cap):
    try:
        if fmt in PILLOW_ONLY:
            im = _from_pillow(path, fmt, cap)
        else:
            im = getattr(pyvips.Image, VIPS_LOADERS[fmt])(str(path), access=access)
    except pyvips.Error as exc:
        raise DecodeFailed(f"The {fmt.upper()} image could not be read: {_vips_message(exc)}", code="invalid_image") from None
    if im.width * im.height > cap:
        raise DecodeFailed(
            f"The image ({im.width}x{im.height}) is larger than the {cap / 1e6:g}-megapixel limit.", code="image_too_large"
        )
    return im


def _from_pillow(path, fmt, cap):
    with open_image(path, fmt, cap) as im:
        im = prepare(im, "png")
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=1)
    return pyvips.Image.pngload_buffer(buf.getvalue())


def _vips_message(exc):
    return (getattr(exc, "detail", "") or str(exc)).strip().splitlines()[-1][:300]


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
        kw.update(compression="av1", effort=AVIF_EFFORT)
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
    raise DecodeFailed(
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


# --- the operations (validated by filters.image_ops) ---


def colour_and_alpha(im):
    """Split off an alpha band so arithmetic does not touch transparency."""
    if im.hasalpha():
        return im.extract_band(0, n=im.bands - 1), im.extract_band(im.bands - 1)
    return im, None


def rejoin(colour, alpha):
    colour = colour.cast("uchar")
    return colour.bandjoin(alpha) if alpha is not None else colour


def check_pixels(state, width, height):
    cap = state.cap
    if width * height > cap:
        raise DecodeFailed(
            f"The result ({width}x{height}) would exceed the {cap / 1e6:g}-megapixel limit.", code="image_too_large"
        )


def resize(state, p):
    src = state.header()
    width, height = p.get("width"), p.get("height")
    if p["fit"] == "fill" and not p["upscale"]:
        width, height = min(width, src.width), min(height, src.height)
    kwargs = {"height": height or HUGE, "size": "both" if p["upscale"] else "down"}
    if p["fit"] == "cover":
        kwargs["crop"] = "centre"
    elif p["fit"] == "fill":
        kwargs["size"] = "force"
    width = width or HUGE
    expected = (min(width, HUGE), min(kwargs["height"], HUGE))
    if p["upscale"] and p["fit"] != "contain":
        check_pixels(state, *expected)
    # First op on a file: thumbnail() shrinks while decoding (JPEG DCT scaling, WebP/HEIF too).
    if state.image is None and state.thumbnail_ok:
        state.image = pyvips.Image.thumbnail(str(state.path), width, **kwargs)
    else:
        state.image = state.get().thumbnail_image(width, **kwargs)
    check_pixels(state, state.image.width, state.image.height)


def crop(state, p):
    im = state.get()
    left, top = min(p["x"], im.width), min(p["y"], im.height)
    width, height = min(p["width"], im.width - left), min(p["height"], im.height - top)
    if width <= 0 or height <= 0:
        raise DecodeFailed(
            f"crop: the rectangle at {p['x']},{p['y']} lies outside the {im.width}x{im.height} image.",
            code="invalid_crop",
        )
    state.image = im.crop(left, top, width, height)


def rotate(state, p):
    im = state.get()
    angle = p["degrees"] % 360
    if angle % 90 == 0:
        if angle:
            state.image = im.rot(f"d{int(angle)}")
        return
    background = [255] * (im.bands - 1) + [0] if im.hasalpha() else [255] * im.bands
    rotated = im.rotate(angle, background=background)
    check_pixels(state, rotated.width, rotated.height)
    state.image = rotated


def flip(state, p):
    state.image = state.get().flip(p["direction"])


def grayscale(state, p):
    state.image = state.get().colourspace("b-w")


def blur(state, p):
    colour, alpha = colour_and_alpha(state.get())
    state.image = rejoin(colour.gaussblur(p["sigma"]), alpha)


def sharpen(state, p):
    colour, alpha = colour_and_alpha(state.get())
    if colour.interpretation not in ("srgb", "b-w"):
        colour = colour.colourspace("srgb")
    state.image = rejoin(colour.sharpen(sigma=p["sigma"]), alpha)


def adjust(state, p):
    colour, alpha = colour_and_alpha(state.get())
    interpretation = "b-w" if colour.bands == 1 else "srgb"
    colour = colour.colourspace(interpretation)
    saturation = p.get("saturation", 1.0)
    if saturation != 1.0 and colour.bands >= 3:
        lch = colour.colourspace("lch")
        colour = lch.linear([1, saturation, 1], [0, 0, 0]).colourspace("srgb")
    b, c = p.get("brightness", 1.0), p.get("contrast", 1.0)
    if (b, c) != (1.0, 1.0):
        # Contrast pivots on mid-gray; brightness scales the result.
        colour = colour.linear([c * b] * colour.bands, [128 * (1 - c) * b] * colour.bands)
    state.image = rejoin(colour, alpha).copy(interpretation=interpretation)


def watermark(state, p):
    im = state.get()
    if im.bands < 3:
        im = im.colourspace("srgb")
    size = max(10, min(im.width, im.height) // 12)
    mask = pyvips.Image.text(
        _pango_escape(p["text"]), font=f"DejaVu Sans {size}", fontfile=FONT, dpi=72, width=max(1, im.width - 8)
    )
    mask = mask.embed(2, 2, mask.width + 4, mask.height + 4)
    shadow = mask.gaussblur(1.5)
    x, y = _place(p["position"], im.width, im.height, mask.width, mask.height, margin=max(4, size // 2))
    opacity = p["opacity"]
    for m, value in ((shadow, 0), (mask, 255)):
        alpha = (m * opacity).cast("uchar")
        layer = (m.new_from_image([value, value, value])).bandjoin(alpha).copy(interpretation="srgb")
        im = im.composite2(layer, "over", x=x, y=y)
    state.image = im.cast("uchar") if im.format != "uchar" else im


def strip_metadata(state, p):
    state.strip = True


def compress(state, p):
    state.quality = p.get("quality")
    state.max_bytes = p.get("max_bytes")


def _pango_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _place(position, width, height, w, h, margin):
    x = {"left": margin, "right": width - w - margin}.get(position.split("-")[-1], (width - w) // 2)
    y = {"top": margin, "bottom": height - h - margin}.get(position.split("-")[0], (height - h) // 2)
    return max(0, x), max(0, y)


APPLY = {
    "resize": resize,
    "crop": crop,
    "rotate": rotate,
    "flip": flip,
    "grayscale": grayscale,
    "blur": blur,
    "sharpen": sharpen,
    "adjust": adjust,
    "watermark": watermark,
    "strip_metadata": strip_metadata,
    "compress": compress,
}

"""Image operations on libvips (pyvips).

libvips was picked by measurement (bench/filters.py): a 12-megapixel JPEG
resized to 1600 px and saved as WebP takes ~0.3 s and ~90 MB with
`thumbnail` (shrink-on-load, streaming) against ~0.45 s and ~140 MB with
Pillow. Every op here builds on one lazy vips pipeline, so peak memory stays
bounded by the strips in flight, not the whole decoded image; the pixels are
computed once, when the result is saved (`image_exec.save`).
"""

import logging

import pyvips
from django.conf import settings

from conversions.errors import ConversionFailed
from filters.vocabulary import Operation, OperationError, Param, check_resize_box, register

logger = logging.getLogger(__name__)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
HUGE = 10_000_000  # "no limit" for the unconstrained side of a thumbnail
POSITIONS = ("center", "top-left", "top-right", "bottom-left", "bottom-right")


class ImageOperation(Operation):
    family = "image"
    random_access = False  # reads rows out of order: the loader must not stream

    def apply(self, state, p):
        raise NotImplementedError


def colour_and_alpha(im):
    """Split off an alpha band so arithmetic does not touch transparency."""
    if im.hasalpha():
        return im.extract_band(0, n=im.bands - 1), im.extract_band(im.bands - 1)
    return im, None


def rejoin(colour, alpha):
    colour = colour.cast("uchar")
    return colour.bandjoin(alpha) if alpha is not None else colour


def check_pixels(width, height):
    cap = settings.MAX_IMAGE_PIXELS
    if width * height > cap:
        raise ConversionFailed(
            f"The result ({width}x{height}) would exceed the {cap / 1e6:g}-megapixel limit.", code="image_too_large"
        )


@register
class Resize(ImageOperation):
    name = "resize"
    help = "Scale to fit a box: contain (inside it), cover (fill it, cropping the overflow) or fill (stretch)."
    params = (
        Param("width", int, min=1, max=10000),
        Param("height", int, min=1, max=10000),
        Param("fit", str, default="contain", choices=("contain", "cover", "fill")),
        Param("upscale", bool, default=False),
    )

    def check(self, p, where):
        check_resize_box(p, where)

    def apply(self, state, p):
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
            check_pixels(*expected)
        # First op on a file: thumbnail() shrinks while decoding (JPEG DCT scaling, WebP/HEIF too).
        if state.image is None and state.thumbnail_ok:
            state.image = pyvips.Image.thumbnail(str(state.path), width, **kwargs)
        else:
            state.image = state.get().thumbnail_image(width, **kwargs)
        check_pixels(state.image.width, state.image.height)


@register
class Crop(ImageOperation):
    name = "crop"
    help = "Keep the rectangle at x, y (pixels from the top left) of width x height."
    params = (
        Param("x", int, default=0, min=0, max=100000),
        Param("y", int, default=0, min=0, max=100000),
        Param("width", int, required=True, min=1, max=100000),
        Param("height", int, required=True, min=1, max=100000),
    )

    def apply(self, state, p):
        im = state.get()
        left, top = min(p["x"], im.width), min(p["y"], im.height)
        width, height = min(p["width"], im.width - left), min(p["height"], im.height - top)
        if width <= 0 or height <= 0:
            raise ConversionFailed(
                f"crop: the rectangle at {p['x']},{p['y']} lies outside the {im.width}x{im.height} image.",
                code="invalid_crop",
            )
        state.image = im.crop(left, top, width, height)


@register
class Rotate(ImageOperation):
    name = "rotate"
    help = "Rotate clockwise; multiples of 90 are lossless, other angles fill the corners with white."
    params = (Param("degrees", float, required=True, min=-360, max=360),)
    random_access = True

    def apply(self, state, p):
        im = state.get()
        angle = p["degrees"] % 360
        if angle % 90 == 0:
            if angle:
                state.image = im.rot(f"d{int(angle)}")
            return
        background = [255] * (im.bands - 1) + [0] if im.hasalpha() else [255] * im.bands
        rotated = im.rotate(angle, background=background)
        check_pixels(rotated.width, rotated.height)
        state.image = rotated


@register
class Flip(ImageOperation):
    name = "flip"
    help = "Mirror left-right (horizontal) or top-bottom (vertical)."
    params = (Param("direction", str, default="horizontal", choices=("horizontal", "vertical")),)
    random_access = True

    def apply(self, state, p):
        state.image = state.get().flip(p["direction"])


@register
class Grayscale(ImageOperation):
    name = "grayscale"
    help = "Convert to shades of gray (transparency is kept)."

    def apply(self, state, p):
        state.image = state.get().colourspace("b-w")


@register
class Blur(ImageOperation):
    name = "blur"
    help = "Gaussian blur of the given radius (sigma, in pixels)."
    params = (Param("sigma", float, default=2.0, min=0.1, max=100),)

    def apply(self, state, p):
        colour, alpha = colour_and_alpha(state.get())
        state.image = rejoin(colour.gaussblur(p["sigma"]), alpha)


@register
class Sharpen(ImageOperation):
    name = "sharpen"
    help = "Unsharp mask of the given radius (sigma)."
    params = (Param("sigma", float, default=1.0, min=0.1, max=10),)

    def apply(self, state, p):
        colour, alpha = colour_and_alpha(state.get())
        if colour.interpretation not in ("srgb", "b-w"):
            colour = colour.colourspace("srgb")
        state.image = rejoin(colour.sharpen(sigma=p["sigma"]), alpha)


@register
class Adjust(ImageOperation):
    name = "adjust"
    help = "Multiply brightness, contrast and saturation (1 = unchanged, 0.5 = half, 2 = double)."
    params = (
        Param("brightness", float, min=0, max=4),
        Param("contrast", float, min=0, max=4),
        Param("saturation", float, min=0, max=4),
    )

    def check(self, p, where):
        if len(p) == 1:
            raise OperationError(f"{where}: give at least one of 'brightness', 'contrast', 'saturation'.")

    def apply(self, state, p):
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


@register
class Watermark(ImageOperation):
    name = "watermark"
    help = "Draw a text over the image (DejaVu Sans, white with a dark shadow)."
    params = (
        Param("text", str, required=True, max_length=200),
        Param("position", str, default="bottom-right", choices=POSITIONS),
        Param("opacity", float, default=0.5, min=0, max=1),
    )

    def apply(self, state, p):
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


def _pango_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _place(position, width, height, w, h, margin):
    x = {"left": margin, "right": width - w - margin}.get(position.split("-")[-1], (width - w) // 2)
    y = {"top": margin, "bottom": height - h - margin}.get(position.split("-")[0], (height - h) // 2)
    return max(0, x), max(0, y)


@register
class StripMetadata(ImageOperation):
    name = "strip_metadata"
    help = "Remove EXIF, XMP, IPTC and comments (orientation is applied first)."

    def apply(self, state, p):
        state.strip = True


@register
class Compress(ImageOperation):
    name = "compress"
    help = "Save at a given quality (1-100), or at the best quality that fits max_bytes."
    params = (
        Param("quality", int, min=1, max=100),
        Param("max_bytes", int, min=1024, max=500 * 1024 * 1024),
    )

    def check(self, p, where):
        if ("quality" in p) == ("max_bytes" in p):
            raise OperationError(f"{where}: give exactly one of 'quality' or 'max_bytes'.")

    def apply(self, state, p):
        state.quality = p.get("quality")
        state.max_bytes = p.get("max_bytes")

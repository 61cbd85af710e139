"""Image operations: names, parameters and checks (the vocabulary's image half).

Validated here in the worker, before a job exists; the pixels are done by
`filters/image_pixels.py` (libvips) inside the decoder child, which looks
each op up by name.
"""

import logging

from filters.vocabulary import Operation, OperationError, Param, check_resize_box, register

logger = logging.getLogger(__name__)

POSITIONS = ("center", "top-left", "top-right", "bottom-left", "bottom-right")


class ImageOperation(Operation):
    family = "image"
    random_access = False  # reads rows out of order: the loader must not stream


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


@register
class Rotate(ImageOperation):
    name = "rotate"
    help = "Rotate clockwise; multiples of 90 are lossless, other angles fill the corners with white."
    params = (Param("degrees", float, required=True, min=-360, max=360),)
    random_access = True


@register
class Flip(ImageOperation):
    name = "flip"
    help = "Mirror left-right (horizontal) or top-bottom (vertical)."
    params = (Param("direction", str, default="horizontal", choices=("horizontal", "vertical")),)
    random_access = True


@register
class Grayscale(ImageOperation):
    name = "grayscale"
    help = "Convert to shades of gray (transparency is kept)."


@register
class Blur(ImageOperation):
    name = "blur"
    help = "Gaussian blur of the given radius (sigma, in pixels)."
    params = (Param("sigma", float, default=2.0, min=0.1, max=100),)


@register
class Sharpen(ImageOperation):
    name = "sharpen"
    help = "Unsharp mask of the given radius (sigma)."
    params = (Param("sigma", float, default=1.0, min=0.1, max=10),)


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


@register
class Watermark(ImageOperation):
    name = "watermark"
    help = "Draw a text over the image (DejaVu Sans, white with a dark shadow)."
    params = (
        Param("text", str, required=True, max_length=200),
        Param("position", str, default="bottom-right", choices=POSITIONS),
        Param("opacity", float, default=0.5, min=0, max=1),
    )


@register
class StripMetadata(ImageOperation):
    name = "strip_metadata"
    help = "Remove EXIF, XMP, IPTC and comments (orientation is applied first)."


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


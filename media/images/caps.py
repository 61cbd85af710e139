"""The pixel cap, checked in one way wherever pixels are about to be decoded or drawn.

Plain Python (no Django): the decoder child (media/imaging.py) checks each
frame's header, and the worker checks an SVG's declared size before librsvg
draws it (media/converters/images.py), turning the error into its own.
"""

from conversions.decode_errors import DecodeFailed


def check_pixels(size, cap):
    """Refuse one frame (or a rasterized SVG) over the pixel cap."""
    if size[0] * size[1] > cap:
        raise too_many_pixels(size, cap)


def too_many_pixels(size, cap):
    dims = f" ({size[0]:.0f}x{size[1]:.0f})" if size else ""
    return DecodeFailed(
        f"The image{dims} is larger than the {cap / 1e6:g}-megapixel limit; scale it down first.", code="image_too_large"
    )

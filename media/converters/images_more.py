"""More image formats: JPEG XL, JPEG 2000, HEIC out, TGA, PPM/PGM/PBM, PCX, QOI and PSD (read, flattened).

Decoded in the sandboxed decoder child (task `image.more`, media/imaging_more.py)
like every other image. Pairs: each new source to every image target, and
every image source (SVG through librsvg) to each new target; the pairs of
media/converters/images.py stay theirs.
"""

from conversions.engine.registry import Converter, Param, register

from .images import RASTER_SOURCES, TARGETS, decode, rasterize_svg

NEW_SOURCES = ("jxl", "jp2", "tga", "ppm", "pgm", "pbm", "pcx", "qoi", "psd")
NEW_TARGETS = ("jxl", "jp2", "tga", "ppm", "pgm", "pcx", "qoi", "heic")
QUALITY_TARGETS = ("jpg", "webp", "avif", "jxl", "heic")
QUALITY = Param("quality", int, "Quality of lossy formats (jpg, webp, avif, jxl, heic; jxl is lossless without it)",
                 min=1, max=100)


def convert_more(ctx, src_path, src_fmt, out_path, target, options):
    return decode(ctx, "image.more", src_path, src_fmt, out_path, target, options)


@register
class MoreImageConverter(Converter):
    name = "pillow-vips"
    family = "media"
    pairs = frozenset(
        {(s, t) for s in NEW_SOURCES for t in (*TARGETS, *NEW_TARGETS) if s != t}
        | {(s, t) for s in RASTER_SOURCES for t in NEW_TARGETS if s != t}
    )

    def options_for(self, source, target):
        return (QUALITY,) if target in QUALITY_TARGETS else ()

    def convert(self, ctx):
        convert_more(ctx, ctx.source_path, ctx.source_format, ctx.output_path, ctx.target_format, ctx.options)
        ctx.set_progress(90)
        return ctx.output_path


@register
class MoreSvgConverter(Converter):
    """SVG rasterized by rsvg-convert in the sandbox, then written by the decoder child."""

    name = "librsvg-more"
    family = "media"
    tool = "rsvg-convert"
    pairs = frozenset(("svg", t) for t in NEW_TARGETS)
    options = (Param("width", int, "Output width in pixels (keeps the aspect ratio)", min=1, max=10000),)

    def options_for(self, source, target):
        return (*self.options, QUALITY) if target in QUALITY_TARGETS else self.options

    def convert(self, ctx):
        png = rasterize_svg(ctx)
        convert_more(ctx, png, "png", ctx.output_path, ctx.target_format, ctx.options)
        return ctx.output_path

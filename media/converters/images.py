"""Image conversions: the pixels are decoded in a sandboxed child (media/imaging.py).

The worker never parses an uploaded image: `conversions.decoders` runs
`media.imaging.convert` in a child under the runner's limits and the
decoder budget (DECODER_MEMORY_MB, DECODER_TIMEOUT_SECONDS). The pixel cap
(MAX_IMAGE_PIXELS, 210 MP by default: the 200 MP photos of today's phones
pass, an absurd header does not) is checked in the child from the header,
before any pixel is decoded. SVG is rasterized by librsvg in the sandbox.
"""

import logging

from django.conf import settings

from conversions.decode_errors import DecodeFailed
from conversions.decoders import run_decoder
from conversions.errors import ConversionFailed
from conversions.engine.registry import Converter, Param, register
from media import quality
from media.images import caps, svgsize
from media.images.kinds import DEFAULT_QUALITY, LOSSY, PIL_FORMATS  # noqa: F401  (PIL_FORMATS: the tests' names for formats)

logger = logging.getLogger(__name__)

RASTER_SOURCES = ("png", "jpg", "webp", "gif", "bmp", "tiff", "ico", "avif", "heic")
TARGETS = ("png", "jpg", "webp", "gif", "bmp", "tiff", "ico", "avif", "pdf")


def check_pixels(size):
    """Refuse a rasterized SVG over the pixel cap before librsvg draws it: the decoder child's own check."""
    try:
        caps.check_pixels(size, settings.MAX_IMAGE_PIXELS)
    except DecodeFailed as exc:
        raise ConversionFailed(exc.message, code=exc.code) from None


# What the `quality` words (media/quality.py) mean per lossy format; "balanced" is DEFAULT_QUALITY.
QUALITY_WORDS = {"smaller": {"jpg": 70, "webp": 65, "avif": 45}, "best": {"jpg": 95, "webp": 92, "avif": 80}}


def encoder_quality(target, options):
    """The 1-100 number the encoder gets: the caller's number, or the chosen word's."""
    chosen = options.get("quality")
    if target not in LOSSY or isinstance(chosen, int):
        return chosen
    return QUALITY_WORDS.get(quality.level(options), DEFAULT_QUALITY)[target]


def convert_image(ctx, src_path, src_fmt, out_path, target, options, *, check_only=False):
    """Decode src and write out_path in the decoder child; returns {"width", "height"}."""
    if "quality" in options:
        options = {**options, "quality": encoder_quality(target, options)}
    return decode(ctx, "image.convert", src_path, src_fmt, out_path, target, options, check_only=check_only)


def decode(ctx, task, src_path, src_fmt, out_path, target, options, **extra):
    """Run a decoder child's image task (`extra` joins its request); returns {"width", "height"}."""
    request = {
        "source": src_path.name, "format": src_fmt, "output": out_path.name, "target": target,
        "options": options, "max_pixels": settings.MAX_IMAGE_PIXELS, **extra,
    }  # fmt: skip
    check_only = extra.get("check_only", False)
    outputs = () if check_only else (out_path,)
    found = run_decoder(ctx, task, request, tool="image decoder", inputs=(src_path,), outputs=outputs)
    if not check_only and found:  # the job's pixel budget counts every image it decodes
        ctx.budget.spend_pixels(found.get("width", 0) * found.get("height", 0), what="images")
    return found


def rasterize_svg(ctx):
    """rsvg-convert draws the job's SVG to raster.png in its folder, once the pixel cap allows; returns the path."""
    png = ctx.workdir / "raster.png"
    argv = ["rsvg-convert", "--format=png", f"--output={png}"]
    if ctx.options.get("width"):
        argv += [f"--width={ctx.options['width']}", "--keep-aspect-ratio"]
    argv.append(ctx.source_path.name)
    size = svgsize.raster_size(ctx.source_path, ctx.options.get("width"))
    if size is not None:
        check_pixels(size)
    ctx.run(argv, timeout=60, memory_mb=1024, tool="rsvg-convert")
    ctx.set_progress(50)
    return png


@register
class ImageConverter(Converter):
    name = "pillow"
    family = "media"
    tool = ""
    pairs = frozenset((s, t) for s in RASTER_SOURCES for t in TARGETS if s != t)
    options = (quality.numeric_option(),)

    def options_for(self, source, target):
        return self.options if target in LOSSY else ()

    def convert(self, ctx):
        convert_image(ctx, ctx.source_path, ctx.source_format, ctx.output_path, ctx.target_format, ctx.options)
        ctx.set_progress(90)


@register
class SvgConverter(Converter):
    """SVG rasterized by rsvg-convert: no network, nothing outside its folder."""

    name = "librsvg"
    family = "media"
    tool = "rsvg-convert"
    pairs = frozenset(("svg", t) for t in TARGETS)
    options = (
        Param("width", int, "Leave empty for the size the SVG declares; the height follows", min=1, max=10000,
               label="Width (pixels)"),
        quality.numeric_option(),
    )

    def options_for(self, source, target):
        return self.options if target in LOSSY else self.options[:1]

    def convert(self, ctx):
        png = rasterize_svg(ctx)
        if ctx.target_format == "png":
            # The size the SVG declared may not be the size it drew.
            convert_image(ctx, png, "png", png, "png", {}, check_only=True)
            return png
        convert_image(ctx, png, "png", ctx.output_path, ctx.target_format, ctx.options)
        return ctx.output_path

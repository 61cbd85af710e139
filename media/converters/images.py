"""Image conversions with Pillow (SVG rasterized by librsvg in the sandbox).

Pillow only ever opens the formats listed here, and a pixel cap is checked
from the header before any pixel is decoded.
"""

import logging
import warnings

from django.conf import settings
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from conversions.errors import ConversionFailed
from conversions.registry import Converter, Option, register

from media import quality
from . import svgsize

logger = logging.getLogger(__name__)

RASTER_SOURCES = ("png", "jpg", "webp", "gif", "bmp", "tiff", "ico", "avif", "heic")
TARGETS = ("png", "jpg", "webp", "gif", "bmp", "tiff", "ico", "avif", "pdf")
PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF",
               "ico": "ICO", "avif": "AVIF", "heic": "HEIF", "pdf": "PDF"}
ANIMATED_TARGETS = {"gif", "webp", "tiff", "pdf"}
LOSSY = {"jpg", "webp", "avif"}
ICO_MAX = 256
ICC_TARGETS = {"png", "jpg", "webp", "tiff", "avif"}
COLOR_SPACE = {"RGB": "rgb", "RGBA": "rgb", "RGBX": "rgb", "P": "rgb", "L": "grey", "LA": "grey", "1": "grey"}
# All frames of an animation are decoded at once: their sum may reach this many caps.
ANIMATION_PIXEL_FACTOR = 4

# Every image over the cap is refused by our own check before decoding, so
# Pillow's warning for sizes between the cap and twice the cap is only noise.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

_heif_registered = False


def _register_heif():
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


def open_image(path, fmt):
    """Open with only the expected decoder, refusing images over the pixel cap."""
    if fmt == "heic":
        _register_heif()
    cap = settings.MAX_IMAGE_PIXELS
    # Pillow's own bomb check stays armed as a second line. Its limit is one
    # global shared by every Pillow user in the process: raise it for a larger
    # cap, never lower it (our own check below refuses what is over the cap).
    if Image.MAX_IMAGE_PIXELS is not None and cap > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = cap
    try:
        im = Image.open(path, formats=[PIL_FORMATS[fmt]])
    except Image.DecompressionBombError:
        raise _too_many_pixels(None, cap) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise unreadable(fmt, exc, path) from None
    try:
        check_pixels(im.size)
    except ConversionFailed:
        im.close()
        raise
    return im


def unreadable(fmt, exc, path):
    """Bad input (never retried), worded without the server's paths."""
    if isinstance(exc, UnidentifiedImageError):
        detail = "it is not a valid image of that type"
    else:
        detail = str(exc).replace(str(path), "the file") or type(exc).__name__
    return ConversionFailed(f"The {fmt.upper()} image could not be read: {detail}.", code="invalid_image")


def check_pixels(size):
    """Refuse one frame (or a rasterized SVG) over the pixel cap."""
    cap = settings.MAX_IMAGE_PIXELS
    if size[0] * size[1] > cap:
        raise _too_many_pixels(size, cap)


def _too_many_pixels(size, cap):
    dims = f" ({size[0]:.0f}x{size[1]:.0f})" if size else ""
    return ConversionFailed(
        f"The image{dims} is larger than the {cap / 1e6:g}-megapixel limit; scale it down first.", code="image_too_large"
    )


def flatten(im, background=(255, 255, 255)):
    """RGB with any transparency composited on white."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        base = Image.new("RGB", rgba.size, background)
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return im.convert("RGB") if im.mode != "RGB" else im


def to_8bit(im):
    """16-bit and float greyscale scaled into 0..255 (a plain convert would clip it)."""
    if im.mode.startswith("I;16"):
        return im.convert("I").point(lambda v: v / 256).convert("L")
    if im.mode in ("I", "F"):
        high = im.getextrema()[1]
        # Float images mostly hold 0..1; wider ranges are scaled to their maximum.
        scale = 255.0 if im.mode == "F" and high <= 1.0 else 255.0 / high if high > 255 else 1.0
        if scale != 1.0:
            im = im.point(lambda v: v * scale)
        return im.convert("L")
    return im


def binary_alpha(im):
    """RGBA whose pixels are fully opaque or fully clear (GIF stores nothing between)."""
    rgba = im.convert("RGBA")
    opaque = rgba.copy()
    opaque.putalpha(255)
    mask = rgba.getchannel("A").point(lambda v: 255 if v >= 128 else 0)
    return Image.composite(opaque, Image.new("RGBA", rgba.size, (0, 0, 0, 0)), mask)


def prepare(im, target):
    """Bring a decoded frame into a mode the target format can store."""
    im = to_8bit(im)
    # JPEG and PDF have no alpha; BMP readers mostly ignore it: composite on white.
    if target in ("jpg", "pdf") or target == "bmp" and _has_alpha(im):
        return flatten(im)
    if im.mode == "CMYK":
        im = im.convert("RGB")
    if target == "gif":
        if _has_alpha(im):
            # Pillow's GIF writer turns clear RGBA pixels into the transparent index.
            return im if im.mode == "P" else binary_alpha(im)
        return im if im.mode in ("P", "L") else im.convert("RGB").quantize(256)
    if target == "bmp":
        return im if im.mode in ("1", "L", "P", "RGB") else im.convert("RGB")
    if im.mode == "P" and "transparency" in im.info and target != "png":
        # Only PNG and GIF keep a palette's transparent index; elsewhere it would turn opaque.
        im = im.convert("RGBA")
    if im.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        im = im.convert("RGBA" if _has_alpha(im) else "RGB")
    if target in ("webp", "avif") and im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if _has_alpha(im) else "RGB")
    return im


def _has_alpha(im):
    return im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)


# What the `quality` words mean per lossy format (media/quality.py); "balanced" was always the default.
QUALITY_WORDS = {
    "jpg": {"smaller": 70, "balanced": 85, "best": 95},
    "webp": {"smaller": 65, "balanced": 80, "best": 92},
    "avif": {"smaller": 45, "balanced": 60, "best": 80},
}


def save_options(target, options, animated):
    kwargs = {}
    if target in LOSSY:
        chosen = options.get("quality")
        words = QUALITY_WORDS[target]
        kwargs["quality"] = chosen if isinstance(chosen, int) else words[quality.level(options)]
    if target == "jpg":
        kwargs.update(optimize=True, progressive=True)
    if target == "webp":
        kwargs["method"] = 4
    if target == "png":
        kwargs["compress_level"] = 6
    if target == "tiff":
        kwargs["compression"] = "tiff_deflate"
    if target == "pdf":
        kwargs["resolution"] = 72.0
    if animated:
        kwargs["save_all"] = True
    return kwargs


def ico_sizes(size):
    """The usual icon sizes that fit, plus the image's own (Pillow drops larger ones)."""
    own = (min(size[0], ICO_MAX), min(size[1], ICO_MAX))
    usual = [(s, s) for s in (16, 32, 48, 64, 128, 256) if s <= min(own)]
    return sorted(set(usual) | {own})


def frames_of(im, target):
    """Every frame, EXIF orientation applied, ready for the target.

    Frames of a TIFF or ICO each have their own size, so the cap is checked per
    frame; the sum over frames is capped too (all frames are held in memory).
    """
    out, durations, total = [], [], 0
    total_cap = settings.MAX_IMAGE_PIXELS * ANIMATION_PIXEL_FACTOR
    for frame in ImageSequence.Iterator(im):
        check_pixels(frame.size)
        total += frame.size[0] * frame.size[1]
        if total > total_cap:
            raise ConversionFailed(
                f"The animation's frames add up to more than {total_cap / 1e6:g} megapixels; "
                "shorten it or scale it down first.",
                code="image_too_large",
            )
        copy = frame.copy()  # loads the frame; WebP/AVIF only know its duration after that
        durations.append(copy.info.get("duration", 100))
        out.append(prepare(ImageOps.exif_transpose(copy), target))
    return out, durations


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
        write_image(ctx.source_path, ctx.source_format, ctx.output_path, ctx.target_format, ctx.options)
        ctx.set_progress(90)


def icc_profile(src, out, target):
    """The source's colour profile, when the pixels are still in its colour space.

    Photos in Display P3 or Adobe RGB look washed out without it. A CMYK
    profile no longer fits once the pixels are RGB, nor a grey one on colour.
    """
    icc = src.info.get("icc_profile")
    if not icc or target not in ICC_TARGETS:
        return None
    return icc if COLOR_SPACE.get(src.mode) == COLOR_SPACE.get(out.mode) is not None else None


def decode(im, target, animated):
    if animated:
        return frames_of(im, target)
    im.seek(0)
    return [prepare(ImageOps.exif_transpose(im), target)], []


def write_image(src_path, src_fmt, out_path, target, options):
    with open_image(src_path, src_fmt) as im:
        n_frames = getattr(im, "n_frames", 1)
        animated = n_frames > 1 and target in ANIMATED_TARGETS
        try:
            frames, durations = decode(im, target, animated)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Pixels are decoded lazily: a truncated or corrupt body only fails here.
            raise unreadable(src_fmt, exc, src_path) from None
        first = frames[0]
        if target == "ico" and max(first.size) > ICO_MAX:
            first = first.copy()
            first.thumbnail((ICO_MAX, ICO_MAX))
        kwargs = save_options(target, options, animated)
        icc = icc_profile(im, first, target)
        for frame in (first, *frames[1:]):
            # Converted frames inherit the source's info, and Pillow's writers fall back to it.
            frame.info.pop("icc_profile", None)
        if icc:
            kwargs["icc_profile"] = icc
        if target == "ico":
            kwargs["sizes"] = ico_sizes(first.size)
        if animated:
            kwargs["append_images"] = frames[1:]
            if target in ("gif", "webp"):
                kwargs.update(duration=durations, loop=im.info.get("loop", 0))
        try:
            first.save(out_path, format=PIL_FORMATS[target], **kwargs)
        except (OSError, ValueError) as exc:
            raise ConversionFailed(f"Could not write {target.upper()}: {exc}", code="encode_failed") from None


@register
class SvgConverter(Converter):
    """SVG rasterized by rsvg-convert: no network, nothing outside its folder."""

    name = "librsvg"
    family = "media"
    tool = "rsvg-convert"
    pairs = frozenset(("svg", t) for t in TARGETS)
    options = (
        Option("width", int, "Leave empty for the size the SVG declares; the height follows", min=1, max=10000,
               label="Width (pixels)"),
        quality.numeric_option(),
    )

    def options_for(self, source, target):
        return self.options if target in LOSSY else self.options[:1]

    def convert(self, ctx):
        png = ctx.workdir / "raster.png"
        argv = ["rsvg-convert", "--format=png", f"--output={png}"]
        if ctx.options.get("width"):
            argv.append(f"--width={ctx.options['width']}")
            argv.append("--keep-aspect-ratio")
        argv.append(ctx.source_path.name)
        size = svgsize.raster_size(ctx.source_path, ctx.options.get("width"))
        if size is not None:
            check_pixels(size)
        ctx.run(argv, timeout=60, memory_mb=1024, tool="rsvg-convert")
        ctx.set_progress(50)
        if ctx.target_format == "png":
            with open_image(png, "png"):
                pass  # the size the SVG declared may not be the size it drew
            return png
        write_image(png, "png", ctx.output_path, ctx.target_format, ctx.options)
        return ctx.output_path

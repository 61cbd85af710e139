"""Image conversion as the decoder child runs it: libvips streams, Pillow where it must.

No Django here: this module runs in `conversions/decoder_child.py`, under the
runner's memory and time budget. The pixel cap comes in the request and is
checked from the header before any pixel is decoded.

Single-frame images go through libvips with sequential access: the decode
streams in strips, so a 200-megapixel JPEG -> PNG peaks near 80 MB instead of
the 600 MB of a whole decoded image. EXIF-rotated photos are read with
random access (libvips keeps large decodes in a temporary file in the job's
folder, not in memory). An ICO target shrinks while decoding (JPEG DCT
scaling, WebP/HEIF too). Pillow still writes GIF, BMP, ICO and PDF, reads BMP
and ICO, and handles animations (every frame held at once, capped in total).
"""

import re
import sys

from media.vips import pyvips
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from conversions.decode_errors import DecodeFailed
from media.images.caps import check_pixels, too_many_pixels
from media.images.kinds import AVIF_EFFORT, DEFAULT_QUALITY, LOSSY, PIL_FORMATS, VIPS_LOADERS

VIPS_TARGETS = {"jpg", "png", "webp", "tiff", "avif"}
ANIMATED_TARGETS = {"gif", "webp", "tiff", "pdf"}
ICO_MAX = 256
WEBP_MAX_SIDE = 16383
ICC_TARGETS = {"png", "jpg", "webp", "tiff", "avif"}
COLOR_SPACE = {"RGB": "rgb", "RGBA": "rgb", "RGBX": "rgb", "P": "rgb", "L": "grey", "LA": "grey", "1": "grey"}
VIPS_COLOR_SPACE = {"srgb": "rgb", "rgb16": "rgb", "rgb": "rgb", "scrgb": "rgb", "b-w": "grey", "grey16": "grey",
                    "cmyk": "cmyk"}
# Progressive and optimized JPEG keep every coefficient of the image in memory
# (libjpeg's multi-scan buffer, ~390 MB at 108 MP): larger images are saved
# baseline, which streams.
PROGRESSIVE_JPEG_MAX_PIXELS = 24_000_000
# All frames of an animation are decoded at once: their sum may reach this many caps.
ANIMATION_PIXEL_FACTOR = 4
ANIMATION_MAX_PIXELS = 200_000_000

pyvips.cache_set_max(0)  # every call reads a new file: the operation cache only holds memory


def convert(request):
    """The decoder child's `image.convert` task: returns {"width", "height"} of the result."""
    src, fmt, target = request["source"], request["format"], request["target"]
    cap = request["max_pixels"]
    Image.MAX_IMAGE_PIXELS = max(cap, 1)  # Pillow's own bomb check, a second line (this child only)
    if fmt in VIPS_LOADERS:
        im = vips_open(src, fmt, "sequential", cap)
        pages = _pages(im)
        if not (pages > 1 and target in ANIMATED_TARGETS):
            if request.get("check_only"):
                return {"width": im.width, "height": im.height}
            return _from_vips(im, request)
    return write_image(src, fmt, request["output"], target, request.get("options") or {}, cap)


# --- libvips -----------------------------------------------------------------

def vips_open(path, fmt, access, cap):
    try:
        im = getattr(pyvips.Image, VIPS_LOADERS[fmt])(str(path), access=access, fail_on="error")
    except pyvips.Error as exc:
        raise vips_unreadable(fmt, exc, path) from None
    check_pixels((im.width, im.height), cap)
    return im


def vips_unreadable(fmt, exc, path):
    """The header itself cannot be parsed: the details go to the operator's log, not the user."""
    print(f"header: {(getattr(exc, 'detail', '') or str(exc)).strip()[-500:]}", file=sys.stderr)
    return DecodeFailed(f"The {fmt.upper()} image could not be read: it is not a valid image of that type.",
                        code="invalid_image")


def _pages(im):
    return im.get("n-pages") if im.get_typeof("n-pages") else 1


def _orientation(im):
    return im.get("orientation") if im.get_typeof("orientation") else 1


def _from_vips(im, request):
    src, fmt, out, target = request["source"], request["format"], request["output"], request["target"]
    options = request.get("options") or {}
    try:
        if target == "ico":
            # Shrink while decoding: a 200 MP photo becomes an icon without ever being whole.
            im = pyvips.Image.thumbnail(str(src), ICO_MAX, height=ICO_MAX, size="down")
        elif _orientation(im) != 1:
            # Turning reads rows out of order: random access (large decodes go to a temp file).
            im = vips_open(src, fmt, "random", request["max_pixels"]).autorot()
        source_space = VIPS_COLOR_SPACE.get(im.interpretation)
        im = normalize(im, target)
        if VIPS_COLOR_SPACE.get(im.interpretation) != source_space or target not in ICC_TARGETS:
            im = _without(im, "icc-profile-data")
        if target in VIPS_TARGETS:
            vips_save(im, target, options.get("quality"), out)
        else:
            pillow_save([prepare(vips_to_pillow(im), target)], [], target, options, False, out)
    except pyvips.Error as exc:
        raise pipeline_error(exc, fmt, target, src, out) from None
    return {"width": im.width, "height": im.height}


# Pixels decode lazily, while the result is written: a truncated body fails in
# the saver's call, and libvips' error lines say which side it was.
_OUT_OF_MEMORY = re.compile(r"failed to allocate|out of memory|cannot allocate", re.I)
_READ_ERROR = re.compile(r"read error|premature|unexpected end|unable to parse|corrupt|truncat|load", re.I)


def pipeline_error(exc, fmt, target, src, out):
    lines = [line.replace(str(src), "the file").replace(str(out), "the output")[:300]
             for line in (getattr(exc, "detail", "") or str(exc)).strip().splitlines()]
    if any(_OUT_OF_MEMORY.search(line) for line in lines):
        return DecodeFailed(
            f"Converting this image to {target.upper()} needs more memory than the decode budget allows; "
            "scale it down first, or choose JPG, PNG or TIFF, which are written without holding the whole image.",
            code="decode_memory_exceeded",
        )
    if target == "webp" and any("mux error" in line or "partition" in line.lower() for line in lines):
        # libwebp's lossy format keeps every macroblock's modes in a first partition of at most 512 KB:
        # a detailed photo of ~150 MP or more does not fit, whatever the quality.
        return DecodeFailed(
            "This image is too large and detailed for a WebP file (the format's first partition overflows). "
            "Scale it down first, or choose AVIF, JPG or PNG.",
            code="encode_failed",
        )
    reading = [line for line in lines if _READ_ERROR.search(line)]
    if reading:
        return DecodeFailed(f"The {fmt.upper()} image could not be read: {reading[0]}.", code="invalid_image")
    return DecodeFailed(f"Could not write {target.upper()}: {lines[-1] if lines else 'libvips failed'}.",
                        code="encode_failed")


def normalize(im, target):
    """8-bit sRGB or grey (16-bit scaled, CMYK through its profile); alpha flattened for JPEG."""
    if im.interpretation not in ("srgb", "b-w") or im.format != "uchar":
        space = "b-w" if im.bands in (1, 2) else "srgb"
        try:
            im = im.colourspace(space)
        except pyvips.Error:
            # A profile that does not fit the pixels (a CMYK JPEG carrying an RGB
            # profile): convert with libvips' built-in profiles instead.
            im = _without(im, "icc-profile-data").colourspace(space)
    if target == "jpg" and im.hasalpha():
        im = im.flatten(background=[255] * (im.bands - 1))
    return im


def _without(im, field):
    if not im.get_typeof(field):
        return im
    im = im.copy()
    im.remove(field)
    return im


def vips_save(im, target, quality, out):
    if target == "webp" and max(im.width, im.height) > WEBP_MAX_SIDE:
        raise DecodeFailed(
            f"WebP stores at most {WEBP_MAX_SIDE} pixels a side and this image is {im.width}x{im.height}; "
            "choose JPG, PNG or AVIF, or scale it down first.",
            code="image_too_large",
        )
    kw = {}
    if target in LOSSY:
        kw["Q"] = quality or DEFAULT_QUALITY[target]
    if target == "jpg" and im.width * im.height <= PROGRESSIVE_JPEG_MAX_PIXELS:
        kw.update(optimize_coding=True, interlace=True)
    if target == "png":
        kw["compression"] = 6
    if target == "tiff":
        kw["compression"] = "deflate"
    if target == "avif":
        kw.update(compression="av1", effort=AVIF_EFFORT)
    saver = {"jpg": "jpegsave", "png": "pngsave", "webp": "webpsave", "tiff": "tiffsave", "avif": "heifsave"}[target]
    getattr(im, saver)(str(out), **kw)


def vips_to_pillow(im):
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[im.bands]
    return Image.frombuffer(mode, (im.width, im.height), im.write_to_memory(), "raw", mode, 0, 1)


# --- Pillow: BMP and ICO sources, GIF/BMP/ICO/PDF targets, animations -----------

def open_image(path, fmt, cap):
    """Open with only the expected decoder, refusing images over the pixel cap."""
    try:
        im = Image.open(path, formats=[PIL_FORMATS[fmt]])
    except Image.DecompressionBombError:
        raise too_many_pixels(None, cap) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise unreadable(fmt, exc, path) from None
    try:
        check_pixels(im.size, cap)
    except DecodeFailed:
        im.close()
        raise
    return im


def unreadable(fmt, exc, path):
    """Bad input (never retried), worded without the server's paths."""
    if isinstance(exc, UnidentifiedImageError):
        detail = "it is not a valid image of that type"
    else:
        detail = str(exc).replace(str(path), "the file") or type(exc).__name__
    return DecodeFailed(f"The {fmt.upper()} image could not be read: {detail}.", code="invalid_image")


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


def save_options(target, options, animated):
    quality = options.get("quality")
    kwargs = {}
    if target in LOSSY:
        kwargs["quality"] = quality or DEFAULT_QUALITY[target]
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


def frames_of(im, target, cap):
    """Every frame, EXIF orientation applied, ready for the target.

    Frames of a TIFF or ICO each have their own size, so the cap is checked per
    frame; the sum over frames is capped too (all frames are held in memory).
    """
    out, durations, total = [], [], 0
    total_cap = min(cap * ANIMATION_PIXEL_FACTOR, ANIMATION_MAX_PIXELS)
    for frame in ImageSequence.Iterator(im):
        check_pixels(frame.size, cap)
        total += frame.size[0] * frame.size[1]
        if total > total_cap:
            raise DecodeFailed(
                f"The animation's frames add up to more than {total_cap / 1e6:g} megapixels; "
                "shorten it or scale it down first.",
                code="image_too_large",
            )
        copy = frame.copy()  # loads the frame; WebP/AVIF only know its duration after that
        durations.append(copy.info.get("duration", 100))
        out.append(prepare(ImageOps.exif_transpose(copy), target))
    return out, durations


def icc_profile(src, out, target):
    """The source's colour profile, when the pixels are still in its colour space.

    Photos in Display P3 or Adobe RGB look washed out without it. A CMYK
    profile no longer fits once the pixels are RGB, nor a grey one on colour.
    """
    icc = src.info.get("icc_profile")
    if not icc or target not in ICC_TARGETS:
        return None
    return icc if COLOR_SPACE.get(src.mode) == COLOR_SPACE.get(out.mode) is not None else None


def decode(im, target, animated, cap):
    if animated:
        return frames_of(im, target, cap)
    im.seek(0)
    return [prepare(ImageOps.exif_transpose(im), target)], []


def write_image(src_path, src_fmt, out_path, target, options, cap):
    with open_image(src_path, src_fmt, cap) as im:
        n_frames = getattr(im, "n_frames", 1)
        animated = n_frames > 1 and target in ANIMATED_TARGETS
        try:
            frames, durations = decode(im, target, animated, cap)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Pixels are decoded lazily: a truncated or corrupt body only fails here.
            raise unreadable(src_fmt, exc, src_path) from None
        icc = icc_profile(im, frames[0], target)
        pillow_save(frames, durations, target, options, animated, out_path, icc=icc, loop=im.info.get("loop", 0))
        return {"width": frames[0].width, "height": frames[0].height}


def pillow_save(frames, durations, target, options, animated, out_path, *, icc=None, loop=0):
    first = frames[0]
    if target == "ico" and max(first.size) > ICO_MAX:
        first = first.copy()
        first.thumbnail((ICO_MAX, ICO_MAX))
    kwargs = save_options(target, options, animated)
    for frame in (first, *frames[1:]):
        # Converted frames inherit the source's info, and Pillow's writers fall back to it.
        frame.info.pop("icc_profile", None)
    if icc and target in ICC_TARGETS:
        kwargs["icc_profile"] = icc
    if target == "ico":
        kwargs["sizes"] = ico_sizes(first.size)
    if animated:
        kwargs["append_images"] = frames[1:]
        if target in ("gif", "webp"):
            kwargs.update(duration=durations, loop=loop)
    try:
        first.save(out_path, format=PIL_FORMATS[target], **kwargs)
    except (OSError, ValueError) as exc:
        raise DecodeFailed(f"Could not write {target.upper()}: {exc}", code="encode_failed") from None

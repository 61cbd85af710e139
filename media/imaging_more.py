"""More image formats, as the decoder child runs them (task `image.more`).

JPEG XL goes through libvips (libjxl); JPEG 2000, TGA, PPM/PGM/PBM, PCX,
QOI and PSD (its flattened composite) through Pillow with the decoder pinned;
HEIC is written by pillow-heif (libheif with x265). Everything else (the
formats media/imaging.py knows) is read and written by that module's own
functions, so one frame here becomes the same file there. No Django; the
pixel cap comes in the request and is checked from the header first.
No PostScript or EPS is ever read (that would be Ghostscript).
"""

from media.vips import pyvips
from PIL import Image, ImageOps

from conversions.decode_errors import DecodeFailed
from media import imaging
from media.images.caps import check_pixels, too_many_pixels

PIL_READERS = {"tga": "TGA", "ppm": "PPM", "pgm": "PPM", "pbm": "PPM", "pcx": "PCX", "qoi": "QOI", "psd": "PSD",
               "jp2": "JPEG2000", "png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP",
               "tiff": "TIFF", "ico": "ICO"}
VIPS_READERS = {"jxl": "jxlload", "heic": "heifload", "avif": "heifload"}
PIL_WRITERS = {"tga": "TGA", "ppm": "PPM", "pgm": "PPM", "pcx": "PCX", "qoi": "QOI", "jp2": "JPEG2000"}
MORE_TARGETS = (*PIL_WRITERS, "jxl", "heic")
BASE_TARGETS = ("png", "jpg", "webp", "gif", "bmp", "tiff", "ico", "avif", "pdf")


def convert(request):
    src, fmt, out, target = request["source"], request["format"], request["output"], request["target"]
    cap = request["max_pixels"]
    Image.MAX_IMAGE_PIXELS = max(cap, 1)
    im = load(src, fmt, cap)
    try:
        if target in BASE_TARGETS:
            imaging.pillow_save([imaging.prepare(im, target)], [], target, request.get("options") or {}, False, out)
        else:
            save(im, target, request.get("options") or {}, out)
    except (OSError, ValueError) as exc:
        raise DecodeFailed(f"Could not write {target.upper()}: {exc}", code="encode_failed") from None
    return {"width": im.width, "height": im.height}


def load(src, fmt, cap):
    """The first frame (a PSD's flattened image), EXIF orientation applied, as a Pillow image."""
    if fmt in VIPS_READERS:
        try:
            vim = getattr(pyvips.Image, VIPS_READERS[fmt])(str(src), access="sequential", fail_on="error")
        except pyvips.Error:
            raise DecodeFailed(f"The {fmt.upper()} image could not be read: it is not a valid image of that type.",
                               code="invalid_image") from None
        check_pixels((vim.width, vim.height), cap)
        try:
            return imaging.vips_to_pillow(imaging.normalize(vim, "png"))
        except pyvips.Error as exc:
            raise imaging.pipeline_error(exc, fmt, "png", src, src) from None
    try:
        im = Image.open(src, formats=[PIL_READERS[fmt]])
    except Image.DecompressionBombError:
        raise too_many_pixels(None, cap) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise imaging.unreadable(fmt, exc, src) from None
    check_pixels(im.size, cap)
    try:
        im.load()  # a PSD opens on the composite Photoshop saved (its layers are later frames)
        return ImageOps.exif_transpose(imaging.to_8bit(im))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise imaging.unreadable(fmt, exc, src) from None


# The modes each writer stores; anything else is converted to the first that fits.
WRITER_MODES = {"tga": ("RGB", "RGBA", "L"), "ppm": ("RGB",), "pgm": ("L",), "pcx": ("RGB", "L"),
                "qoi": ("RGB", "RGBA"), "jp2": ("RGB", "RGBA", "L"), "jxl": ("RGB", "RGBA", "L", "LA"),
                "heic": ("RGB", "RGBA")}


def fit_mode(im, target):
    modes = WRITER_MODES[target]
    if im.mode in modes:
        return im
    if imaging._has_alpha(im):
        return im.convert("RGBA") if "RGBA" in modes else imaging.flatten(im).convert(modes[0])
    return im.convert("RGB" if "RGB" in modes else modes[0])


def save(im, target, options, out):
    frame = fit_mode(im, target)
    if target in PIL_WRITERS:
        kwargs = {"irreversible": False} if target == "jp2" else {}
        frame.save(out, format=PIL_WRITERS[target], **kwargs)
    elif target == "jxl":
        vim = pyvips.Image.new_from_memory(frame.tobytes(), frame.width, frame.height, len(frame.getbands()), "uchar")
        quality = options.get("quality")
        vim.jxlsave(str(out), **({"Q": quality} if quality else {"lossless": True}), effort=4)
    elif target == "heic":
        from pillow_heif import from_pillow

        from_pillow(frame).save(out, quality=options.get("quality") or 80)

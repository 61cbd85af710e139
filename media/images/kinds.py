"""Which image formats each library reads and writes, by our format names.

Names only, no library imported: web and worker processes use these lists
(the catalog, the filter sources) without ever loading Pillow or libvips,
which run in the decoder child (media/imaging.py, filters/image_pixels.py).
"""

PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF",
               "ico": "ICO", "avif": "AVIF", "heic": "HEIF", "pdf": "PDF"}
VIPS_LOADERS = {"jpg": "jpegload", "png": "pngload", "webp": "webpload", "gif": "gifload",
                "tiff": "tiffload", "heic": "heifload", "avif": "heifload"}
LOSSY = {"jpg", "webp", "avif"}
# libaom's speed through libvips' `effort` (0 fastest .. 9): at 2 an AVIF is the size and SSIM of
# libvips' default (4) in a seventh of its CPU time (bench: stills).
AVIF_EFFORT = 2
DEFAULT_QUALITY = {"jpg": 85, "webp": 75, "avif": 60}  # "balanced" (media/quality.py); WebP 75 is cwebp's own default

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
DEFAULT_QUALITY = {"jpg": 85, "webp": 80, "avif": 60}  # "balanced" (media/quality.py)

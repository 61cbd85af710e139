"""Run an image operation chain in the decoder child (`filters/image_pixels.py`).

The worker only names the chain: the ops were validated by the vocabulary,
and libvips and Pillow meet the user's file inside the sandboxed decoder
child, under the decoder budget.
"""

import logging
from pathlib import Path

from django.conf import settings

from conversions.decoders import run_decoder
from media.images.kinds import VIPS_LOADERS

logger = logging.getLogger(__name__)

PILLOW_ONLY = {"bmp", "ico"}  # libvips reads them only through ImageMagick
SOURCES = tuple(sorted(set(VIPS_LOADERS) | PILLOW_ONLY))
TARGETS = ("png", "jpg", "webp", "gif", "tiff", "avif", "bmp", "ico")


def run_image_chain(ctx, src_path, src_fmt, target, ops, step):
    """Apply `ops` to the image at src_path; write ctx.workdir/filtered.<target>."""
    from filters.vocabulary import operations

    # Sequential access streams the decode in strips; ops that read rows out of
    # order (turning, flipping) need the random-access loader instead.
    random_access = any(operations.get("image", p["op"]).random_access for p in ops)
    out = ctx.workdir / f"filtered.{target}"
    request = {
        "source": Path(src_path).name, "format": src_fmt, "output": out.name, "target": target, "ops": ops,
        "random_access": random_access, "max_pixels": settings.MAX_IMAGE_PIXELS,
    }  # fmt: skip
    step(0, len(ops))
    run_decoder(ctx, "image.filter", request, tool="image decoder", inputs=(src_path,), outputs=(out,))
    step(len(ops) - 1, len(ops))
    return out, target

"""A test/bench-only converter that takes as long as asked (EXTRA_CONVERTER_MODULES).

PNG -> BMP with Pillow after sleeping `seconds` (an option), ticking like a
real tool so that its lease is renewed while it lives (unless `busy`: then
only Dramatiq's time limit can stop it). The recovery proofs kill a worker
while it sleeps. Registered only when a process lists this
module in EXTRA_CONVERTER_MODULES; it outranks the real PNG -> BMP converter.
"""

import time

from PIL import Image

from conversions.engine.registry import Converter, Param, register


@register
class SlowConverter(Converter):
    name = "slow-test"
    family = "media"
    pairs = frozenset({("png", "bmp")})
    options = (
        Param("seconds", float, "how long to take", default=0.0, min=0, max=600),
        Param("busy", bool, "spend the time without ticking, as a stuck decoder would", default=False),
    )
    priority = 1000

    def convert(self, ctx):
        deadline = time.monotonic() + ctx.options.get("seconds", 0.0)
        while time.monotonic() < deadline:
            if not ctx.options.get("busy"):
                ctx.tick()
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
        with Image.open(ctx.source_path) as im:
            im.convert("RGB").save(ctx.output_path, format="BMP")
        return ctx.output_path

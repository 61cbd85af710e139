"""Fonts: ttf, otf, woff and woff2 into each other (fontTools, in a sandboxed child)."""

import importlib.util

from conversions.engine.registry import Converter, register
from conversions.tools import run_tool

FONT_FORMATS = ("ttf", "otf", "woff", "woff2")


def libraries_installed(*modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


@register
class FontConverter(Converter):
    name = "fonttools"
    family = "documents"
    pairs = frozenset((s, t) for s in FONT_FORMATS for t in FONT_FORMATS if s != t)
    # Real fonts (even CJK ones) parse in well under 1 GB; a WOFF2 brotli bomb is ended by this limit.
    memory_mb = 1536

    @classmethod
    def available(cls):
        return libraries_installed("fontTools", "brotli")

    def convert(self, ctx):
        run_tool(ctx, "fonts", ctx.source_path.name, ctx.source_format, ctx.output_path.name, ctx.target_format,
                 timeout=120, memory_mb=self.memory_mb)
        ctx.set_progress(90)
        return ctx.output_path

"""Subtitles: SubRip, WebVTT, ASS, SSA and MicroDVD into each other, and to plain text (pysubs2)."""

from conversions.engine.registry import Converter, register
from conversions.tools import run_tool

from .fonts import libraries_installed

SUBTITLE_FORMATS = ("srt", "vtt", "ass", "ssa", "sub")


@register
class SubtitleConverter(Converter):
    name = "pysubs2"
    family = "documents"
    pairs = frozenset((s, t) for s in SUBTITLE_FORMATS for t in (*SUBTITLE_FORMATS, "txt") if s != t)

    @classmethod
    def available(cls):
        return libraries_installed("pysubs2")

    def convert(self, ctx):
        run_tool(ctx, "subtitles", ctx.source_path.name, ctx.source_format, ctx.output_path.name, ctx.target_format,
                 timeout=60, memory_mb=1024)
        ctx.set_progress(90)
        return ctx.output_path

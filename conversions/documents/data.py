"""Data: tables (csv, tsv, xlsx, ods) and trees (json, jsonl, yaml, toml, xml) into each other.

Tables also become an HTML table or a Markdown table. The parsing runs in a
sandboxed child (conversions/tools/data.py); spreadsheets are zip containers
and pass today's archive checks first.
"""

from conversions.engine.archives import check_container
from conversions.engine.registry import Converter, register
from conversions.tools import run_tool

from .fonts import libraries_installed

DATA_SOURCES = ("csv", "tsv", "json", "jsonl", "yaml", "toml", "xml", "xlsx", "ods")
DATA_TARGETS = (*DATA_SOURCES, "html", "md")


@register
class DataConverter(Converter):
    name = "data"
    family = "documents"
    pairs = frozenset((s, t) for s in DATA_SOURCES for t in DATA_TARGETS if s != t)
    priority = -1  # LibreOffice keeps the spreadsheet pairs it already offers (formatting, several sheets)

    @classmethod
    def available(cls):
        return libraries_installed("openpyxl", "odf", "yaml", "tomli_w", "defusedxml")

    def convert(self, ctx):
        check_container(ctx.source_path, ctx.source_format)
        run_tool(ctx, "data", ctx.source_path.name, ctx.source_format, ctx.output_path.name, ctx.target_format,
                 timeout=120, memory_mb=2048)
        ctx.set_progress(90)
        return ctx.output_path

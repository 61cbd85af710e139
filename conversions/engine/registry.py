"""The converter registry: the single source of truth for what converts to what.

A converter is a small strategy class: its family (which is its queue), the
tool it needs, the source -> target pairs it handles and the options it
accepts. The catalog API, the converter pages and the worker all read this
registry; only pairs whose tool is installed are offered.
"""

import importlib
import logging
import shutil
import threading
from functools import cache

from conversions.engine import formats
from conversions.engine.params import Param  # noqa: F401  (converters declare their options with it)
from conversions.errors import BadRequest

logger = logging.getLogger(__name__)

FAMILIES = ("documents", "media", "filters")

class Converter:
    """Base class: subclasses set the class attributes and implement convert()."""

    name = ""
    family = "media"
    tool = ""  # the executable it needs, or "" for a Python library
    pairs: frozenset = frozenset()  # {(source, target)}
    options: tuple = ()
    priority = 0  # higher wins when two converters offer the same pair

    @classmethod
    def available(cls):
        return not cls.tool or tool_installed(cls.tool)

    def options_for(self, source, target):
        return self.options

    def clean_options(self, source, target, raw):
        declared = {o.name: o for o in self.options_for(source, target)}
        raw = raw or {}
        if not isinstance(raw, dict):
            raise BadRequest("options must be a JSON object.", code="invalid_option")
        unknown = sorted(set(raw) - set(declared))
        where = f"{source} -> {target}"
        if unknown:
            valid = ", ".join(sorted(declared)) or "none"
            raise BadRequest(f"{where}: unknown option {unknown[0]!r} (valid: {valid}).", code="invalid_option")
        cleaned = {}
        for name, opt in declared.items():
            if name in raw and raw[name] is not None:
                cleaned[name] = opt.clean(raw[name], where)
            elif opt.default is not None:
                cleaned[name] = opt.default
        return cleaned

    def convert(self, ctx):
        """Read ctx.source_path, write ctx.output_path (or return another path)."""
        raise NotImplementedError


@cache
def tool_installed(tool):
    return shutil.which(tool) is not None


class Registry:
    """Every converter, filled whole once per process by load().

    load() runs at start-up (convertall/apps.py) in web, worker and command
    processes alike, before the first request or message: filled lazily, a
    request thread could read the list while another thread's imports were
    still adding to it, and refuse an MP4 as "not accepted here" right after
    a restart. A process that never ran django.setup()'s ready() hooks still
    gets a whole registry: the first reader loads it under a lock, and readers
    only see it once it is complete.
    """

    def __init__(self):
        self._converters = []
        self._ready = False
        self._load_lock = threading.Lock()

    def register(self, cls):
        # A new list, never an append: a reader iterating the old one is unaffected.
        self._converters = [*self._converters, cls()]
        return cls

    def load(self):
        """Import every converter module and probe their tools; idempotent and thread-safe."""
        if self._ready:
            return
        with self._load_lock:
            if self._ready:
                return
            from django.conf import settings

            # EXTRA_CONVERTER_MODULES: test/bench-only converters, never set in production.
            for module in converter_modules() + list(settings.EXTRA_CONVERTER_MODULES):
                try:
                    importlib.import_module(module)
                except ModuleNotFoundError as exc:
                    if exc.name != module:
                        raise
            for conv in self._converters:
                conv.available()  # probes each tool once (cached), not on a user's request
            self._ready = True  # last: no reader sees a half-filled registry
        logger.debug("registry loaded: %s converters, %s installed", len(self._converters), len(self.converters()))

    def converters(self, *, installed_only=True):
        self.load()
        return [c for c in self._converters if not installed_only or c.available()]

    def find(self, source, target):
        """The converter for a pair, or None."""
        best = None
        for conv in self.converters():
            if (source, target) in conv.pairs and (best is None or conv.priority > best.priority):
                best = conv
        return best

    def targets(self, source):
        return sorted({t for c in self.converters() for s, t in c.pairs if s == source})

    def sources(self):
        return sorted({s for c in self.converters() for s, _ in c.pairs})

    def pairs(self):
        """Every offered (source, target, converter), sorted."""
        seen = {}
        for conv in self.converters():
            for pair in conv.pairs:
                if pair not in seen or conv.priority > seen[pair].priority:
                    seen[pair] = conv
        return [(s, t, seen[(s, t)]) for s, t in sorted(seen)]

    def catalog(self):
        out = []
        for source in self.sources():
            fmt = formats.get(source)
            targets = []
            for target in self.targets(source):
                conv = self.find(source, target)
                targets.append(
                    {
                        "format": target,
                        "family": conv.family,
                        "tool": conv.tool or conv.name,
                        "options": [o.describe() for o in conv.options_for(source, target)],
                    }
                )
            out.append({"format": source, "category": fmt.category, "label": fmt.title, "targets": targets})
        return out


def converter_modules():
    """The modules that register converters, as each app declares them (`converter_modules` on its AppConfig).

    conversions/ names its own (documents); media/ declares its converters in
    media/apps.py, so the engine never names another app's modules.
    """
    from django.apps import apps

    return [module for config in apps.get_app_configs() for module in getattr(config, "converter_modules", ())]


registry = Registry()
register = registry.register

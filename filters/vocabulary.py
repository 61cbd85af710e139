"""The operation vocabulary: one small class per operation, one registry.

An operation is `{"op": "<name>", ...params}`. The same name means the same
thing in every family it fits (`resize` on an image or a video, `rotate` on
an image, a video or a PDF); each family has its own class because each has
its own executor. Every operation is validated here, before a job exists:
an unknown op, a missing or out-of-range parameter, or an op that does not fit
the file's family is a 400 naming the operation and the field.
"""

import json
import re
import threading

from conversions.engine import formats
from conversions.engine.params import OperationError, Param  # noqa: F401  (the operations declare and refuse with them)
from conversions.jobs.operations import MAX_OPERATIONS

# The filter families: the format categories that have operations (conversions/engine/formats.py).
FAMILIES = ("image", "audio", "video", "pdf")


def family_of(fmt):
    """The filter family of a format name (image, audio, video, pdf) or None."""
    name = formats.normalize(fmt)
    category = formats.FORMATS[name].category if name else None
    return category if category in FAMILIES else None


_MISSING = object()


def check_resize_box(p, where):
    """`resize` means the same for images and video: a box to fit by contain, cover or fill."""
    if "width" not in p and "height" not in p:
        raise OperationError(f"{where}: 'width' or 'height' is required.")
    if p["fit"] in ("cover", "fill") and not ("width" in p and "height" in p):
        raise OperationError(f"{where}: 'fit' {p['fit']} needs both 'width' and 'height'.")


class Operation:
    """Base class: subclasses set `name`, `family`, `params` and may override check()."""

    name = ""
    family = ""
    params: tuple = ()
    help = ""
    last_only = False  # must end the chain (a video thumbnail turns it into an image)
    multi_file = False  # combines several uploads (merge)

    def clean(self, raw, where):
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(raw) - set(declared) - {"op"})
        if unknown:
            valid = ", ".join(declared) or "none"
            raise OperationError(f"{where}: unknown parameter '{unknown[0]}' (valid: {valid}).")
        cleaned = {"op": self.name}
        for name, param in declared.items():
            value = raw.get(name, _MISSING)
            if value is _MISSING or value is None:
                if param.required:
                    raise OperationError(f"{where}: '{name}' is required.")
                if param.default is not None:
                    cleaned[name] = param.default
                continue
            cleaned[name] = param.clean(value, where, strict=True)
        self.check(cleaned, where)
        return cleaned

    def check(self, params, where):
        """Checks across parameters; raise OperationError naming the field."""

    def describe(self):
        return {"op": self.name, "family": self.family, "help": self.help, "params": [p.describe(strict=True) for p in self.params]}


class OperationRegistry:
    """Every operation, filled whole once per process by load() (at start-up: convertall/apps.py)."""

    families = FAMILIES  # for the filter pages, which reach this registry through conversions.jobs.operations

    def __init__(self):
        self._ops = {}  # (family, name) -> Operation
        self._ready = False
        self._load_lock = threading.Lock()

    def register(self, cls):
        # A new dict, never a mutation: a reader iterating the old one is unaffected.
        self._ops = {**self._ops, (cls.family, cls.name): cls()}
        return cls

    def load(self):
        """Import the operation modules; idempotent and thread-safe, whole before anyone reads."""
        if self._ready:
            return
        with self._load_lock:
            if not self._ready:
                from filters import av_ops, image_ops, pdf_ops  # noqa: F401  (register their operations)

                self._ready = True

    def get(self, family, name):
        self.load()
        return self._ops.get((family, name))

    def families_of(self, name):
        self.load()
        return sorted(f for f, n in self._ops if n == name)

    def names(self, family=None):
        self.load()
        return sorted({n for f, n in self._ops if family in (None, f)})

    def catalog(self):
        self.load()
        return {fam: [op.describe() for (f, _), op in sorted(self._ops.items()) if f == fam] for fam in FAMILIES}


operations = OperationRegistry()
register = operations.register


def parse_operations(raw):
    """The `operations` field: a JSON list of objects (a string from multipart, or a list)."""
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise OperationError("'operations' must be valid JSON: a list of objects.", code="invalid_operations") from None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise OperationError("'operations' must be a JSON list of objects.", code="invalid_operations")
    if len(raw) > MAX_OPERATIONS:
        raise OperationError(f"At most {MAX_OPERATIONS} operations per job.", code="invalid_operations")
    return raw


def clean_operations(raw_ops, family, *, files=1):
    """Validate a chain for a family; return the cleaned list (defaults filled in)."""
    cleaned = []
    for index, raw in enumerate(raw_ops, start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("op"), str):
            raise OperationError(f"operation {index}: each operation is an object with an 'op' name.")
        name = raw["op"].strip().lower()
        where = f"operation {index} ({name})"
        op = operations.get(family, name)
        if op is None:
            fits = operations.families_of(name)
            if not fits:
                raise OperationError(
                    f"{where}: unknown operation '{name}'. Valid for {family}: {', '.join(operations.names(family))}."
                )
            raise OperationError(
                f"{where}: '{name}' does not apply to {family or 'this kind of'} files (it applies to {', '.join(fits)})."
            )
        if op.last_only and index != len(raw_ops):
            raise OperationError(f"{where}: '{name}' must be the last operation.")
        if op.multi_file and index != 1:
            raise OperationError(f"{where}: '{name}' must be the first operation.")
        cleaned.append(op.clean(raw, where))
    _check_files(cleaned, files, family)
    return cleaned


def _check_files(cleaned, files, family):
    merging = any(operations.get(family, c["op"]).multi_file for c in cleaned)
    if files > 1 and not merging:
        raise OperationError("Several files were sent but no operation combines them (use 'merge').", code="invalid_operations")
    if merging and files < 2:
        raise OperationError("operation 'merge' needs at least two 'file' fields, in order.")


PAGE_RANGE = re.compile(r"^\s*(\d+|last)\s*(?:-\s*(\d+|last)\s*)?$")


def parse_pages(select, where, field="select"):
    """'1-3,5,last' -> list of (start, end) with 'last' as -1; validated syntax."""
    spans = []
    for part in str(select).split(","):
        match = PAGE_RANGE.match(part)
        if not match:
            raise OperationError(f"{where}: '{field}' must look like '1-3,5' (page numbers from 1); got {select!r}.")
        start, end = match.group(1), match.group(2) or match.group(1)
        start, end = (-1 if v == "last" else int(v) for v in (start, end))
        if start == 0 or end == 0:
            raise OperationError(f"{where}: '{field}' page numbers start at 1.")
        spans.append((start, end))
    return spans

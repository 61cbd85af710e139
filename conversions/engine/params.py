"""One declared parameter: a converter's option or a filter operation's parameter.

Both are a name, a type, a range or a set of choices, a default and words for
the pages; one class holds them and one clean() checks a value. What differs
is where the value comes from, and the caller says so:

- a converter option (`strict=False`) arrives from a form field, a query or
  JSON: "1", "yes" and "on" are true, "3" is 3, anything is text; a refusal is
  a BadRequest with code `invalid_option`;
- an operation's parameter (`strict=True`) arrives in the operations JSON: a
  boolean must be one, a number may be written as text but must be finite,
  text is stripped, 1 to `max_length` characters, without control
  characters; a refusal is an OperationError (`invalid_operation`).
"""

import math
from dataclasses import KW_ONLY, dataclass

from conversions.errors import BadRequest

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_KIND = {int: "a whole number", float: "a number", str: "text"}


class OperationError(BadRequest):
    code = "invalid_operation"


def _option_error(message):
    return BadRequest(message, code="invalid_option")


@dataclass(frozen=True)
class Param:
    name: str
    type: type  # int, float, str, bool
    help: str = ""
    default: object = None
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    _: KW_ONLY
    required: bool = False  # operations only: a converter option is optional or has a default
    max_length: int = 200  # text of an operation
    # How the pages show it: a plain-words label, words for each choice, and
    # whether it is an expert setting folded under "Advanced" (the API takes all alike).
    label: str = ""
    choice_labels: tuple | None = None
    advanced: bool = False

    def clean(self, value, where, *, strict=False):
        """The value as the declared type, within range and choices; else the error naming `where` and the field."""
        field = f"{where}: '{self.name}'"
        fail = OperationError if strict else _option_error
        if self.type is bool:
            return self._boolean(value, field, fail, strict)
        if strict:
            cleaned = self._number(value, field) if self.type in (int, float) else self._text(value, field)
            shown = cleaned
        else:
            cleaned, shown = self._coerce(value, field), value
        if self._out_of_range(cleaned):
            if strict:
                raise fail(f"{field} must be between {self.min:g} and {self.max:g}; got {cleaned:g}.")
            raise fail(f"{field} must be between {self.min} and {self.max}; got {value!r}.")
        if self.choices is not None and cleaned not in self.choices:
            raise fail(f"{field} must be one of {', '.join(map(str, self.choices))}; got {shown!r}.")
        return cleaned

    def _boolean(self, value, field, fail, strict):
        if isinstance(value, bool):
            return value
        if not strict and str(value).lower() in _TRUE + _FALSE:
            return str(value).lower() in _TRUE
        raise fail(f"{field} must be true or false, got {value!r}." if strict else f"{field} must be true or false.")

    def _coerce(self, value, field):
        """A converter option: whatever the type's constructor accepts (a float must be whole for an int)."""
        try:
            cleaned = self.type(value)
            if self.type is int and isinstance(value, float) and value != int(value):
                raise ValueError
        except (TypeError, ValueError):
            raise _option_error(f"{field} must be {_KIND[self.type]}, got {value!r}.") from None
        return cleaned

    def _number(self, value, field):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value) if isinstance(value, str) else None
            except ValueError:
                value = None
            if value is None:
                raise OperationError(f"{field} must be {_KIND[self.type]}.")
        if not math.isfinite(value):
            raise OperationError(f"{field} must be a finite number.")
        if self.type is int and value != int(value):
            raise OperationError(f"{field} must be a whole number, got {value!r}.")
        return self.type(value)

    def _text(self, value, field):
        if not isinstance(value, str):
            raise OperationError(f"{field} must be text.")
        value = value.strip()
        if not value or len(value) > self.max_length:
            raise OperationError(f"{field} must be 1 to {self.max_length} characters.")
        if self.choices is None and any(ord(c) < 32 for c in value):
            raise OperationError(f"{field} may not contain control characters.")
        return value

    def _out_of_range(self, value):
        if self.type not in (int, float):
            return False
        return (self.min is not None and value < self.min) or (self.max is not None and value > self.max)

    def describe(self, *, strict=False):
        """The catalog's entry: an option always shows its help; an operation's parameter whether it is required."""
        out = {"name": self.name, "type": self.type.__name__}
        out.update({"required": self.required} if strict else {"help": self.help})
        for key in ("default", "min", "max", "choices", *(("help",) if strict else ())):
            value = getattr(self, key)
            if value is not None and (value != "" or not strict):
                out[key] = list(value) if key == "choices" else value
        if not strict and self.label:
            out["label"] = self.label
        if not strict and self.advanced:
            out["advanced"] = True
        return out

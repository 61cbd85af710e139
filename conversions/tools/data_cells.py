"""The cell model the data scripts share: a table (header and rows) and a value as a cell holds it.

Standard library only (`data.py` and `data_sheets.py` import it beside them in the child).
"""

import re

from common import refuse

MAX_CELLS = 2_000_000
_INT = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)\.[0-9]+([eE][-+]?[0-9]+)?")


class Table:
    def __init__(self, header, rows):
        self.header = [str(h) for h in header]
        self.rows = rows

    def records(self):
        return [{h: typed(v) for h, v in zip(self.header, row)} for row in self.rows]


def typed(value):
    """Numbers written as text in CSV become numbers in a tree; leading zeros ('007') stay text."""
    if isinstance(value, str):
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            return float(value)
    return value


def check_cells(n):
    if n > MAX_CELLS:
        refuse("data_too_large", f"The table has more than {MAX_CELLS} cells.")


def cell_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)

"""Spreadsheets in and out for data.py: the first sheet of an xlsx (openpyxl) or ods (odfpy) as a table."""

from common import refuse
from data_cells import Table, cell_text, check_cells, typed


def read_xlsx(path):
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    ws = wb.worksheets[0]
    rows, cells = [], 0
    for row in ws.iter_rows(values_only=True):
        cells += len(row)
        check_cells(cells)
        rows.append(["" if v is None else v for v in row])
    return _sheet_table(rows)


def read_ods(path):
    from odf.opendocument import load
    from odf.table import Table as OdfTable, TableCell, TableRow
    from odf.text import P

    doc = load(path)
    sheets = doc.spreadsheet.getElementsByType(OdfTable)
    if not sheets:
        refuse("empty_data", "The spreadsheet has no sheet.")
    rows, cells = [], 0
    for tr in sheets[0].getElementsByType(TableRow):
        row = []
        for tc in tr.getElementsByType(TableCell):
            repeat = min(int(tc.getAttribute("numbercolumnsrepeated") or 1), 1024)
            value = _ods_value(tc, P)
            row.extend([value] * repeat)
        while row and row[-1] == "":
            row.pop()  # LibreOffice pads every row to the sheet's width with repeated empty cells
        cells += len(row)
        check_cells(cells)
        repeat = min(int(tr.getAttribute("numberrowsrepeated") or 1), 1024)
        rows.extend([row] * (repeat if row else 1))
    return _sheet_table(rows)


def _ods_value(tc, P):
    kind = tc.getAttribute("valuetype")
    if kind in ("float", "percentage", "currency"):
        raw = tc.getAttribute("value")
        return typed(raw[:-2] if raw.endswith(".0") else raw)
    if kind == "boolean":
        return tc.getAttribute("booleanvalue") == "true"
    return "\n".join("".join(_text_of(n) for n in p.childNodes) for p in tc.getElementsByType(P))


def _text_of(node):
    if node.nodeType == node.TEXT_NODE:
        return str(node.data)
    return "".join(_text_of(n) for n in node.childNodes)


def _sheet_table(rows):
    rows = [r for r in rows if any(v not in ("", None) for v in r)]
    if not rows:
        refuse("empty_data", "The first sheet holds no rows.")
    width = max(len(r) for r in rows)
    rows = [list(r) + [""] * (width - len(r)) for r in rows]
    header = [str(h) if h not in ("", None) else f"column{i + 1}" for i, h in enumerate(rows[0])]
    return Table(header, rows[1:])


def write_xlsx(table, path):
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    for row in [table.header, *table.rows]:
        ws.append([_sheet_cell(ws, v) for v in row])
    wb.save(path)


def _sheet_cell(ws, value):
    from openpyxl.cell import WriteOnlyCell

    value = typed(value)
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # text that starts with '=' stays text, never a formula
    return cell


def write_ods(table, path):
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table as OdfTable, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    sheet = OdfTable(name="Sheet1")
    for row in [table.header, *table.rows]:
        tr = TableRow()
        for value in row:
            value = typed(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                tc = TableCell(valuetype="float", value=value)
            else:
                tc = TableCell(valuetype="string")
            tc.addElement(P(text=cell_text(value)))
            tr.addElement(tc)
        sheet.addElement(tr)
    doc.spreadsheet.addElement(sheet)
    doc.save(path)

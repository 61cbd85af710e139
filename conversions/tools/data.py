"""Data conversion in a sandboxed child: python -I data.py SOURCE SRC_FMT OUTPUT TARGET.

Two shapes. Tables (csv, tsv, xlsx, ods; html and md out) are a header and
rows. Trees (json, yaml, toml, xml; jsonl is a list of records) nest. A table
becomes a tree as a list of records keyed by the header; a tree becomes a
table only when it is a list of records (found under single-key wrappers, so
a TOML `rows = [...]` or an XML <rows><row/>...</rows> counts). Nested
objects flatten to dotted columns; a list inside a record cannot be a cell,
and says so. XML is parsed by defusedxml (no DTD, no entities); YAML by the
safe loader with a cap on its expanded size (alias bombs).
"""

import csv
import io
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `-I` leaves this folder off sys.path

from common import read_text, refuse  # noqa: E402
from data_cells import Table, cell_text, check_cells, typed  # noqa: E402
from data_sheets import read_ods, read_xlsx, write_ods, write_xlsx  # noqa: E402

TABLES = {"csv", "tsv", "xlsx", "ods"}
MAX_NODES = 2_000_000  # values after alias expansion


# Reading


def read_delimited(path, delimiter):
    rows = list(csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        refuse("empty_data", "The file holds no rows.")
    width = max(len(r) for r in rows)
    check_cells(len(rows) * width)
    header = rows[0] + [f"column{i + 1}" for i in range(len(rows[0]), width)]
    return Table(header, [r + [""] * (width - len(r)) for r in rows[1:]])


def read_tree(path, fmt):
    text = read_text(path)
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if fmt == "yaml":
            import yaml

            docs = list(yaml.safe_load_all(text))
            return docs[0] if len(docs) == 1 else docs
        if fmt == "toml":
            import tomllib

            return tomllib.loads(text)
        if fmt == "xml":
            return read_xml(text)
    except SystemExit:
        raise
    except RecursionError:
        refuse("invalid_data", f"The {fmt.upper()} file nests too deeply.")
    except Exception as exc:  # each parser has its own error classes; all mean the same to the user
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        refuse("invalid_data", f"The {fmt.upper()} file could not be parsed: {detail}.")
    raise AssertionError(fmt)


def read_xml(text):
    from defusedxml import ElementTree

    root = ElementTree.fromstring(text, forbid_dtd=True)
    return {_local(root.tag): _element(root)}


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _element(el):
    children = list(el)
    text = (el.text or "").strip()
    if not children and not el.attrib:
        return typed(text)
    node = {f"@{_local(k)}": v for k, v in el.attrib.items()}
    groups = {}
    for child in children:
        groups.setdefault(_local(child.tag), []).append(_element(child))
    for key, values in groups.items():
        node[key] = values if len(values) > 1 else values[0]
    if text:
        node["#text"] = text
    return node


def count_nodes(tree):
    """Values in the tree with aliases expanded; refuses past MAX_NODES."""
    seen, stack = 0, [tree]
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            refuse("data_too_large", f"The data expands to more than {MAX_NODES} values (nested references?).")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


# Shape changes


def tree_to_table(tree, fmt):
    found = tree
    while isinstance(found, dict) and len(found) == 1:
        found = next(iter(found.values()))
    if isinstance(found, dict):
        found = [found]  # one record
    if not isinstance(found, list) or not found:
        refuse("data_not_tabular", f"The {fmt.upper()} data is not a list of records, so it has no rows and columns.")
    if all(isinstance(item, list) for item in found):
        width = max(len(item) for item in found)
        return Table([f"column{i + 1}" for i in range(width)], [_cells(i, fmt) + [""] * (width - len(i)) for i in found])
    records = []
    for index, item in enumerate(found):
        if not isinstance(item, dict):
            item = {"value": item}
        records.append(_flatten(item, "", fmt, index))
    header = list(dict.fromkeys(k for r in records for k in r))
    return Table(header, [[r.get(h, "") for h in header] for r in records])


def _cells(items, fmt):
    for item in items:
        if isinstance(item, (dict, list)):
            refuse("data_not_tabular", f"The {fmt.upper()} data has a list inside a row; a cell holds one value.")
    return list(items)


def _flatten(record, prefix, fmt, index):
    out = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}.", fmt, index))
        elif isinstance(value, list):
            refuse("data_not_tabular",
                   f"Record {index + 1} of the {fmt.upper()} data holds a list in '{name}'; a table cell holds one "
                   "value. Convert it to JSON, YAML, TOML or XML instead.")
        else:
            out[name] = "" if value is None else value
    return out


# Writing


def write_table(table, path, target):
    if target in ("csv", "tsv"):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, delimiter="," if target == "csv" else "\t", lineterminator="\n")
            writer.writerow(table.header)
            writer.writerows([cell_text(v) for v in row] for row in table.rows)
    elif target == "xlsx":
        write_xlsx(table, path)
    elif target == "ods":
        write_ods(table, path)
    elif target == "html":
        write_html(table, path)
    elif target == "md":
        write_md(table, path)


def write_html(table, path):
    from html import escape

    def cells(tag, row):
        return "".join(f"<{tag}>{escape(cell_text(v))}</{tag}>" for v in row)

    body = "".join(f"<tr>{cells('td', row)}</tr>\n" for row in table.rows)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Table</title></head><body>\n'
                 f"<table>\n<thead><tr>{cells('th', table.header)}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
                 "</body></html>\n")


def write_md(table, path):
    def line(row):
        return "| " + " | ".join(cell_text(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |"

    lines = [line(table.header), "| " + " | ".join("---" for _ in table.header) + " |"]
    lines += [line(row) for row in table.rows]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def write_tree(tree, path, target):
    with open(path, "w", encoding="utf-8") as fh:
        if target == "json":
            json.dump(tree, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        elif target == "jsonl":
            for item in tree if isinstance(tree, list) else [tree]:
                fh.write(json.dumps(item, ensure_ascii=False) + "\n")
        elif target == "yaml":
            import yaml

            yaml.safe_dump(tree, fh, allow_unicode=True, sort_keys=False)
        elif target == "toml":
            import tomli_w

            fh.write(tomli_w.dumps(_toml_root(tree)))
        elif target == "xml":
            fh.write(to_xml(tree))


def _toml_root(tree):
    if not isinstance(tree, dict):
        tree = {"rows": tree}
    return _drop_nulls(tree, "")


def _drop_nulls(value, where):
    """TOML has no null: a key without a value is left out; a null in a list cannot be written."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v, f"{where}.{k}".lstrip(".")) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if any(v is None for v in value):
            refuse("data_not_representable", f"TOML cannot hold the empty (null) values in the list '{where}'.")
        return [_drop_nulls(v, where) for v in value]
    return value


_XML_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _xml_name(key):
    name = _XML_NAME.sub("_", str(key)) or "item"
    return name if re.match(r"[A-Za-z_]", name) and not name.lower().startswith("xml") else f"_{name}"


def to_xml(tree):
    from xml.sax.saxutils import escape, quoteattr

    out = ['<?xml version="1.0" encoding="UTF-8"?>\n']

    def emit(tag, value, depth):
        pad = "  " * depth
        if isinstance(value, list):
            for item in value:
                emit(tag, item, depth)
            return
        if isinstance(value, dict):
            attrs = "".join(f" {_xml_name(k[1:])}={quoteattr(cell_text(v))}" for k, v in value.items()
                            if str(k).startswith("@") and not isinstance(v, (dict, list)))
            children = {k: v for k, v in value.items() if not (str(k).startswith("@") and not isinstance(v, (dict, list)))}
            text = children.pop("#text", None)
            out.append(f"{pad}<{tag}{attrs}>")
            if text is not None:
                out.append(escape(cell_text(text)))
            if children:
                out.append("\n")
                for k, v in children.items():
                    emit(_xml_name(k), v, depth + 1)
                out.append(pad)
            out.append(f"</{tag}>\n")
            return
        out.append(f"{pad}<{tag}>{escape(cell_text(value))}</{tag}>\n")

    if isinstance(tree, dict) and len(tree) == 1 and not isinstance(next(iter(tree.values())), list):
        key, value = next(iter(tree.items()))
        emit(_xml_name(key), value, 0)
    elif isinstance(tree, list):
        emit("rows", {"row": tree}, 0)
    else:
        emit("root", tree, 0)
    return "".join(out)


def read(path, fmt):
    if fmt == "csv":
        return read_delimited(path, ",")
    if fmt == "tsv":
        return read_delimited(path, "\t")
    try:
        if fmt == "xlsx":
            return read_xlsx(path)
        if fmt == "ods":
            return read_ods(path)
    except SystemExit:
        raise
    except Exception as exc:
        refuse("invalid_data", f"The {fmt.upper()} spreadsheet could not be read ({type(exc).__name__}).")
    tree = read_tree(path, fmt)
    count_nodes(tree)
    return tree


def convert(source, src_fmt, output, target):
    data = read(source, src_fmt)
    if target in TABLES or target in ("html", "md"):
        table = data if isinstance(data, Table) else tree_to_table(data, src_fmt)
        write_table(table, output, target)
    else:
        tree = data.records() if isinstance(data, Table) else data
        write_tree(tree, output, target)


if __name__ == "__main__":
    sys.setrecursionlimit(5000)
    convert(*sys.argv[1:5])

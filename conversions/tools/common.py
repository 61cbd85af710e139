"""What every tool script shares: its one way to refuse an input, and reading text of unknown encoding.

Standard library only, like the scripts; `run_tool` puts it beside them in the
child's read-only view, and each script adds its own folder to sys.path (`-I`
leaves it off).
"""

import sys

ERROR = "CONVERTALL-ERROR"


def refuse(code, message):
    """End the child with the job's error as written: the last stderr line, exit 3 (read by run_tool)."""
    print(f"{ERROR} {code} {message}", file=sys.stderr)
    sys.exit(3)


def read_text(path):
    """UTF-16 with its BOM, else UTF-8 (BOM or not), else Windows-1252."""
    data = open(path, "rb").read()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")  # older SubRip files and CSV exports are mostly Windows-1252

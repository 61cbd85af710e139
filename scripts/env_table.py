"""Print the environment-variable table of README.md from .env.example.

Usage: .venv/bin/python scripts/env_table.py > /tmp/table.md (then paste it
between the env-table markers in README.md). A variable's description is the
comment just above it; `# NAME=value` lines are settings whose default is
computed or empty.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rows(text):
    section, notes = "", []
    for line in text.splitlines():
        if m := re.match(r"^# --- (.+?) -+$", line):
            section, notes = m.group(1), []
        elif m := re.match(r"^(# )?([A-Z][A-Z0-9_]+)=(.*)$", line):
            default = m.group(3) or ("computed" if m.group(1) else "")
            if m.group(1) and m.group(3) == "":
                default = "(empty)"
            yield section, m.group(2), default, " ".join(notes)
            notes = []
        elif line.startswith("# "):
            notes.append(line[2:].strip())
        elif not line.strip():
            notes = []


def main():
    out = ["| variable | default | meaning |", "|---|---|---|"]
    current = None
    for section, name, default, note in rows((ROOT / ".env.example").read_text()):
        if section != current:
            out.append(f"| **{section}** | | |")
            current = section
        out.append(f"| `{name}` | `{default}` | {note.replace('|', '/')} |")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

"""`make bench`: run every benchmark section, print it, write bench/RESULTS.md.

Each section is a module in bench/ with `run() -> str` (Markdown). Choose a
subset with BENCH=pipeline,documents. Medians and ratios are measured in one
run on this machine; nothing here is a pass/fail test.
"""

import datetime
import importlib
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTIONS = ["pipeline", "costs", "direct", "small", "documents", "media", "encoders", "stills", "filters", "decoders", "ops", "sandbox"]


def main():
    chosen = [s for s in os.environ.get("BENCH", "").split(",") if s] or SECTIONS
    results_path = ROOT / "bench" / "RESULTS.md"
    for name in chosen:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                continue
            raise
        print(f"\n=== {name} ===", flush=True)
        text = module.run()
        print(text, flush=True)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        section = f"## {name}\n\n_Measured {stamp} on {platform.node()} ({os.cpu_count()} cores)._\n\n{text.strip()}\n"
        _write_section(results_path, name, section)
    print(f"\nwrote {results_path}")


def _write_section(results_path, name, section):
    # Re-read just before writing: another section may have been written meanwhile.
    sections = _split(results_path.read_text()) if results_path.exists() else {}
    sections[name] = section
    body = "# Benchmark results\n\nProduced by `make bench` (`BENCH=<section>` runs one section).\n\n"
    body += "\n".join(sections[s].rstrip() + "\n" for s in SECTIONS if s in sections)
    results_path.write_text(body)


def _split(text):
    sections, current = {}, None
    for line in text.splitlines(keepends=True):
        if line.startswith("## ") and line[3:].strip() in SECTIONS:
            current = line[3:].strip()
            sections[current] = ""
        if current:
            sections[current] += line
    return sections


if __name__ == "__main__":
    main()

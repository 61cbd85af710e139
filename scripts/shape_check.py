"""The shape rules of issue 11, checked from the source: module and function sizes, imports between apps.

    python scripts/shape_check.py             # the working tree
    python scripts/shape_check.py --rev REV   # a commit (read with git, nothing checked out)
    python scripts/shape_check.py --layout    # also files and lines per folder

Reads files only (ast), never imports them. An import counts wherever it is
written, inside functions too; a dotted string naming another app's module
("media.converters.images", loaded with importlib or named in settings) is
listed apart, as it is an import the interpreter does at run time.
Exit 1 when a rule is broken: a module over 400 lines, a function over 50,
or a cycle between the apps.
"""

import argparse
import ast
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("conversions", "media", "filters", "accounts")
CHECKED = (*APPS, "convertall")
MAX_MODULE, MAX_FUNCTION = 400, 50
DOTTED = re.compile(r"^(%s)(\.[a-z_][a-z0-9_]*)+$" % "|".join(CHECKED))


def sources(rev):
    """{path: text} of the .py files of the checked packages, migrations left out."""
    if rev:
        names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", *CHECKED], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
        paths = [n for n in names if n.endswith(".py") and "/migrations/" not in n]
        return {p: subprocess.run(["git", "show", f"{rev}:{p}"], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout for p in paths}
    paths = [p for app in CHECKED for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(paths)}


def imported_app(node, path):
    """The top-level package an Import/ImportFrom names (relative imports stay in their own app)."""
    if isinstance(node, ast.ImportFrom):
        return [path.split("/")[0]] if node.level else [(node.module or "").split(".")[0]]
    return [alias.name.split(".")[0] for alias in node.names]


def scan(path, text, report):
    app = path.split("/")[0]
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    report["sizes"][path] = lines
    tree = ast.parse(text, path)
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION:
                report["long_functions"].append((path, node.lineno, node.name, length))
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in imported_app(node, path):
                if target in CHECKED and target != app:
                    report["edges"][(app, target)] += 1
                    if id(node) in inside:
                        report["deferred"][(app, target)] += 1
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED.match(node.value):
            target = node.value.split(".")[0]
            if target != app:
                report["strings"][(app, target)] += 1


def cycles(edges):
    """Each cycle between the apps once (apps only: convertall is the project that wires them)."""
    graph = defaultdict(set)
    for a, b in edges:
        if a in APPS and b in APPS:
            graph[a].add(b)
    found = set()

    def walk(start, node, trail):
        for nxt in graph[node]:
            if nxt == start:
                i = trail.index(min(trail))
                found.add(tuple(trail[i:] + trail[:i]))
            elif nxt not in trail:
                walk(start, nxt, trail + [nxt])

    for app in APPS:
        walk(app, app, [app])
    return sorted(found)


def layout(report):
    folders = defaultdict(lambda: [0, 0])
    for path, lines in report["sizes"].items():
        folder = path.rsplit("/", 1)[0]
        folders[folder][0] += 1
        folders[folder][1] += lines
    print("\nfolder                              files  lines")
    for folder, (files, lines) in sorted(folders.items()):
        print(f"{folder:<36}{files:>5}{lines:>7}")
    total = sum(report["sizes"].values())
    print(f"{'total':<36}{len(report['sizes']):>5}{total:>7}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", help="a commit to read instead of the working tree")
    parser.add_argument("--layout", action="store_true", help="files and lines per folder")
    args = parser.parse_args()
    report = {"sizes": {}, "long_functions": [], "edges": Counter(), "deferred": Counter(), "strings": Counter()}
    for path, text in sources(args.rev).items():
        scan(path, text, report)
    big = sorted((p, n) for p, n in report["sizes"].items() if n > MAX_MODULE)
    print(f"{len(report['sizes'])} modules read ({args.rev or 'working tree'})")
    print(f"modules over {MAX_MODULE} lines: {len(big)}")
    for path, lines in big:
        print(f"  {path}: {lines}")
    print(f"functions over {MAX_FUNCTION} lines: {len(report['long_functions'])}")
    for path, line, name, length in sorted(report["long_functions"]):
        print(f"  {path}:{line} {name}: {length}")
    print("imports between packages (from -> to: imports, of them inside functions; dotted-name strings):")
    for a, b in sorted(set(report["edges"]) | set(report["strings"])):
        print(f"  {a} -> {b}: {report['edges'][(a, b)]} ({report['deferred'][(a, b)]} in functions);"
              f" strings {report['strings'][(a, b)]}")
    loops = cycles(report["edges"])
    print(f"import cycles between apps: {len(loops)}")
    for loop in loops:
        print("  " + " -> ".join((*loop, loop[0])))
    if args.layout:
        layout(report)
    return 1 if big or report["long_functions"] or loops else 0


if __name__ == "__main__":
    sys.exit(main())

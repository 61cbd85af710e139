"""Name (or uninstall) the packages only the test extra needs, in an installed venv.

    python scripts/prune_test_deps.py pyproject.toml [--uninstall]

The image installs the one lock file (requirements.lock, test extra included,
hashes checked) and then removes what only the tests use (playwright, moto,
pytest, ...): everything reachable from `[project.optional-dependencies] test`
that is not reachable from `[project] dependencies`, following each installed
distribution's own requirements (markers and extras evaluated here).
"""

import subprocess
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

KEEP = {"pip", "setuptools"}


def closure(requirements):
    """Canonical names of the installed distributions these requirements pull in."""
    found, todo, done = set(), [Requirement(r) for r in requirements], set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in done or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        done.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not for this platform or Python
        found.add(name)
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *req.extras}):
                sub.marker = None
                todo.append(sub)
    return found


def test_only(pyproject):
    project = tomllib.loads(open(pyproject).read())["project"]
    runtime = closure(project["dependencies"])
    tests = closure(project.get("optional-dependencies", {}).get("test", []))
    return sorted(tests - runtime - KEEP)


def main(argv):
    names = test_only(argv[1])
    print("\n".join(names))
    if "--uninstall" in argv and names:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", *names], check=True)


if __name__ == "__main__":
    main(sys.argv)

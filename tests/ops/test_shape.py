"""The shape rules of issue 11 hold: no module over 400 lines, no function over 50, no import cycle between apps."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_apps_keep_their_shape():
    done = subprocess.run([sys.executable, "scripts/shape_check.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

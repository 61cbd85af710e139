"""Every process has the whole registry once django.setup() has run, before any request or message.

The web process loads `convertall.wsgi`; a Dramatiq worker imports
`django_dramatiq.setup` before its consumers start. Neither entry point may
leave the converter registry or the filter operations to be filled lazily
by the first requests, which raced (issue 14, item 8).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, {entry}
from conversions.engine.registry import registry
from filters.vocabulary import operations
print(json.dumps({{"registry": registry._ready, "operations": operations._ready,
                  "mp4": "mp4" in registry.sources(), "grayscale": "grayscale" in operations.names()}}))
"""


@pytest.mark.parametrize("entry", ["convertall.wsgi", "django_dramatiq.setup"])
def test_the_registry_is_whole_after_start_up(tmp_path, entry):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(DJANGO_SETTINGS_MODULE="convertall.settings", CONVERTALL_VAR_DIR=str(tmp_path), EMBEDDED_WORKERS="0")
    done = subprocess.run([sys.executable, "-c", PROBE.format(entry=entry)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"registry": True, "operations": True, "mp4": True, "grayscale": True}

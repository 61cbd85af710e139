"""scripts/smoke.sh, the deploy's smoke tests, passes against the production-shaped stack.

The same script the deploy workflow runs after every deployment (and
`make image-check` against the built image): /health, /api/v1/health and a
docx -> pdf conversion end to end through a real documents worker.
"""

import shutil
import subprocess
from pathlib import Path

from tests.services import require

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_script_passes_against_the_stack(stack):
    for tool in ("curl", "jq"):
        require(shutil.which(tool), f"{tool} is not installed (apt-get install {tool})")
    done = subprocess.run(
        [str(ROOT / "scripts" / "smoke.sh"), stack.url, stack.url],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "SMOKE_TIMEOUT": "120"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke tests passed" in done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith("ok: ")]
    assert len(lines) == 5, done.stdout  # health, readiness, upload, status, download


def test_smoke_script_fails_loudly_when_the_service_is_down():
    done = subprocess.run(
        [str(ROOT / "scripts" / "smoke.sh"), "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "FAIL: GET http://127.0.0.1:9/health did not answer" in done.stderr

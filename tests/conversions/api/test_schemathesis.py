"""The OpenAPI schema against the live server: schemathesis with its default checks.

A real gunicorn (tests/live_site.py) serves the API; schemathesis reads
`/api/v1/schema` from it and runs every phase (coverage, fuzzing, and the
stateful phase that follows the links from convert and filter to status,
download and delete). Any answer the schema does not describe fails the run,
so the schema and the server cannot drift apart.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_site import run_site

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parents[1] / "artifacts"
# Cases per operation and phase: a few minutes at most on two shared cores.
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20")


@pytest.fixture(scope="module")
def api_site(tmp_path_factory):
    # Hundreds of uploads a minute: no submit rate limit, or most would be 429s that test nothing.
    with run_site(tmp_path_factory.mktemp("schemathesis-var"), RATE_LIMIT="off") as running:
        yield running


def test_schema_and_server_agree(api_site):
    cli = Path(sys.executable).parent / "schemathesis"
    argv = [
        str(cli), "--config-file", str(HERE / "schemathesis.toml"), "--no-color",
        "run", f"{api_site.url}/api/v1/schema",
        "--max-examples", MAX_EXAMPLES,
        # One worker: Python 3.11's ast.parse is not thread-safe, and hypothesis calls it.
        "--workers", "1",
        "--request-timeout", "60",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=HERE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "schemathesis.txt").write_text(done.stdout + done.stderr)
    summary = [line for line in done.stdout.splitlines() if re.match(r"^=+ .* in [\d.]+s =+$", line)]
    print("schemathesis:", summary[-1] if summary else "(no summary line)")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", done.stdout)
    assert selected and selected[1] == selected[2] == selected[3], "every operation was tested"
    assert "passed" in done.stdout and "failures" not in summary[-1]

"""checkov over infra/, offline: no failed check, and every skip says why.

checkov lives in a venv of its own (`make infra-test-deps`, tests/infra/checkov.lock):
it pins boto3 and packaging to releases the application must not be held to.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import services
from tests.infra.hcl import INFRA, ROOT

SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def checkov_bin():
    own = ROOT / ".venv-checkov" / "bin" / "checkov"
    return str(own) if own.exists() else shutil.which("checkov")


@pytest.fixture(scope="module")
def report():
    exe = checkov_bin()
    services.require(exe, "checkov is not installed: run `make infra-test-deps`")
    result = subprocess.run(
        [exe, "-d", str(INFRA), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    data = json.loads(result.stdout)
    return data if isinstance(data, list) else [data]


def test_no_failed_check(report):
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for r in report
        for c in r["results"]["failed_checks"]
    ]
    summary = [r["summary"] for r in report]
    print("checkov:", summary)
    assert not failed, "\n".join(failed)
    assert sum(s["parsing_errors"] for s in summary) == 0
    assert sum(s["passed"] for s in summary) > 100


def test_every_skip_gives_its_reason():
    for tf in INFRA.rglob("*.tf"):
        for n, line in enumerate(tf.read_text().splitlines(), 1):
            if m := SKIP.search(line):
                reason = (m.group(2) or "").strip()
                assert len(reason) > 15, f"{tf.relative_to(ROOT)}:{n}: skip of {m.group(1)} without a reason"


def test_every_skip_comment_is_used(report):
    """A skip whose id checkov did not report is a typo or a stale excuse."""
    skipped = {c["check_id"] for r in report for c in r["results"]["skipped_checks"]}
    written = {m.group(1) for tf in Path(INFRA).rglob("*.tf") for m in SKIP.finditer(tf.read_text())}
    assert not written - skipped

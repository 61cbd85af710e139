"""Documents through the production shape: a `rundramatiq --queues documents`
worker process with its own warm LibreOffice, as in the seed's curl test."""

import subprocess

import pytest

from tests.documents_fixtures import WORDS, documents  # noqa: F401
from tests.e2e.conftest import wait_status

pytestmark = [pytest.mark.services, pytest.mark.slow]


def convert(http, stack, path, target):
    with open(path, "rb") as fh:
        resp = http.post(stack.url + "/api/convert", files={"file": (path.name, fh)}, data={"targetFormat": target}, timeout=30)
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    status = wait_status(http, accepted["statusUrl"], timeout=120)
    assert status["status"] == "succeeded", status
    return accepted, status


def test_docx_to_pdf_like_the_seed_curl_test(stack, http, documents, tmp_path):
    accepted, status = convert(http, stack, documents["docx"], "pdf")
    assert status["result"]["filename"] == "report.pdf"
    pdf = tmp_path / "result.pdf"
    pdf.write_bytes(http.get(accepted["downloadUrl"], timeout=30).content)  # follows the presigned redirect
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert WORDS in " ".join(text.split())


@pytest.mark.parametrize("source", ["xlsx", "pptx", "odt"])
def test_every_office_family_through_the_worker_s_warm_bridge(stack, http, documents, source):
    _, status = convert(http, stack, documents[source], "pdf")
    assert status["result"]["contentType"] == "application/pdf"
    # A Dramatiq worker process of this stack runs the warm bridge.
    assert any("dramatiq" in parent_cmdline(pid) and stack.var_dir.name in environ_of(pid) for pid in bridges())


def bridges():
    return subprocess.run(["pgrep", "-f", "conversions/documents/lo_bridge.py"], capture_output=True, text=True).stdout.split()


def parent_cmdline(pid):
    try:
        ppid = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
        return open(f"/proc/{ppid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return ""


def environ_of(pid):
    """The bridge's parent's environment (the worker carries the stack's var dir)."""
    try:
        ppid = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
        return open(f"/proc/{ppid}/environ", "rb").read().decode(errors="replace")
    except OSError:
        return ""

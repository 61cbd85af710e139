"""Documents that attack the converter, the warm bridge's recovery, and the API path.

Each hostile input has its expected outcome: no connection to a linked
image's host, no macro run, a clear failure for a zip bomb within seconds,
a timeout for a hang after which the next job succeeds on a fresh office.
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conversions.errors import ConversionFailed
from conversions.models import Job, JobStatus
from tests.builders import upload
from tests.conversions.documents.test_documents import convert
from tests.documents_fixtures import WORDS, pdf_text
from tests.hostile_documents import (
    Listener,
    docx_with_linked_image,
    docx_with_ole_link_and_remote_template,
    docx_zip_bomb,
    html_with_remote_parts,
    ods_with_webservice,
    odt_with_autorun_macro,
)

pytestmark = pytest.mark.django_db


def submit(api, path, target, name=None):
    return api.post(
        "/api/v1/convert",
        {"file": upload(name or path.name, path.read_bytes()), "targetFormat": target},
        format="multipart",
    )


def alive(pid):
    """Running, not a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone(pids, timeout=5):
    deadline = time.monotonic() + timeout
    while any(alive(int(p)) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# --- Hostile documents --------------------------------------------------------------


def test_linked_image_is_never_fetched(tmp_path, documents, office_bridge):
    with Listener() as listener:
        evil = docx_with_linked_image(documents["docx"], tmp_path / "linked.docx", listener.url)
        out, _, _ = convert(tmp_path, evil, "docx", "pdf")
        time.sleep(0.5)
        assert listener.connections == 0
    assert WORDS in " ".join(pdf_text(out).split())


def test_stock_soffice_does_fetch_the_same_linked_image(tmp_path, documents):
    """The control: Debian's plain `soffice --convert-to` connects, so the test above means something."""
    with Listener() as listener:
        evil = docx_with_linked_image(documents["docx"], tmp_path / "linked.docx", listener.url)
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                ["soffice", "--headless", f"-env:UserInstallation=file://{profile}", "--convert-to", "pdf",
                 "--outdir", str(tmp_path), str(evil)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        time.sleep(0.5)
        assert listener.connections > 0


def test_html_images_styles_and_frames_are_never_fetched(tmp_path, office_bridge):
    with Listener() as listener:
        page = html_with_remote_parts(tmp_path / "page.html", listener.port)
        out, _, _ = convert(tmp_path, page, "html", "pdf")
        time.sleep(0.5)
        assert listener.connections == 0
        # The control: a stock soffice fetches them.
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                ["soffice", "--headless", f"-env:UserInstallation=file://{profile}", "--infilter=HTML (StarWriter)",
                 "--convert-to", "pdf", "--outdir", str(tmp_path), str(page)],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        time.sleep(0.5)
        assert listener.connections > 0
    assert "Herons in HTML" in pdf_text(out)


def test_webservice_formula_is_never_fetched(tmp_path, office_bridge):
    with Listener() as listener:
        sheet = ods_with_webservice(tmp_path / "ws.ods", listener.url)
        for target in ("pdf", "xlsx", "csv"):
            convert(tmp_path, sheet, "ods", target)
        time.sleep(0.5)
        assert listener.connections == 0


@pytest.fixture
def without_network_isolation(settings, office_bridge):
    """A bridge started without namespaces, as on a platform that forbids them (ECS Fargate)."""
    from conversions.engine import sandbox

    office_bridge.shutdown()
    settings.SANDBOX_NAMESPACES = False
    sandbox.reset()
    yield office_bridge
    office_bridge.shutdown()
    sandbox.reset()


def test_the_profile_alone_blocks_fetches_when_namespaces_are_not_permitted(
    tmp_path, documents, without_network_isolation
):
    with Listener() as listener:
        linked = docx_with_linked_image(documents["docx"], tmp_path / "linked.docx", listener.url)
        convert(tmp_path, linked, "docx", "pdf")
        convert(tmp_path, html_with_remote_parts(tmp_path / "page.html", listener.port), "html", "pdf")
        convert(tmp_path, ods_with_webservice(tmp_path / "ws.ods", listener.url), "ods", "pdf")
        ole = docx_with_ole_link_and_remote_template(
            documents["docx"], tmp_path / "ole.docx", f"http://127.0.0.1:{listener.port}"
        )
        convert(tmp_path, ole, "docx", "odt")
        time.sleep(0.5)
        assert listener.connections == 0
    assert without_network_isolation.bridge_pid is not None


def test_autorun_macro_never_runs(tmp_path, documents, office_bridge):
    marker = tmp_path / "macro-ran.txt"
    evil = odt_with_autorun_macro(documents["odt"], tmp_path / "macro.odt", marker)
    out, _, _ = convert(tmp_path, evil, "odt", "pdf")
    time.sleep(0.5)
    assert not marker.exists()
    assert WORDS in " ".join(pdf_text(out).split())


def test_zip_bomb_fails_clearly_within_seconds(tmp_path, documents, api, run_jobs):
    bomb = docx_zip_bomb(documents["docx"], tmp_path / "bomb.docx", gigabytes=1)
    assert bomb.stat().st_size < 2 * 2**20
    started = time.monotonic()
    with run_jobs():
        resp = submit(api, bomb, "pdf")
    assert resp.status_code == 202
    assert time.monotonic() - started < 10
    job = Job.objects.get(pk=resp.json()["jobId"])
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.error_code == "archive_too_large"
    assert "zip bomb" in job.error_message
    status = api.get(f"/api/v1/status/{job.pk}").json()
    assert status["error"]["code"] == "archive_too_large"


@pytest.mark.parametrize("name", ["../../evil.xml", "/etc/evil.xml"])
def test_entries_pointing_outside_the_document_are_refused(tmp_path, documents, name):
    import zipfile

    evil = tmp_path / "paths.docx"
    shutil.copy(documents["docx"], evil)
    with zipfile.ZipFile(evil, "a") as zf:
        zf.writestr(name, "<x/>")
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, evil, "docx", "pdf")
    assert err.value.code == "archive_bad_path"


def test_postscript_is_refused_at_upload(api, tmp_path):
    ps = tmp_path / "doc.ps"
    ps.write_bytes(b"%!PS-Adobe-3.0\n/Helvetica findfont 12 scalefont setfont 72 720 moveto (hi) show showpage\n")
    for name in ("doc.ps", "doc.pdf", "doc.docx"):
        resp = submit(api, ps, "pdf", name=name)
        assert resp.status_code == 415, (name, resp.json())
    assert not Job.objects.exists()


# --- The warm bridge recovers ----------------------------------------------------------


def test_hang_times_out_then_the_next_job_succeeds(settings, api, run_jobs, documents, office_bridge):
    settings.OFFICE_BRIDGE_TIMEOUT_SECONDS = 0.01  # every call "hangs": longer than this
    convert_warm = office_bridge.bridge_pid
    starts = office_bridge.starts
    with run_jobs():
        hung = submit(api, documents["docx"], "pdf").json()["jobId"]
    job = Job.objects.get(pk=hung)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "timeout")
    assert "did not finish" in job.error_message
    # Killed, retried once on a fresh bridge, killed again: no bridge left running.
    assert office_bridge.starts == starts + (2 if convert_warm is None else 1)
    assert office_bridge.bridge_pid is None

    settings.OFFICE_BRIDGE_TIMEOUT_SECONDS = 120
    with run_jobs():
        ok = submit(api, documents["docx"], "pdf").json()["jobId"]
    assert Job.objects.get(pk=ok).status == JobStatus.SUCCEEDED
    assert office_bridge.bridge_pid is not None


def test_a_crashed_office_is_replaced_and_the_job_still_succeeds(tmp_path, documents, office_bridge):
    convert(tmp_path, documents["txt"], "txt", "pdf")
    pid = office_bridge.bridge_pid
    assert pid
    os.killpg(pid, 9)  # the bridge and its soffice, as a crash would leave them
    out, _, _ = convert(tmp_path, documents["docx"], "docx", "odt")
    assert office_bridge.bridge_pid not in (None, pid)
    assert out.stat().st_size > 0


def test_soffice_dying_alone_is_noticed_and_the_job_still_succeeds(tmp_path, documents, office_bridge):
    convert(tmp_path, documents["txt"], "txt", "pdf")
    helper = office_bridge.bridge_pid
    found = subprocess.run(["pgrep", "-g", str(helper), "-f", "soffice.bin"], capture_output=True, text=True)
    os.kill(int(found.stdout.split()[0]), 9)  # soffice.bin only: the helper lives on
    time.sleep(0.5)
    out, _, _ = convert(tmp_path, documents["docx"], "docx", "odt")
    assert out.stat().st_size > 0
    assert office_bridge.bridge_pid not in (None, helper)
    assert gone([helper])


def test_a_job_canceled_mid_conversion_stops_the_office_and_the_next_one_runs(tmp_path, documents, office_bridge):
    from conversions.documents.office import OfficeJob
    from conversions.errors import Canceled
    from tests.documents_fixtures import pandoc, report_md

    md = tmp_path / "big.md"
    md.write_text(report_md(60))  # long enough that the bridge's wait ticks at least once
    pandoc(md, tmp_path / "big.docx")
    convert(tmp_path, documents["txt"], "txt", "pdf")
    helper = office_bridge.bridge_pid

    def cancel():
        raise Canceled("job")

    job = OfficeJob.plan(tmp_path / "big.docx", "docx", tmp_path / "big.pdf", "pdf")
    with pytest.raises(Canceled):
        office_bridge.convert(job.request(), on_tick=cancel)
    assert office_bridge.bridge_pid is None and gone([helper])
    out, _, _ = convert(tmp_path, documents["docx"], "docx", "pdf")
    assert out.stat().st_size > 0


def test_bridge_is_restarted_after_n_conversions(settings, tmp_path, documents, office_bridge):
    settings.OFFICE_BRIDGE_RESTART_AFTER = 2
    office_bridge.shutdown()
    convert(tmp_path, documents["txt"], "txt", "pdf")
    first = office_bridge.bridge_pid
    convert(tmp_path, documents["txt"], "txt", "odt")  # second use: stopped after it
    assert office_bridge.bridge_pid is None and gone([first])
    convert(tmp_path, documents["txt"], "txt", "docx")
    assert office_bridge.bridge_pid not in (None, first)


def test_worker_threads_share_one_bridge(settings, tmp_path, documents, office_bridge):
    """Two worker threads (a documents worker's default) convert at once through the one office."""
    from concurrent.futures import ThreadPoolExecutor

    settings.OFFICE_BRIDGE_RESTART_AFTER = 10_000
    convert(tmp_path, documents["txt"], "txt", "pdf")
    starts = office_bridge.starts
    jobs = [("docx", "pdf"), ("xlsx", "pdf"), ("pptx", "pdf"), ("odt", "docx"), ("ods", "csv"), ("odp", "pptx")]

    def one(i):
        source, target = jobs[i]
        sub = tmp_path / f"thread-{i}"
        sub.mkdir()
        out, _, _ = convert(sub, documents[source], source, target)
        return out.stat().st_size

    with ThreadPoolExecutor(2) as pool:
        sizes = list(pool.map(one, range(len(jobs))))
    assert all(sizes)
    assert office_bridge.starts == starts


def test_shutdown_leaves_no_soffice_behind(tmp_path, documents, office_bridge):
    convert(tmp_path, documents["txt"], "txt", "pdf")
    bridge = office_bridge._slots[0].bridge
    soffice_pids = subprocess.run(["pgrep", "-g", str(bridge.proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(soffice_pids) >= 2  # the helper and soffice.bin, one process group
    office_bridge.shutdown()
    assert gone(soffice_pids), [p for p in soffice_pids if alive(int(p))]
    assert not bridge.dir.exists()


def test_cold_fallback_when_the_bridge_cannot_start(settings, tmp_path, documents, office_bridge):
    office_bridge.shutdown()
    settings.OFFICE_PYTHON = "/nonexistent/python3"
    try:
        out, _, _ = convert(tmp_path, documents["docx"], "docx", "pdf")
    finally:
        office_bridge._unavailable_until = 0.0
    assert office_bridge.bridge_pid is None
    assert WORDS in " ".join(pdf_text(out).split())


# --- The API path ---------------------------------------------------------------------


def test_docx_to_pdf_through_the_api(api, run_jobs, documents, office_bridge):
    with run_jobs():
        resp = submit(api, documents["docx"], "pdf", name="test.docx")
    assert resp.status_code == 202
    job_id = resp.json()["jobId"]
    status = api.get(f"/api/v1/status/{job_id}").json()
    assert status["status"] == "succeeded" and status["progress"] == 100
    assert status["result"]["filename"] == "test.pdf"
    resp = api.get(f"/api/v1/download/{job_id}")
    assert resp.status_code == 200
    data = b"".join(resp.streaming_content)
    path = documents["docx"].parent / f"{job_id}.pdf"
    path.write_bytes(data)
    assert WORDS in " ".join(pdf_text(path).split())
    assert Job.objects.get(pk=job_id).family == "documents"


def test_slides_to_png_through_the_api_come_back_as_zip(api, run_jobs, documents, office_bridge):
    with run_jobs():
        resp = submit(api, documents["pptx"], "png", name="deck.pptx")
    status = api.get(f"/api/v1/status/{resp.json()['jobId']}").json()
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"] == "deck.zip"
    assert status["result"]["contentType"] == "application/zip"

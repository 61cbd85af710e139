"""Every job ends: time limits, lost workers, disk and pixel budgets (real workers, real tools)."""

import time
from datetime import timedelta

import dramatiq
import pytest
from django.utils import timezone

from conversions.jobs import reconcile
from conversions.jobs import services
from conversions.jobs.budget import JobBudget
from conversions.engine.context import ConversionContext
from conversions.models import Job, JobStatus
from conversions.engine.registry import Converter, Param, registry
from conversions.tasks import actor_for
from tests.builders import image_bytes, upload, wait_until


NOISY_TOOL = (
    'echo "ffmpeg version 6.1.1-3 Copyright (c) 2000-2023 the FFmpeg developers" >&2; '
    'echo "  libavutil      58. 29.100 / 58. 29.100" >&2; '
    'echo "$PWD/source.png: Invalid data found when processing input (pandoc 3.1.11, /usr/lib/x86_64-linux-gnu)" >&2; '
    "exit 1"
)


class StuckConverter(Converter):
    """PNG -> BMP that never finishes by itself: Python stuck in a loop, or a tool that hangs."""

    name = "stuck-test"
    family = "media"
    pairs = frozenset({("png", "bmp")})
    options = (
        Param("how", str, "python | tool | disk", default="python", choices=("python", "tool", "disk", "pages", "noisy")),
    )
    priority = 1000

    def convert(self, ctx):
        how = ctx.options.get("how", "python")
        if how == "python":  # no tick, no tool: only Dramatiq's time limit can stop this
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.05)
        elif how == "tool":  # asks for ten minutes; the job has far less
            ctx.run(["sleep", "600"], timeout=600, tool="sleep")
        elif how == "disk":  # one file larger than the job's whole disk budget
            ctx.run(["dd", "if=/dev/zero", "of=big.bin", "bs=1M", "count=8"], tool="dd")
        elif how == "noisy":  # a tool failing the way ffmpeg and pandoc do: banner, versions, absolute paths
            ctx.run(["sh", "-c", NOISY_TOOL], tool="ffmpeg")
        else:  # many small files, none too large on its own
            ctx.run(["sh", "-c", "for i in $(seq 1 12); do head -c 500000 /dev/zero > page-$i.bin; done"], tool="sh")
        ctx.output_path.write_bytes(b"BM")
        return ctx.output_path


@pytest.fixture
def stuck(settings, tmp_path):
    settings.WORK_DIR = str(tmp_path / "work")
    converter = StuckConverter()
    registry.converters()  # loaded first, so the test converter is not lost in a later load
    registry._converters.append(converter)
    yield converter
    registry._converters.remove(converter)


def submit(api, how):
    resp = api.post(
        "/api/v1/convert",
        {"file": upload("a.png", image_bytes()), "targetFormat": "bmp", "options": f'{{"how": "{how}"}}'},
        format="multipart",
    )
    assert resp.status_code == 202, resp.content
    return Job.objects.get(pk=resp.json()["jobId"])


def kinds(job):
    return [e.kind for e in job.events.order_by("at", "id")]


def work_dirs(settings):
    from pathlib import Path

    root = Path(settings.WORK_DIR)
    return list(root.iterdir()) if root.exists() else []


# --- Time ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_dramatiqs_time_limit_fails_the_job_with_timeout_and_cleans_up(api, stuck, settings):
    """The Interrupt is a BaseException: it must end the row, not leave it `running`."""
    from convertall.broker import start_time_limits

    broker = dramatiq.get_broker()
    job = submit(api, "python")
    broker.flush_all()  # re-sent below with a short time limit
    actor_for("media").send_with_options(args=(str(job.pk),), time_limit=1500)
    start_time_limits(broker)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    t0 = time.monotonic()
    try:
        assert wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.FAILED, timeout=30), kinds(job)
        took = time.monotonic() - t0
        time.sleep(1.5)  # a retry, if Dramatiq made one, would have claimed it again by now
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.error_code == "timeout" and "time limit" in job.error_message, job.error_message
    assert job.attempts == 1 and job.lease_until is None and job.finished_at is not None
    assert kinds(job) == ["created", "started", "failed"]
    assert work_dirs(settings) == []
    assert took < 10, took


@pytest.mark.django_db
def test_a_tools_timeout_is_cut_to_what_is_left_of_the_job(api, run_jobs, stuck, settings):
    settings.QUEUE_TIME_LIMITS = {**settings.QUEUE_TIME_LIMITS, "media": 3}
    t0 = time.monotonic()
    with run_jobs():
        job = submit(api, "tool")
    took = time.monotonic() - t0
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "timeout", (job.error_code, job.error_message)
    assert "3-second time limit" in job.error_message
    assert took < 8, took  # not the 600 s the tool asked for
    assert work_dirs(settings) == []


def test_the_budget_clamps_timeouts_and_cpu_in_the_context(tmp_path):
    budget = JobBudget(seconds=100)
    assert budget.clamp_timeout(30) == 30
    assert 90 <= budget.clamp_timeout(4 * 3600 + 60) <= 96  # media duration*4+60 for a 4 h file
    budget.deadline = time.monotonic() - 1
    ctx = ConversionContext(workdir=tmp_path, source_path=tmp_path / "x", source_format="png",
                            target_format="bmp", budget=budget)  # fmt: skip
    with pytest.raises(Exception) as caught:
        ctx.run(["true"], timeout=10)
    assert caught.value.code == "timeout"


# --- Lost workers --------------------------------------------------------------


def _die_on_attempt(job):
    """What a worker killed with -9 leaves behind: a running row whose lease ran out."""
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db
def test_a_job_whose_worker_dies_on_every_attempt_fails_with_worker_lost(api, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    resp = api.post("/api/v1/convert", {"file": upload("a.png", image_bytes()), "targetFormat": "webp"},
                    format="multipart")  # fmt: skip
    job = Job.objects.get(pk=resp.json()["jobId"])
    for attempt in (1, 2, 3):
        claimed = services.job_claim(job.pk)
        assert claimed is not None and claimed.attempts == attempt
        _die_on_attempt(job)
        reconcile.requeue_stuck(older_than_seconds=3600)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "worker_lost", job.status
    assert job.attempts == 3 and "3 attempts" in job.error_message
    assert kinds(job).count("started") == 3 and kinds(job)[-1] == "failed"
    assert services.job_claim(job.pk) is None
    resp = api.get(f"/api/v1/status/{job.pk}").json()
    assert resp["status"] == "failed" and resp["error"]["code"] == "worker_lost"


@pytest.mark.django_db
def test_a_redelivered_message_of_a_job_out_of_attempts_fails_it_instead_of_running(api, settings):
    """Dramatiq hands a dead worker's unacked message to another worker: the claim must not run it."""
    settings.JOB_MAX_ATTEMPTS = 2
    resp = api.post("/api/v1/convert", {"file": upload("a.png", image_bytes()), "targetFormat": "webp"},
                    format="multipart")  # fmt: skip
    job = Job.objects.get(pk=resp.json()["jobId"])
    services.job_claim(job.pk)
    _die_on_attempt(job)
    assert services.job_claim(job.pk).attempts == 2  # one attempt left: it runs again
    _die_on_attempt(job)
    assert services.job_execute(job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "worker_lost" and job.attempts == 2


# --- Disk and pixels -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["disk", "pages"])
def test_a_job_writing_more_than_its_disk_budget_fails_clearly(api, run_jobs, stuck, settings, how):
    settings.JOB_MAX_DISK_MB = 2
    with run_jobs():
        job = submit(api, how)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "disk_budget", (job.error_code, job.error_message)
    assert "2 MB disk allowance" in job.error_message
    assert job.attempts == 1  # a budget is not worth another try
    assert work_dirs(settings) == []


# --- What the user is told ------------------------------------------------------


@pytest.mark.django_db
def test_a_failing_tools_message_keeps_no_server_path_or_version(api, run_jobs, stuck, settings):
    with run_jobs():
        job = submit(api, "noisy")
    job.refresh_from_db()
    message = job.error_message
    assert job.status == JobStatus.FAILED and job.error_code == "tool_failed", message
    assert "source.png: Invalid data found when processing input" in message
    for leak in ("/", settings.WORK_DIR, "/usr", "6.1.1", "3.1.11", "58."):
        assert leak not in message, (leak, message)
    status = api.get(f"/api/v1/status/{job.pk}").json()
    assert status["error"]["message"] == message
    assert job.events.get(kind="failed").message.count("/") >= 2  # staff still see the whole text


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("LibreOffice 7.4.7.2 40(Build:2) could not convert /tmp/x/y.docx", "LibreOffice 40(Build:2) could not convert y.docx"),
        ("GPL Ghostscript 10.00.0: Unrecoverable error", "GPL Ghostscript: Unrecoverable error"),
        ('  File "/usr/lib/python3/dist-packages/uno.py", line 12', 'File "uno.py", line 12'),
        ("see https://example.com/a/b: 1/2 pages, 3.5 MB", "see https://example.com/a/b: 1/2 pages, 3.5 MB"),
        ("could not find image `/etc/hostname'", "could not find image `hostname'"),
    ],
)
def test_public_message(raw, shown):
    from conversions.jobs.failures import public_message

    assert public_message(raw) == shown


@pytest.mark.django_db
def test_a_pdf_whose_pages_add_up_past_the_pixel_budget_fails_before_drawing(api, run_jobs, settings, tmp_path):
    """Three 300x400 pt pages at 110 dpi are ~0.84 MP together: over a 0.5 MP budget, each under the per-image cap."""
    from PIL import Image

    settings.JOB_MAX_PIXELS = 500_000
    settings.WORK_DIR = str(tmp_path / "work")
    pages = [Image.new("RGB", (300, 400), c) for c in ((200, 30, 30), (30, 160, 30), (30, 30, 200))]
    pdf = tmp_path / "doc.pdf"
    pages[0].save(pdf, save_all=True, append_images=pages[1:])
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload("doc.pdf", pdf.read_bytes()), "targetFormat": "png"},
                        format="multipart")  # fmt: skip
    job = Job.objects.get(pk=resp.json()["jobId"])
    assert job.status == JobStatus.FAILED and job.error_code == "pixel_budget", (job.error_code, job.error_message)
    assert "megapixel allowance per job" in job.error_message
    assert work_dirs(settings) == []

    settings.JOB_MAX_PIXELS = 2_000_000  # the same file within the budget converts
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload("doc.pdf", pdf.read_bytes()), "targetFormat": "png"},
                        format="multipart")  # fmt: skip
    assert Job.objects.get(pk=resp.json()["jobId"]).status == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_images_count_against_the_pixel_budget(api, run_jobs, settings):
    settings.JOB_MAX_PIXELS = 1000
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload("a.png", image_bytes(size=(64, 48))), "targetFormat": "webp"},
                        format="multipart")  # fmt: skip
    job = Job.objects.get(pk=resp.json()["jobId"])
    assert job.status == JobStatus.FAILED and job.error_code == "pixel_budget", job.error_message


@pytest.mark.django_db
def test_a_starting_worker_removes_the_work_dirs_dead_workers_left(api, tmp_path):
    from pathlib import Path

    jobs = []
    for _ in range(3):
        resp = api.post("/api/v1/convert", {"file": upload("a.png", image_bytes()), "targetFormat": "webp"},
                        format="multipart")  # fmt: skip
        jobs.append(services.job_claim(resp.json()["jobId"]))
    live, dead, done = jobs
    _die_on_attempt(dead)
    Job.objects.filter(pk=done.pk).update(status=JobStatus.FAILED)
    root = Path(tmp_path / "work")
    made = {job.pk: root / f"job-{job.pk}-abc123" for job in jobs}
    for path in made.values():
        (path / "pages").mkdir(parents=True)
        (path / "pages" / "page-1.png").write_bytes(b"x" * 1000)
    (root / "not-a-job").mkdir()
    assert reconcile.remove_orphan_workdirs(root) == 2
    assert sorted(p.name for p in root.iterdir()) == sorted([made[live.pk].name, "not-a-job"])

"""Decoders of untrusted bytes run in a sandboxed child: a crash there fails the job, not the worker."""

import io
import os
import time

import pytest
from django.conf import settings
from PIL import Image, PngImagePlugin

from conversions import decoders
from conversions.engine.context import ConversionContext
from conversions.errors import ConversionFailed
from media.converters.images import ImageConverter
from tests.builders import upload


def png(marker=None, size=(40, 30)):
    info = PngImagePlugin.PngInfo()
    if marker:
        info.add_text("Comment", marker)  # early in the file, where the test hook looks
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 20, 20)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def convert(tmp_path, data, target="webp"):
    src = tmp_path / "source.png"
    src.write_bytes(data)
    ctx = ConversionContext(workdir=tmp_path, source_path=src, source_format="png", target_format=target)
    ImageConverter().convert(ctx)
    return ctx.output_path


def test_a_segfaulting_decoder_fails_clearly_and_the_next_image_converts(tmp_path):
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, png(settings.DECODER_TEST_CRASH_MARKER))
    assert err.value.code == "decoder_crashed"
    assert "crashed (SIGSEGV)" in err.value.message and str(tmp_path) not in err.value.message
    out = convert(tmp_path, png())
    with Image.open(out) as im:
        assert im.size == (40, 30)


@pytest.mark.django_db
def test_a_segfaulting_decoder_fails_its_job_and_the_worker_lives(tmp_path, api, run_jobs):
    pid = os.getpid()
    with run_jobs():
        bad = api.post("/api/v1/convert", {"file": upload("bad.png", png(settings.DECODER_TEST_CRASH_MARKER)),
                                           "targetFormat": "jpg"})
        good = api.post("/api/v1/convert", {"file": upload("good.png", png()), "targetFormat": "jpg"})
    assert bad.status_code == good.status_code == 202
    failed = api.get(f"/api/v1/status/{bad.json()['jobId']}").json()
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == "decoder_crashed"
    assert "SIGSEGV" in failed["error"]["message"]
    # The same worker process carried on with the next job.
    assert os.getpid() == pid
    assert api.get(f"/api/v1/status/{good.json()['jobId']}").json()["status"] == "succeeded"


def test_the_decoder_child_works_in_its_own_folder(tmp_path):
    """The child's folder is not the job's: only the input is linked in, only the output moved out."""
    out = convert(tmp_path, png())
    assert out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output.webp", "source.png"]
    assert not any(decoders.work_root().glob("decoder-*/source.png"))


def test_a_spare_child_is_ready_before_the_next_job(tmp_path):
    convert(tmp_path, png())
    spare = decoders.pool.spare("image")
    assert spare is not None and not spare.done.is_set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:  # listening: the FIFO has its reader, so a non-blocking writer may open it
            os.close(os.open(spare.fifo, os.O_WRONLY | os.O_NONBLOCK))
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise AssertionError("the spare never started listening")
    started = time.monotonic()
    convert(tmp_path, png())
    assert time.monotonic() - started < 2


def test_a_canceled_or_timed_out_job_kills_its_child(tmp_path, settings):
    settings.DECODER_TIMEOUT_SECONDS = 1
    src = tmp_path / "source.png"
    import pyvips

    pyvips.Image.black(12000, 12000).pngsave(str(src), compression=1)
    ctx = ConversionContext(workdir=tmp_path, source_path=src, source_format="png", target_format="webp")
    with pytest.raises(ConversionFailed) as err:
        ImageConverter().convert(ctx)
    assert err.value.code == "timeout"
    assert not any(decoders.work_root().glob("decoder-*/source.png"))


WORKER_IMPORTS = """
import sys, django
django.setup()
import convertall.urls, filters.pipeline, media.converters.images  # noqa: F401  (all a worker loads)
from conversions.engine import registry  # noqa: F401
print(sorted(m for m in ("pyvips", "PIL", "pillow_heif", "pikepdf", "fitz", "pdf2docx") if m in sys.modules))
"""


def test_web_and_worker_processes_load_no_decoder_library():
    """Pillow, pillow-heif, libvips, pikepdf and PyMuPDF live only in children."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "convertall.settings_test", "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-c", WORKER_IMPORTS], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"

"""`manage.py convert`, `purge_expired` and `requeue_stuck` on real files and rows."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from PIL import Image

from conversions.models import Job, JobStatus
from tests.builders import SVG, image_bytes, upload
from tests.media.test_images import png_header_only

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(image_bytes(size=(64, 48)))
    return path


def run_convert(*args):
    from io import StringIO

    out = StringIO()
    call_command("convert", *map(str, args), stdout=out)
    return out.getvalue()


def test_convert_writes_beside_the_input_by_default(photo):
    out = run_convert(photo, "--to", "webp")
    result = photo.with_name("photo.webp")
    with Image.open(result) as im:
        assert im.format == "WEBP" and im.size == (64, 48)
    assert f"{photo} (png) -> {result} (webp): {result.stat().st_size} bytes, pillow" in out


def test_convert_to_an_output_file_or_folder(photo, tmp_path):
    run_convert(photo, "--to", "jpeg", "-o", tmp_path / "sub" / "x.jpg")
    with Image.open(tmp_path / "sub" / "x.jpg") as im:
        assert im.format == "JPEG"
    folder = tmp_path / "out"
    folder.mkdir()
    run_convert(photo, "--to", "pdf", "--output", folder)
    assert (folder / "photo.pdf").read_bytes().startswith(b"%PDF-")


def test_convert_options_are_validated_and_applied(tmp_path):
    src = tmp_path / "noise.png"
    Image.effect_noise((200, 150), 80).convert("RGB").save(src)
    run_convert(src, "--to", "jpg", "--option", "quality=95", "-o", tmp_path / "hi.jpg")
    run_convert(src, "--to", "jpg", "--option", "quality=10", "-o", tmp_path / "lo.jpg")
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size / 2

    with pytest.raises(CommandError) as err:
        run_convert(src, "--to", "jpg", "--option", "quality=500")
    assert "'quality' must be one of smaller, balanced, best, or a whole number from 1 to 100" in str(err.value)
    assert err.value.returncode == 2
    with pytest.raises(CommandError) as err:
        run_convert(src, "--to", "jpg", "--option", "colour=red")
    assert "unknown option 'colour' (valid: quality)" in str(err.value)
    with pytest.raises(CommandError) as err:
        run_convert(src, "--to", "jpg", "--option", "quality")
    assert "key=value" in str(err.value)


def test_svg_goes_through_the_sandboxed_rasterizer(tmp_path):
    import shutil

    from tests.services import require

    require(shutil.which("rsvg-convert"), "rsvg-convert (librsvg2-bin) is not installed")
    src = tmp_path / "logo.svg"
    src.write_bytes(SVG)
    run_convert(src, "--to", "png", "--option", "width=240")
    with Image.open(tmp_path / "logo.png") as im:
        assert im.size == (240, 160)


def test_unknown_pair_lists_the_valid_targets(photo):
    with pytest.raises(CommandError) as err:
        run_convert(photo, "--to", "mp3")
    message = str(err.value)
    assert message.startswith("Cannot convert png to mp3. Valid targets for png: ")
    assert "webp" in message and "jpg" in message
    assert err.value.returncode == 2
    assert not photo.with_name("photo.mp3").exists()


def test_content_that_does_not_match_its_name_is_explained(tmp_path):
    src = tmp_path / "holiday.jpg"
    src.write_bytes(image_bytes(size=(8, 8)))  # a PNG in disguise
    with pytest.raises(CommandError) as err:
        run_convert(src, "--to", "webp")
    assert "named .jpg but its content looks like image/png" in str(err.value)
    assert "[type_mismatch]" in str(err.value)


@pytest.mark.parametrize(
    ("data", "code"),
    [(lambda: image_bytes(size=(300, 200))[:400], "invalid_image"), (lambda: png_header_only(20000, 20000), "image_too_large")],
    ids=["truncated", "pixel-bomb"],
)
def test_bad_input_fails_with_exit_1_and_no_output(tmp_path, data, code):
    src = tmp_path / "bad.png"
    src.write_bytes(data())
    with pytest.raises(CommandError) as err:
        run_convert(src, "--to", "webp")
    assert str(err.value).startswith(f"Conversion failed ({code}): ")
    assert err.value.returncode == 1
    assert not (tmp_path / "bad.webp").exists()


def test_missing_or_empty_input_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run_convert(tmp_path / "nope.png", "--to", "webp")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(CommandError, match="the file is empty"):
        run_convert(tmp_path / "empty.png", "--to", "webp")


def test_the_work_folder_is_removed(photo, settings, tmp_path):
    settings.WORK_DIR = tmp_path / "work"
    run_convert(photo, "--to", "gif")
    # `decoders/` is the decoder children's own root (a warm spare waits there), never a job's folder.
    assert [p.name for p in (tmp_path / "work").iterdir() if p.name != "decoders"] == []


def manage(*args, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "convertall.settings",
        "CONVERTALL_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",  # proves no database is touched
    }
    return subprocess.run(
        [sys.executable, "manage.py", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_manage_py_convert_in_a_subprocess(photo, tmp_path):
    proc = manage("convert", photo, "--to", "webp", "-o", tmp_path / "out.webp", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{photo} (png) -> {tmp_path / 'out.webp'} (webp): ")
    assert proc.stdout.count("\n") == 1  # only the summary: logs stay out of a script's stdout
    with Image.open(tmp_path / "out.webp") as im:
        assert im.format == "WEBP" and im.size == (64, 48)

    proc = manage("convert", photo, "--to", "docx", tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "Cannot convert png to docx. Valid targets for png:" in proc.stderr

    bad = tmp_path / "bad.png"
    bad.write_bytes(png_header_only(20000, 20000))
    proc = manage("convert", bad, "--to", "jpg", tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "Conversion failed (image_too_large)" in proc.stderr


# --- The reconciler's commands ----------------------------------------------------


@pytest.mark.django_db
def test_requeue_stuck_and_purge_expired_print_their_counts(api, run_jobs, capsys):
    resp = api.post("/api/v1/convert", {"file": upload("a.png", image_bytes()), "targetFormat": "webp"})
    lost = Job.objects.get(pk=resp.json()["jobId"])
    Job.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    call_command("requeue_stuck")
    assert "requeued 1 job(s)" in capsys.readouterr().out

    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload("b.png", image_bytes()), "targetFormat": "webp"})
    done = Job.objects.get(pk=resp.json()["jobId"])
    Job.objects.filter(pk=done.pk).update(
        created_at=timezone.now() - timedelta(hours=49), expires_at=timezone.now() - timedelta(hours=1)
    )
    call_command("purge_expired")
    assert "expired 1 job(s)" in capsys.readouterr().out
    done.refresh_from_db()
    assert done.status == JobStatus.EXPIRED

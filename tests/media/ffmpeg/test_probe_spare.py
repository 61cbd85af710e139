"""The spare ffprobe (media/ffmpeg/spare.py): same answer, same caps, same sandbox, nothing left behind."""

import os
import time
from pathlib import Path

import pytest

from conversions.engine import sandbox
from conversions.engine.context import ConversionContext
from conversions.errors import Canceled, ConversionFailed
from media.ffmpeg import probe as media_probe
from media.ffmpeg import spare as spares
from tests.media.helpers import convert
from tests.media.media_builders import claims_ten_hours


@pytest.fixture(autouse=True)
def fresh_pool(settings, tmp_path):
    settings.WORK_DIR = tmp_path / "work-root"
    settings.MEDIA_PROBE_SPARES = 2
    spares.pool.close()
    yield
    spares.pool.close()


def ctx_for(source, workdir):
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / f"source{source.suffix}"
    local.write_bytes(source.read_bytes())
    fmt = source.suffix.lstrip(".")
    return ConversionContext(workdir=workdir, source_path=local, source_format=fmt, target_format="webm")


def processes(name, marker):
    """PIDs of live `name` processes whose working directory contains `marker`."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if exe.endswith(name.encode()) and marker in cwd:
            found.append(int(entry))
    return found


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_spare_waits_at_its_gate_and_answers_as_a_cold_probe(media_dir, tmp_path):
    cold = media_probe.probe(ctx_for(media_dir / "sample.mp4", tmp_path / "a"), "mp4")
    spare = spares.pool.spare("mp4")
    assert spare is not None  # started after the first (cold) probe
    # Loaded and blocked at the gate: alive, not reading any input (there is none yet).
    assert wait_for(lambda: processes("ffprobe", str(spare.dir)) != [])
    time.sleep(0.3)
    assert not spare.done.is_set()
    assert sorted(p.name for p in spare.dir.iterdir()) == ["gate"]

    warm = media_probe.probe(ctx_for(media_dir / "sample.mp4", tmp_path / "b"), "mp4")
    assert warm == cold
    assert spare.done.is_set() and spare.result.returncode == 0
    assert not spare.dir.exists()  # the linked source and the gate went with its folder
    assert processes("ffprobe", str(spare.dir)) == []
    assert spares.pool.spare("mp4") is not spare  # the next one is already starting


def test_a_file_over_a_cap_is_refused_by_the_spare_with_the_cold_code(media_dir, tmp_path):
    liar = claims_ten_hours(tmp_path / "liar.mkv", media_dir / "sample.mkv")
    codes = []
    for n in range(2):  # cold, then warm
        with pytest.raises(ConversionFailed) as exc:
            convert(liar, "mp4", tmp_path / f"work-{n}")
        codes.append((exc.value.code, exc.value.message))
        assert not (tmp_path / f"work-{n}" / "output.mp4").exists()
    assert codes[0] == codes[1]
    assert codes[0][0] == "media_too_long" and "10:00:00" in codes[0][1]
    assert processes("ffmpeg", str(tmp_path)) == []


def test_a_damaged_file_fails_the_same_through_a_spare(media_dir, tmp_path):
    data = (media_dir / "sample.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    messages = []
    for n in range(2):
        with pytest.raises(ConversionFailed) as exc:
            media_probe.probe(ctx_for(cut, tmp_path / f"w{n}"), "mp4")
        messages.append((exc.value.code, exc.value.message))
    assert messages[0] == messages[1] and messages[0][0] == "invalid_media"


def test_a_spare_runs_in_the_sandbox_of_a_cold_probe(settings, media_dir, tmp_path):
    media_probe.probe(ctx_for(media_dir / "sample.mp4", tmp_path / "a"), "mp4")
    spare = spares.pool.spare("mp4")
    assert wait_for(lambda: processes("ffprobe", str(spare.dir)))
    (pid,) = processes("ffprobe", str(spare.dir))
    if sandbox.current().active.get("seccomp"):
        status = Path(f"/proc/{pid}/status").read_text()
        assert "NoNewPrivs:\t1" in status and "Seccomp:\t2" in status
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    address_space = next(line for line in limits if line.startswith("Max address space"))
    assert str(settings.MEDIA_MEMORY_MB * 1024 * 1024) in address_space
    cpu = next(line for line in limits if line.startswith("Max cpu time"))
    assert str(2 * settings.MEDIA_PROBE_TIMEOUT_SECONDS) in cpu


def test_a_canceled_job_kills_the_spare_it_holds(media_dir, tmp_path):
    media_probe.probe(ctx_for(media_dir / "sample.mp4", tmp_path / "a"), "mp4")
    spare = spares.pool.take("mp4", media_probe.probe_argv("mp4", "source.mp4"))
    ctx = ctx_for(media_dir / "sample.mp4", tmp_path / "b")

    def canceled():
        raise Canceled("canceled by its owner")

    ctx.tick = canceled
    assert wait_for(lambda: processes("ffprobe", str(spare.dir)))
    time.sleep(0.5)  # loaded and blocked in open() of the gate
    os.unlink(spare.dir / "gate")
    os.mkfifo(spare.dir / "gate")  # a gate ffprobe is not waiting at: it never gets past its report file
    try:
        with pytest.raises(Canceled):
            spare.run(ctx, ctx.source_path, "source.mp4")
    finally:
        spare.cleanup()
    assert spare.done.is_set()
    assert processes("ffprobe", str(spare.dir)) == []


def test_settings_change_or_zero_spares_mean_cold_probes(settings, media_dir, tmp_path):
    media_probe.probe(ctx_for(media_dir / "sample.mp4", tmp_path / "a"), "mp4")
    old = spares.pool.spare("mp4")
    settings.MEDIA_MEMORY_MB = settings.MEDIA_MEMORY_MB + 1
    media_probe.probe(ctx_for(media_dir / "sample.mp4", tmp_path / "b"), "mp4")
    assert not old.used  # never handed out: started under other limits
    assert wait_for(old.done.is_set) and not old.dir.exists()
    settings.MEDIA_PROBE_SPARES = 0
    spares.pool.close()
    media_probe.probe(ctx_for(media_dir / "sample.mp4", tmp_path / "c"), "mp4")
    assert spares.pool.spare("mp4") is None


def test_at_most_the_setting_of_spares_are_kept(media_dir, tmp_path):
    for n, fmt in enumerate(("mp4", "mkv", "webm")):
        media_probe.probe(ctx_for(media_dir / f"sample.{fmt}", tmp_path / str(n)), fmt)
    assert spares.pool.spare("mp4") is None
    assert spares.pool.spare("mkv") is not None and spares.pool.spare("webm") is not None

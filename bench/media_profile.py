"""Where one media job's time goes: the worker's parts of an mp4 -> mp3 job, timed in process.

Drives the real path (job_create, then job_execute as a worker thread does:
claim, fetch, ffprobe, caps, ffmpeg, store, finish) on SQLite and local
files, with a timer around each part, and runs the raw ffmpeg command beside
each job. Jobs run with the ffprobe spares off, then on (media/ffmpeg/spare.py),
alternating. Used by bench/media.py; needs django.setup() done.
"""

import functools
import importlib
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

# (label, module path, attribute): wrapped with a timer for the run.
PARTS = [
    ("claim (UPDATE + event row)", "conversions.jobs.services", "job_claim"),
    ("fetch the upload into the work dir", "conversions.jobs.services", "fetch_sources"),
    ("ffprobe, sandbox included", "media.converters.av", "probe"),
    ("store the output", "conversions.jobs.services", "_store_output"),
    ("finish (UPDATE + event row + status cache)", "conversions.jobs.services", "_succeed"),
    ("progress / lease writes", "conversions.jobs.heartbeat.Heartbeat", "beat"),
    ("whole job (job_execute)", "conversions.jobs.services", "job_execute"),
]
SPAWN = "ffmpeg, sandbox included"
RAW = "raw ffmpeg, same arguments"


def profile(source, target="mp3", runs=7):
    """{spares on/off: {part: median ms}} for `runs` jobs of each, interleaved."""
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    times = {False: {}, True: {}}
    _one_job(source, target, True, {})  # unmeasured: the database's first queries, the first spare started
    for run in range(2 * runs):
        warm = bool(run % 2)
        _one_job(source, target, warm, times[warm])
    return {warm: {k: statistics.median(v) * 1000 for k, v in parts.items()} for warm, parts in times.items()}


def _one_job(source, target, warm, times):
    from django.core.files.uploadedfile import TemporaryUploadedFile
    from django.test import override_settings

    from conversions.jobs import create, services

    data = source.read_bytes()
    upload = TemporaryUploadedFile(source.name, "video/mp4", len(data), None)
    upload.write(data)
    upload.seek(0)
    with override_settings(MEDIA_PROBE_SPARES=2 if warm else 0), ExitStack() as stack:
        _wrap_parts(stack, times)
        job = create.job_create(upload=upload, target_format=target, options={}, use_cache=False)
        services.job_execute(str(job.id))
    job.refresh_from_db()
    if job.status != "succeeded":
        raise RuntimeError(f"profile job {job.status}: {job.error_code} {job.error_message}")
    times.setdefault(RAW, []).append(_raw(source, target))
    time.sleep(0.3)  # the next spare's start (after the probe) is not what this measures


def _owner(where):
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError:
        module, _, name = where.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _wrap_parts(stack, times):
    from conversions.engine import runner

    for label, where, name in PARTS:
        owner = _owner(where)
        stack.enter_context(mock.patch.object(owner, name, _timed(getattr(owner, name), times, label)))
    spawn = runner._spawn

    def timed_spawn(cmd, cwd, env, timeout, on_tick, tool):
        if tool != "ffmpeg":
            return spawn(cmd, cwd, env, timeout, on_tick, tool)
        return _timed(spawn, times, SPAWN)(cmd, cwd, env, timeout, on_tick, tool)

    stack.enter_context(mock.patch.object(runner, "_spawn", timed_spawn))


def _timed(fn, times, label):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times.setdefault(label, []).append(time.perf_counter() - started)

    return wrapper


def _raw(source, target):
    from media.ffmpeg import plans
    from media.ffmpeg.probe import input_args, parse

    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         *input_args("mp4", source)], capture_output=True, text=True, check=True,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        argv = plans.audio_plan(parse(probed.stdout, "mp4"), "mp4", source, target, {}, Path(tmp) / f"o.{target}").argv
        started = time.perf_counter()
        subprocess.run(argv, check=True)
        return time.perf_counter() - started


def report(medians, runs):
    cold, warm = medians[False], medians[True]
    labels = [label for label, *_ in PARTS[:3]] + [SPAWN] + [label for label, *_ in PARTS[3:]] + [RAW]
    lines = [f"- profile of one mp4 -> mp3 job in the worker (bench/media_profile.py; medians of {runs} jobs each, "
             "ffprobe spares off -> on, interleaved):"]
    for label in labels:
        if label in cold or label in warm:
            lines.append(f"  - {label}: {_ms(cold.get(label))} -> {_ms(warm.get(label))}")
    for name, parts in (("off", cold), ("on", warm)):
        fixed = parts["whole job (job_execute)"] - parts[RAW]
        lines.append(f"  - worker's fixed cost (whole job - raw ffmpeg), spares {name}: {fixed:+.0f} ms")
    return lines + STARTUP_NOTES


# Measured once by hand (2026-12-07, Debian's ffmpeg 5.1, this machine), not by this run: why the spare.
STARTUP_NOTES = [
    "- ffprobe's own start (by hand, 2026-12-07): `ffprobe -version` costs as much as a probe of the 30 s mp4 "
    "(~70-80 ms each, unsandboxed): 215 shared libraries; `perf record`: 63% of it in ld.so (45.7% do_lookup_x), "
    "32% kernel (page faults, 952 mmap calls by `strace -c`); `LD_DEBUG=statistics`: 42,883 symbol and 395,398 "
    "relative relocations. No option or environment makes that shorter, so the spare does it ahead: "
    "ffprobe blocked at a FIFO (its FFREPORT file) with its libraries loaded answers in ~18-30 ms.",
    "- Not taken: starting ffmpeg beside the probe and killing it on a cap, since ffmpeg's arguments depend on the "
    "probe (stream indexes, copy or encode by codec, resampling below 32 kHz, GIF width, thumbnail moment). "
    "The sandbox launcher's start is ~28 ms of every tool call (bubblewrap ~9 ms, Python -I -S with ctypes "
    "the rest); it no longer imports Lib/signal.py (enum and friends, ~5 ms).",
]


def _ms(value):
    return "-" if value is None else f"{value:.1f} ms"

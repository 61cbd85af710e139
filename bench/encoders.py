"""Encoder defaults (issue 12, item 6): our default settings against each encoder's own.

Video: the 30 s 720p clip of the media section (testsrc2 + sine, H.264),
video only (`-an` on both sides), encoded with our default arguments
(media/ffmpeg/plans.py `video_encoder_args` with no options) and with
ffmpeg's defaults for the same encoder (`-c:v libvpx-vp9`, `-c:v libx264`).
Stills: a 12 MP picture made here (mandelbrot + grain), saved by our image
path (media/imaging.py `vips_save`, default quality) and by the encoders'
own command lines with no options (`cwebp`, `avifenc`). Size, SSIM against
the source (ffmpeg's ssim filter, all planes) and time: wall seconds and CPU
seconds of the encoder process; on a shared 2-core machine the CPU seconds
are the steadier of the two. Medians of BENCH_ENCODERS_RUNS (1 for video).
"""

import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.media import make_sources

RUNS = int(os.environ.get("BENCH_ENCODERS_RUNS", "1"))
STILL_RUNS = int(os.environ.get("BENCH_ENCODERS_STILL_RUNS", "3"))
TARGET_SIZE, TARGET_TIME = 1.2, 1 / 3


def timed(argv):
    """(wall s, CPU s of the child) for one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ssim(output, reference):
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(output), "-i", str(reference),
         "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"], capture_output=True, text=True, check=True,
    )
    return float(done.stderr.rsplit("All:", 1)[1].split()[0])


def ffmpeg_video(source, out, encoder_args):
    return ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(source), "-an",
            *encoder_args, str(out)]


def video_cases():
    from media.ffmpeg.plans import video_encoder_args

    return [
        ("VP9 (webm)", "webm", video_encoder_args("vp9", {}), ["-c:v", "libvpx-vp9"]),
        ("H.264 (mp4)", "mp4", video_encoder_args("h264", {}), ["-c:v", "libx264"]),
    ]


def measure_video(source, folder):
    rows = []
    for label, ext, ours, theirs in video_cases():
        sides = {"ours": ours, "default": theirs}
        results = {side: [] for side in sides}
        for run in range(RUNS):
            order = list(sides) if run % 2 == 0 else list(sides)[::-1]
            for side in order:
                out = folder / f"{side}.{ext}"
                wall, cpu = timed(ffmpeg_video(source, out, sides[side]))
                results[side].append((wall, cpu, out.stat().st_size, ssim(out, source)))
                print(f"{label} {side}: wall {wall:.1f} s cpu {cpu:.1f} s size {out.stat().st_size}", flush=True)
        rows.append((label, " ".join(ours), " ".join(theirs), {s: _medians(r) for s, r in results.items()}))
    return rows


def make_still(folder):
    png = folder / "still.png"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", "mandelbrot=size=4000x3000:end_pts=1", "-frames:v", "1",
         "-vf", "noise=alls=12:allf=t,gblur=sigma=0.6,format=rgb24", str(png)], check=True,
    )  # fmt: skip
    return png


def ours_still(png, out, target):
    """Our saver in a child process, timed inside it around the open and save (wall s, CPU s).

    The worker's decoder child is a warm spare (Python and libvips loaded
    before the job): its interpreter's start is not the job's time.
    """
    code = (
        "import sys, time, resource; from media.imaging import vips_save; from media.vips import pyvips\n"
        "cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])\n"
        "t0, c0 = time.monotonic(), cpu()\n"
        "vips_save(pyvips.Image.new_from_file(sys.argv[1], access='sequential'), sys.argv[3], None, sys.argv[2])\n"
        "print(time.monotonic() - t0, cpu() - c0)"
    )
    import sys

    done = subprocess.run([sys.executable, "-c", code, str(png), str(out), target], check=True, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
    wall, cpu = done.stdout.split()[-2:]
    return float(wall), float(cpu)


def decoded_png(path, folder):
    import pyvips

    out = folder / f"{path.stem}-decoded.png"
    pyvips.Image.new_from_file(str(path)).pngsave(str(out), compression=1)
    return out


def measure_stills(png, folder):
    cases = [
        ("WebP", "webp", lambda o: ours_still(png, o, "webp"),
         lambda o: timed(["cwebp", "-quiet", str(png), "-o", str(o)])),
        ("AVIF", "avif", lambda o: ours_still(png, o, "avif"), lambda o: timed(["avifenc", str(png), str(o)])),
    ]
    rows = []
    for label, ext, ours, theirs in cases:
        if not shutil.which({"webp": "cwebp", "avif": "avifenc"}[ext]):
            rows.append((label, "", "", None))
            continue
        sides = {"ours": ours, "default": theirs}
        results = {side: [] for side in sides}
        for run in range(STILL_RUNS):
            for side in (list(sides) if run % 2 == 0 else list(sides)[::-1]):
                out = folder / f"{side}.{ext}"
                wall, cpu = sides[side](out)
                results[side].append((wall, cpu, out.stat().st_size, ssim(decoded_png(out, folder), png)))
        rows.append((label, _describe_ours(ext), {"webp": "cwebp", "avif": "avifenc"}[ext] + " (no options)",
                     {s: _medians(r) for s, r in results.items()}))
    return rows


def _describe_ours(ext):
    from media.imaging import AVIF_EFFORT, DEFAULT_QUALITY

    return f"libvips {ext}save Q={DEFAULT_QUALITY[ext]}" + (f" effort={AVIF_EFFORT} (libaom)" if ext == "avif" else "")


def _medians(results):
    return tuple(statistics.median(r[i] for r in results) for i in range(4))


def run():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convertall.settings")
    import django

    django.setup()
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-encoders-") as tmp:
        folder = Path(tmp)
        source = make_sources(folder)["mp4"]
        rows = measure_video(source, folder)
        load.append(os.getloadavg()[0])
    return report(rows, load, "Video: the media section's 30 s 1280x720 clip, video only (stills: the stills section).")


def run_stills():
    """The stills half alone (`BENCH=stills`): minutes, where the video half takes most of an hour."""
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-stills-") as tmp:
        folder = Path(tmp)
        rows = measure_stills(make_still(folder), folder)
    load.append(os.getloadavg()[0])
    return report(rows, load, "Stills: a 4000x3000 picture (mandelbrot + grain); ours timed inside a child around "
                              "the open and save (as the warm decoder spare runs it), the encoders' CLIs as whole "
                              "processes (their PNG decode included).")


def report(rows, load, what):
    lines = [
        f"{what} ours = our default settings, default = the encoder with no options. Time as wall and CPU seconds "
        f"of the encoder; 1-minute load average {' / '.join(f'{x:.1f}' for x in load)} (start / end) "
        f"on {os.cpu_count()} cores.",
        "",
        "| encoder | side | settings | size | SSIM | wall s | CPU s | size ratio | time ratio (wall / CPU) | target |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, ours_desc, theirs_desc, sides in rows:
        if sides is None:
            lines.append(f"| {label} | - | encoder CLI not installed | | | | | | | |")
            continue
        o, d = sides["ours"], sides["default"]
        size, wall, cpu = o[2] / d[2], o[0] / d[0], o[1] / d[1]
        met = size <= TARGET_SIZE and o[3] >= d[3] and cpu <= TARGET_TIME
        verdict = "met" if met else "**missed** (" + ", ".join(
            n for n, bad in (("size", size > TARGET_SIZE), ("SSIM", o[3] < d[3]), ("time", cpu > TARGET_TIME)) if bad
        ) + ")"
        lines.append(f"| {label} | default | `{theirs_desc}` | {d[2]:,} | {d[3]:.5f} | {d[0]:.2f} | {d[1]:.2f} | | | |")
        lines.append(
            f"| {label} | ours | `{ours_desc}` | {o[2]:,} | {o[3]:.5f} | {o[0]:.2f} | {o[1]:.2f} | {size:.2f}x "
            f"| {wall:.2f} / {cpu:.2f} | <= {TARGET_SIZE}x size, >= SSIM, <= 0.33x time: {verdict} |"
        )
    return "\n".join(lines)

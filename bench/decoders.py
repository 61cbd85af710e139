"""Decoders bench: an image job with its decoder in a sandboxed child against in-process.

12-megapixel JPEG -> WebP (quality 80), medians of ROUNDS, the variants
alternating in one worker process so all see the same machine load:

- in-process, Pillow: what the worker did before decoders moved out
  (open, EXIF transpose, convert, save);
- in-process, libvips: `media.imaging.convert`, the very code the child runs;
- child, warm: `ImageConverter.convert` as a job runs it: the input linked
  into a spare decoder child started ahead of need through the runner
  (prlimit, no network), the output moved back;
- child, cold: the same with DECODER_WARM_SPARE off (a child started per job).

Target (issue 10): the child at most 1.10x the in-process time.
Run: BENCH=decoders .venv/bin/python bench/run.py
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ROUNDS = 9
VARIANTS = ("pillow", "vips", "warm", "cold")


def run():
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-decoders-") as tmp:
        tmp = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET")}
        env.update(DJANGO_SETTINGS_MODULE="convertall.settings", CONVERTALL_VAR_DIR=str(tmp / "var"),
                   LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))  # fmt: skip
        out = subprocess.run([PY, __file__, str(tmp)], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    med = {k: statistics.median(v) for k, v in figures["wall"].items()}
    names = {"pillow": "in-process, Pillow (before)", "vips": "in-process, libvips (the child's code)",
             "warm": "decoder child, warm spare", "cold": "decoder child, started per job"}
    lines = ["12 MP JPEG -> WebP (q80), median of %d rounds:" % ROUNDS,
             "", "| path | wall s | vs libvips in-process | vs Pillow in-process |", "|---|---|---|---|"]
    for key, name in names.items():
        s = med[key]
        lines.append(f"| {name} | {s:.3f} | {s / med['vips']:.2f}x | {s / med['pillow']:.2f}x |")
    ratio, before = med["warm"] / med["vips"], med["warm"] / med["pillow"]
    lines += ["", f"Target (issue 10): the child within 1.10x of in-process: {ratio:.2f}x against libvips in-process, "
              f"{before:.2f}x against the Pillow in-process path it replaced.",
              f"\nMachine load average (1 min): {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
              "other engineers' work shares its cores."]
    return "\n".join(lines) + "\n"


# --- Inside the child process ------------------------------------------------------


def _photo(path):
    from PIL import Image

    size = (4000, 3000)
    noise = Image.effect_noise(size, 40)
    ramp = Image.linear_gradient("L").resize(size)
    Image.merge("RGB", (noise, ramp, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT))).save(path, quality=90)


def _pillow(src, out):
    from PIL import Image, ImageOps

    with Image.open(src, formats=["JPEG"]) as im:
        ImageOps.exif_transpose(im).convert("RGB").save(out, "WEBP", quality=80, method=4)


def child_main(tmp):
    import django

    django.setup()
    from django.conf import settings

    from conversions.engine.context import ConversionContext
    from media import imaging
    from media.converters.images import ImageConverter

    work = Path(tmp) / "job"
    work.mkdir()
    src = work / "source.jpg"
    _photo(src)

    def job(warm):
        settings.DECODER_WARM_SPARE = warm
        ImageConverter().convert(ConversionContext(workdir=work, source_path=src, source_format="jpg",
                                                   target_format="webp"))

    steps = {
        "pillow": lambda: _pillow(src, work / "pillow.webp"),
        "vips": lambda: imaging.convert({"source": str(src), "format": "jpg", "output": str(work / "vips.webp"),
                                         "target": "webp", "max_pixels": settings.MAX_IMAGE_PIXELS}),
        "warm": lambda: job(True),
        "cold": lambda: job(False),
    }
    for step in steps.values():
        step()  # warm every path once
    times = {k: [] for k in steps}
    cpu = {k: [] for k in steps}
    for n in range(ROUNDS):
        order = VARIANTS[n % len(VARIANTS):] + VARIANTS[:n % len(VARIANTS)]
        for name in order:
            started, cpu_started = time.perf_counter(), _cpu()
            steps[name]()
            times[name].append(time.perf_counter() - started)
            cpu[name].append(_cpu() - cpu_started)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"wall": times, "cpu": cpu}))


def _cpu():
    """CPU seconds of this process and of its reaped children (a job's decoder child, when it ended)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    sys.path[0] = str(ROOT)  # not bench/: its filters.py would hide the filters package
    child_main(sys.argv[1])

"""Real photos up to 200 MP convert with bounded memory; decompression bombs fail fast.

The 108 MP photo is made by libvips itself (a streamed pattern, ~3 s). The
conversion runs in a fresh "worker" process, as a worker would run it, and
reports its own peak memory and its decoder child's (ru_maxrss), so the
numbers are this conversion's alone.
"""

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conversions.engine.context import ConversionContext
from conversions.errors import ConversionFailed
from media.converters.images import ImageConverter

ROOT = Path(__file__).resolve().parents[2]
WORKER_GROWTH_MB = 20  # the worker (Django and every converter loaded, ~160 MB) decodes no pixel itself
CHILD_PEAK_MB = 200  # libvips streaming 108 MP: strips in flight, not the 324 MB image

CONVERT_AS_A_WORKER = """
import json, resource, sys, time
import django
django.setup()
from conversions.engine.context import ConversionContext
from media.converters.images import ImageConverter
workdir, source, target = sys.argv[1:4]
ctx = ConversionContext(workdir=workdir, source_path=f"{workdir}/{source}", source_format=source.rsplit(".")[1],
                        target_format=target)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
started = time.monotonic()
ImageConverter().convert(ctx)
print(json.dumps({
    "seconds": round(time.monotonic() - started, 2),
    "worker_before_mb": before,
    "worker_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
}))
"""


def make_photo(path, width, height):
    """A JPEG of width x height with detail in every block, written as it is computed."""
    import pyvips

    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0], xy[1]
    im = (x & 255).bandjoin([y & 255, ((x + y) >> 3) & 255]).cast("uchar").copy(interpretation="srgb")
    im.jpegsave(str(path), Q=85)
    return path


@pytest.fixture(scope="module")
def photo_108mp(tmp_path_factory):
    return make_photo(tmp_path_factory.mktemp("photo") / "source.jpg", 12000, 9000)


def convert_in_a_worker(workdir, source, target):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "convertall.settings_test", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CONVERT_AS_A_WORKER, str(workdir), source.name, target],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_108_megapixel_photo_converts_with_bounded_memory(tmp_path, photo_108mp):
    import pyvips

    source = tmp_path / "source.jpg"
    os.link(photo_108mp, source)
    figures = convert_in_a_worker(tmp_path, source, "png")
    print("108 MP jpg -> png:", figures)
    out = pyvips.Image.new_from_file(str(tmp_path / "output.png"))
    assert (out.width, out.height, out.bands) == (12000, 9000, 3)
    assert figures["worker_peak_mb"] - figures["worker_before_mb"] < WORKER_GROWTH_MB, figures
    assert figures["child_peak_mb"] < CHILD_PEAK_MB, figures


def jpeg_claiming(width, height):
    """A real 16x16 JPEG whose frame header (SOF0) is patched to claim width x height."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def convert(tmp_path, src, fmt, target):
    ctx = ConversionContext(workdir=tmp_path, source_path=src, source_format=fmt, target_format=target)
    ImageConverter().convert(ctx)
    return ctx.output_path


def test_an_absurd_header_is_refused_before_decoding(tmp_path):
    src = tmp_path / "source.jpg"
    src.write_bytes(jpeg_claiming(65000, 65000))
    started = time.monotonic()
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "jpg", "png")
    assert time.monotonic() - started < 5
    assert err.value.code == "image_too_large"
    assert "(65000x65000)" in err.value.message and "210-megapixel limit" in err.value.message


@pytest.fixture(scope="module")
def zero_bomb(tmp_path_factory):
    """196 MP of zeros in a 190 KB PNG: under the pixel cap, ~600 MB once decoded whole."""
    import pyvips

    path = tmp_path_factory.mktemp("bomb") / "source.png"
    pyvips.Image.black(14000, 14000).pngsave(str(path), compression=9)
    return path


def test_a_bomb_under_the_cap_meets_the_memory_budget(tmp_path, zero_bomb, settings):
    """WebP needs the whole image at once: over the budget it fails clearly, and quickly."""
    settings.DECODER_MEMORY_MB = 400
    src = tmp_path / "source.png"
    os.link(zero_bomb, src)
    started = time.monotonic()
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "png", "webp")
    assert time.monotonic() - started < 30
    assert err.value.code == "decode_memory_exceeded", err.value.message
    assert "memory" in err.value.message and str(tmp_path) not in err.value.message


def test_a_bomb_under_the_cap_meets_the_time_budget(tmp_path, zero_bomb, settings):
    # WebP encodes the whole 196 MP at once: many seconds of work on any machine (a streamed TIFF
    # finished within the 1 s budget once the runner stopped oversleeping).
    settings.DECODER_TIMEOUT_SECONDS = 1
    src = tmp_path / "source.png"
    os.link(zero_bomb, src)
    started = time.monotonic()
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "png", "webp")
    assert time.monotonic() - started < 5
    assert err.value.code == "timeout"
    assert "did not finish within 1 seconds" in err.value.message


def test_a_photo_too_detailed_for_webp_says_what_to_do_instead():
    """libwebp's first partition (512 KB) overflows on detailed photos of ~150 MP and more: 'mux error'."""
    from media.imaging import pipeline_error

    exc = Exception("webpsave: mux error\n")
    err = pipeline_error(exc, "jpg", "webp", "/w/source.jpg", "/w/output.webp")
    assert err.code == "encode_failed" and "choose AVIF, JPG or PNG" in err.message

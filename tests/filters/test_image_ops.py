"""Every image operation on a real photo, checked by numbers."""

import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat

from conversions.models import Job
from tests.filters.conftest import open_image

pytestmark = pytest.mark.django_db


def pixels_gray(im):
    r, g, b = im.convert("RGB").split()
    return ImageChops.difference(r, g).getbbox() is None and ImageChops.difference(g, b).getbbox() is None


@pytest.mark.parametrize(
    "ops, size",
    [
        ({"op": "resize", "width": 320}, (320, 240)),
        ({"op": "resize", "height": 120}, (160, 120)),
        ({"op": "resize", "width": 200, "height": 200}, (200, 150)),
        ({"op": "resize", "width": 200, "height": 200, "fit": "cover"}, (200, 200)),
        ({"op": "resize", "width": 100, "height": 300, "fit": "fill"}, (100, 300)),
        ({"op": "resize", "width": 2000}, (640, 480)),  # no upscale by default
        ({"op": "resize", "width": 1280, "upscale": True}, (1280, 960)),
        ({"op": "crop", "x": 10, "y": 20, "width": 100, "height": 50}, (100, 50)),
        ({"op": "crop", "x": 600, "y": 400, "width": 100, "height": 100}, (40, 80)),  # clamped to the image
        ({"op": "rotate", "degrees": 90}, (480, 640)),
        ({"op": "rotate", "degrees": -180}, (640, 480)),
    ],
)
def test_geometry(submit, tmp_path, ops, size):
    status, out = submit.run("photo.jpg", [ops], "png", tmp_path=tmp_path)
    assert open_image(out).size == size
    assert status["kind"] == "filter" and status["targetFormat"] == "png"


def test_rotate_any_angle_grows_the_canvas(submit, tmp_path):
    _, out = submit.run("photo.png", [{"op": "rotate", "degrees": 30}], tmp_path=tmp_path)
    w, h = open_image(out).size
    assert abs(w - (640 * 0.866 + 480 * 0.5)) <= 2 and abs(h - (640 * 0.5 + 480 * 0.866)) <= 2


def test_rotate_90_moves_the_top_left_corner_to_the_top_right(submit, tmp_path):
    src = Image.open(submit.samples / "photo.png").convert("RGB")
    _, out = submit.run("photo.png", [{"op": "rotate", "degrees": 90}], tmp_path=tmp_path)
    im = open_image(out).convert("RGB")
    assert im.getpixel((im.width - 1, 0)) == src.getpixel((0, 0))


@pytest.mark.parametrize("direction, probe", [("horizontal", lambda w, h: (w - 1, 0)), ("vertical", lambda w, h: (0, h - 1))])
def test_flip(submit, tmp_path, direction, probe):
    src = Image.open(submit.samples / "photo.png").convert("RGB")
    _, out = submit.run("photo.png", [{"op": "flip", "direction": direction}], tmp_path=tmp_path)
    im = open_image(out).convert("RGB")
    assert im.getpixel(probe(*im.size)) == src.getpixel((0, 0))


def test_grayscale_makes_every_pixel_gray(submit, tmp_path):
    _, out = submit.run("photo.jpg", [{"op": "grayscale"}], "png", tmp_path=tmp_path)
    im = open_image(out)
    assert im.mode == "L" or pixels_gray(im)
    assert not pixels_gray(Image.open(submit.samples / "photo.png"))


def test_blur_lowers_detail_and_sharpen_raises_it(submit, tmp_path):
    def detail(path):
        edges = open_image(path).convert("L").filter(ImageFilter.FIND_EDGES)
        return ImageStat.Stat(edges).mean[0]

    _, plain = submit.run("photo.png", [{"op": "resize", "width": 320}], tmp_path=tmp_path)
    _, blurred = submit.run("photo.png", [{"op": "resize", "width": 320}, {"op": "blur", "sigma": 4}], tmp_path=tmp_path)
    _, sharp = submit.run("photo.png", [{"op": "resize", "width": 320}, {"op": "sharpen", "sigma": 2}], tmp_path=tmp_path)
    assert detail(blurred) < detail(plain) < detail(sharp)


def test_adjust_brightness_contrast_saturation(submit, tmp_path):
    src = ImageStat.Stat(Image.open(submit.samples / "photo.png").convert("L")).mean[0]
    _, dark = submit.run("photo.png", [{"op": "adjust", "brightness": 0.5}], tmp_path=tmp_path)
    assert abs(ImageStat.Stat(open_image(dark).convert("L")).mean[0] - src * 0.5) < 3
    _, flat = submit.run("photo.png", [{"op": "adjust", "saturation": 0, "contrast": 1.0}], tmp_path=tmp_path)
    hsv = open_image(flat).convert("RGB").convert("HSV")
    assert ImageStat.Stat(hsv).mean[1] < 3  # no colour left


def test_watermark_changes_only_its_corner(submit, tmp_path):
    src = Image.open(submit.samples / "photo.png").convert("RGB")
    _, out = submit.run("photo.png", [{"op": "watermark", "text": "© Convert-All", "position": "bottom-right", "opacity": 0.9}], tmp_path=tmp_path)
    im = open_image(out).convert("RGB")
    assert im.size == src.size
    diff = [abs(a - b) for a, b in zip(im.tobytes(), src.tobytes())]
    w = src.width * 3
    rows = [sum(diff[y * w:(y + 1) * w]) for y in range(src.height)]
    assert sum(rows[: src.height // 2]) == 0  # top half untouched
    assert sum(rows[src.height // 2:]) > 1000  # the text is there


def test_strip_metadata_removes_exif(submit, tmp_path):
    assert Image.open(submit.samples / "photo.jpg").getexif().get(0x0131) == "filters-test"
    _, kept = submit.run("photo.jpg", [{"op": "resize", "width": 320}], tmp_path=tmp_path)
    assert open_image(kept).getexif().get(0x0131) == "filters-test"
    _, out = submit.run("photo.jpg", [{"op": "strip_metadata"}], tmp_path=tmp_path)
    assert len(open_image(out).getexif()) == 0


@pytest.mark.parametrize("target", ["jpg", "webp", "png"])
def test_compress_to_max_bytes(submit, tmp_path, target):
    _, out = submit.run("photo.png", [{"op": "compress", "max_bytes": 12_000}], target, tmp_path=tmp_path)
    assert out.stat().st_size <= 12_000
    assert open_image(out).format == {"jpg": "JPEG", "webp": "WEBP", "png": "PNG"}[target]


def test_compress_quality_makes_smaller_files(submit, tmp_path):
    _, high = submit.run("photo.png", [{"op": "compress", "quality": 95}], "jpg", tmp_path=tmp_path)
    _, low = submit.run("photo.png", [{"op": "compress", "quality": 20}], "jpg", tmp_path=tmp_path)
    assert low.stat().st_size < high.stat().st_size * 0.6


def test_a_chain_of_five_operations(submit, tmp_path):
    ops = [
        {"op": "crop", "x": 0, "y": 0, "width": 600, "height": 400},
        {"op": "resize", "width": 300},
        {"op": "rotate", "degrees": 90},
        {"op": "grayscale"},
        {"op": "compress", "quality": 70},
    ]
    status, out = submit.run("photo.jpg", ops, "webp", tmp_path=tmp_path)
    im = open_image(out)
    assert im.format == "WEBP" and im.size == (200, 300)
    r, g, b = im.convert("RGB").split()
    assert max(ImageChops.difference(r, g).getextrema()[1], ImageChops.difference(g, b).getextrema()[1]) <= 4
    job = Job.objects.get(pk=status["jobId"])
    assert [o["op"] for o in job.operations] == ["crop", "resize", "rotate", "grayscale", "compress"]
    assert job.family == "filters" and job.progress == 100


def test_bmp_source_and_ico_target(submit, tmp_path):
    Image.open(submit.samples / "photo.png").save(submit.samples / "photo.bmp")
    _, out = submit.run("photo.bmp", [{"op": "resize", "width": 64}], "ico", tmp_path=tmp_path)
    assert open_image(out).format == "ICO"

"""Every image pair on real files, plus the image family's safety rules.

Sources are made by Pillow / pillow-heif / hand-written SVG; outputs are
opened again and checked (format, size, mode, a pixel where it matters).
"""

import http.server
import io
import shutil
import struct
import threading
import time
import zlib
from pathlib import Path

import pypdf
import pytest
from PIL import Image

from conversions.engine.context import ConversionContext
from conversions.errors import ConversionFailed
from conversions.engine.registry import registry
from media import imaging
from media.converters import images
from tests.services import require

W, H = 40, 30
RED, WHITE, GREEN = (220, 20, 20), (255, 255, 255), (0, 200, 0)
PIL_NAMES = {**images.PIL_FORMATS, "heic": "HEIF"}
# What each target stores for a source with transparency (RGB sources: no alpha).
MODES_WITH_ALPHA = {"png": {"RGBA", "P"}, "jpg": {"RGB"}, "webp": {"RGBA"}, "gif": {"P"}, "bmp": {"RGB"},
                    "tiff": {"RGBA"}, "ico": {"RGBA"}, "avif": {"RGBA"}}
MODES_OPAQUE = {"png": {"RGB"}, "jpg": {"RGB"}, "webp": {"RGB"}, "gif": {"P"}, "bmp": {"RGB"},
                "tiff": {"RGB"}, "ico": {"RGB", "RGBA"}, "avif": {"RGB"}}
OPAQUE_SOURCES = {"jpg", "bmp"}

SVG_HALF_CLEAR = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">
  <rect x="{W // 2}" y="0" width="{W // 2}" height="{H}" fill="rgb{RED}"/>
</svg>"""


def half_clear(mode="RGBA"):
    """Left half fully transparent, right half opaque red (or white|red when opaque)."""
    im = Image.new("RGBA", (W, H), RED + (255,))
    im.paste((0, 0, 0, 0), (0, 0, W // 2, H))
    return im if mode == "RGBA" else imaging.flatten(im)


def make_source(tmp_path, fmt):
    path = tmp_path / f"source.{fmt}"
    if fmt == "svg":
        path.write_text(SVG_HALF_CLEAR)
        return path
    if fmt == "heic":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    im = half_clear("RGB" if fmt in OPAQUE_SOURCES else "RGBA")
    extra = {"sizes": [(W, H)]} if fmt == "ico" else {}
    if fmt in ("webp", "avif"):
        extra["lossless"] = True
    im.save(path, format=PIL_NAMES[fmt], **extra)
    return path


def convert(tmp_path, src_path, source, target, options=None):
    converter = registry.find(source, target)
    assert converter is not None, f"{source} -> {target} is not registered"
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    # As in job_execute: the source sits in the job's private folder.
    if src_path.parent != workdir:
        src_path = Path(shutil.copy(src_path, workdir / f"source.{source}"))
    ctx = ConversionContext(
        workdir=workdir, source_path=src_path, source_format=source, target_format=target, options=options or {}
    )
    result = converter.convert(ctx)
    return result or ctx.output_path


def image_pairs():
    pairs = [(s, t) for s in images.RASTER_SOURCES for t in images.TARGETS if s != t]
    return pairs + [("svg", t) for t in images.TARGETS]


def close(a, b, tolerance=40):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


@pytest.mark.parametrize(("source", "target"), image_pairs(), ids=lambda v: v)
def test_every_image_pair_converts(tmp_path, source, target):
    if source == "svg":
        require(shutil.which("rsvg-convert"), "rsvg-convert (librsvg2-bin) is not installed")
    out = convert(tmp_path, make_source(tmp_path, source), source, target)
    assert out.exists() and out.stat().st_size > 0
    if target == "pdf":
        reader = pypdf.PdfReader(out)
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (W, H)
        return
    with Image.open(out) as im:
        assert im.format == images.PIL_FORMATS[target]
        assert im.size == (W, H)
        has_alpha = source not in OPAQUE_SOURCES
        expected = (MODES_WITH_ALPHA if has_alpha else MODES_OPAQUE)[target]
        assert im.mode in expected, (im.mode, expected)
        rgba = im.convert("RGBA")
        # The opaque half stays red whatever the format.
        assert close(rgba.getpixel((W * 3 // 4, H // 2))[:3], RED), rgba.getpixel((W * 3 // 4, H // 2))
        left = rgba.getpixel((W // 4, H // 2))
        if has_alpha and target in ("jpg", "bmp"):
            assert close(left[:3], WHITE) and left[3] == 255, left
        elif has_alpha:
            assert left[3] == 0, left
        else:
            assert close(left[:3], WHITE), left


@pytest.mark.parametrize("source", ["png", "webp", "gif", "tiff", "avif", "heic", "svg"])
def test_alpha_is_flattened_on_white_for_jpg(tmp_path, source):
    if source == "svg":
        require(shutil.which("rsvg-convert"), "rsvg-convert (librsvg2-bin) is not installed")
    out = convert(tmp_path, make_source(tmp_path, source), source, "jpg")
    with Image.open(out) as im:
        assert im.mode == "RGB"
        assert close(im.getpixel((2, 2)), WHITE, 8), im.getpixel((2, 2))
        assert close(im.getpixel((W - 3, H - 3)), RED), im.getpixel((W - 3, H - 3))


def test_semi_transparent_pixels_are_blended_on_white(tmp_path):
    src = tmp_path / "half.png"
    Image.new("RGBA", (W, H), (0, 0, 0, 128)).save(src)
    with Image.open(convert(tmp_path, src, "png", "jpg")) as im:
        assert close(im.getpixel((5, 5)), (127, 127, 127), 6)


def test_exif_orientation_is_applied(tmp_path):
    """Orientation 6: the stored image must turn 90 degrees clockwise to display."""
    src = tmp_path / "phone.jpg"
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    im.paste(RED, (0, 0, 20, 20))  # left half red: after the turn it is the top half
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(src, exif=exif, quality=95)
    for target in ("png", "webp"):
        with Image.open(convert(tmp_path, src, "jpg", target)) as out:
            assert out.size == (20, 40)
            assert close(out.convert("RGB").getpixel((10, 5)), RED)
            assert close(out.convert("RGB").getpixel((10, 35)), (0, 0, 255))
            assert out.getexif().get(0x0112) in (None, 1)


def animated_gif(path, colors=((255, 0, 0), (0, 255, 0), (0, 0, 255)), durations=(100, 200, 300)):
    frames = [Image.new("RGB", (W, H), c) for c in colors]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=list(durations), loop=0)
    return path


def frames_and_durations(path):
    out = []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            im.load()
            out.append((im.convert("RGB").getpixel((5, 5)), im.info.get("duration")))
    return out


def test_animated_gif_to_webp_keeps_frames_and_timing(tmp_path):
    src = animated_gif(tmp_path / "anim.gif")
    out = convert(tmp_path, src, "gif", "webp")
    frames = frames_and_durations(out)
    assert len(frames) == 3
    assert [d for _, d in frames] == [100, 200, 300]
    for (color, _), want in zip(frames, [(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        assert close(color, want)


def test_animated_webp_to_gif_keeps_frame_durations(tmp_path):
    webp = convert(tmp_path, animated_gif(tmp_path / "anim.gif", durations=(120, 240, 360)), "gif", "webp")
    src = tmp_path / "anim.webp"
    webp.rename(src)
    frames = frames_and_durations(convert(tmp_path, src, "webp", "gif"))
    assert [d for _, d in frames] == [120, 240, 360]


def test_multi_frame_tiff_becomes_pages_and_frames(tmp_path):
    src = tmp_path / "scan.tiff"
    pages = [Image.new("RGB", (W, H), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    pages[0].save(src, save_all=True, append_images=pages[1:])
    assert len(pypdf.PdfReader(convert(tmp_path, src, "tiff", "pdf")).pages) == 3
    assert len(frames_and_durations(convert(tmp_path, src, "tiff", "gif"))) == 3
    # A single-frame target takes the first page.
    assert frames_and_durations(convert(tmp_path, src, "tiff", "png")) == [((255, 0, 0), None)]


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    src = tmp_path / "deep.png"
    Image.new("I;16", (W, H), 32768).save(src)
    for target in ("jpg", "webp"):
        with Image.open(convert(tmp_path, src, "png", target)) as im:
            assert abs(im.convert("L").getpixel((5, 5)) - 128) <= 4


def test_large_image_to_ico_is_scaled_to_256(tmp_path):
    src = tmp_path / "big.png"
    Image.new("RGB", (600, 300), RED).save(src)
    with Image.open(convert(tmp_path, src, "png", "ico")) as im:
        assert im.size == (256, 128)


def png_header_only(width, height):
    """A PNG that claims width x height but holds almost no pixel data."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(20000, 20000), (16000, 14000), (1_000_000, 1_000_000)])
def test_pixel_cap_refuses_before_decoding(tmp_path, size):
    src = tmp_path / "bomb.png"
    src.write_bytes(png_header_only(*size))
    started = time.monotonic()
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "png", "webp")
    assert time.monotonic() - started < 5  # the header alone (a decode would take far longer), even on a busy machine
    assert err.value.code == "image_too_large"
    assert "210-megapixel limit" in err.value.message
    assert not (tmp_path / "work" / "output.webp").exists()


def test_pixel_cap_follows_the_setting(tmp_path, settings):
    settings.MAX_IMAGE_PIXELS = 1000
    src = tmp_path / "small.png"
    Image.new("RGB", (W, H), RED).save(src)
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "png", "jpg")
    assert err.value.code == "image_too_large"
    assert f"({W}x{H})" in err.value.message and "0.001-megapixel" in err.value.message


def test_pixel_cap_applies_to_every_tiff_frame(tmp_path, settings):
    """Frame 0 passes the header check; a larger later frame must not slip through."""
    settings.MAX_IMAGE_PIXELS = 2000
    src = tmp_path / "sneaky.tiff"
    Image.new("RGB", (W, H), RED).save(src, save_all=True, append_images=[Image.new("RGB", (100, 100))])
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "tiff", "pdf")
    assert err.value.code == "image_too_large"
    assert "(100x100)" in err.value.message


def test_animation_total_pixels_are_capped(tmp_path, settings):
    settings.MAX_IMAGE_PIXELS = W * H
    src = animated_gif(tmp_path / "long.gif", colors=[(i * 40, 0, 0) for i in range(6)], durations=[50] * 6)
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "gif", "webp")
    assert err.value.code == "image_too_large" and "frames add up" in err.value.message


@pytest.fixture
def rsvg():
    require(shutil.which("rsvg-convert"), "rsvg-convert (librsvg2-bin) is not installed")


@pytest.mark.parametrize(
    ("attrs", "options"),
    [('width="30000" height="30000"', {}), ('width="200in" height="200in"', {}), ('viewBox="0 0 10 1000"', {"width": 10000})],
)
def test_svg_over_the_cap_is_refused_before_rasterizing(tmp_path, rsvg, attrs, options):
    src = tmp_path / "huge.svg"
    src.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}><rect width="5" height="5"/></svg>')
    started = time.monotonic()
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "svg", "png", options)
    assert err.value.code == "image_too_large"
    assert time.monotonic() - started < 0.5
    assert not (tmp_path / "work" / "raster.png").exists()


def test_svg_width_option_scales_keeping_aspect(tmp_path, rsvg):
    with Image.open(convert(tmp_path, make_source(tmp_path, "svg"), "svg", "webp", {"width": 200})) as im:
        assert im.size == (200, 150)


class Recorder(http.server.BaseHTTPRequestHandler):
    hits = []
    body = b""

    def do_GET(self):
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def green_server():
    """A loopback HTTP server that serves a green PNG and records every request."""
    import io

    buf = io.BytesIO()
    Image.new("RGB", (10, 10), GREEN).save(buf, "PNG")
    Recorder.body, Recorder.hits = buf.getvalue(), []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def svg_with_images(*hrefs):
    tags = "".join(
        f'<image x="{i * 10}" y="0" width="10" height="10" href="{h}" xlink:href="{h}"/>' for i, h in enumerate(hrefs)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="50" height="10">'
        f'<rect width="50" height="10" fill="white"/>{tags}</svg>'
    )


@pytest.mark.parametrize("isolated", [True, False], ids=["namespaces", "no-namespace"])
def test_svg_external_references_are_not_fetched(tmp_path, rsvg, green_server, settings, isolated):
    """file:, http: and ../ references stay empty, with or without the network namespace."""
    from conversions.engine import sandbox

    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (10, 10), GREEN).save(outside / "secret.png")
    (tmp_path / "work").mkdir()
    src = tmp_path / "work" / "source.svg"
    Image.new("RGB", (10, 10), GREEN).save(tmp_path / "work" / "inside.png")
    refs = [f"file://{outside}/secret.png", f"{green_server}/x.png", "../outside/secret.png", "file:///etc/passwd"]
    # The last one, a file beside the SVG, is the control: it shows images do load.
    src.write_text(svg_with_images(*refs, "inside.png"))
    settings.SANDBOX_NAMESPACES = isolated
    sandbox.reset()
    try:
        out = convert(tmp_path, src, "svg", "png")
    finally:
        sandbox.reset()
    assert Recorder.hits == []
    with Image.open(out) as im:
        rgb = im.convert("RGB")
        for x in (5, 15, 25, 35):
            assert not close(rgb.getpixel((x, 5)), GREEN), (x, rgb.getpixel((x, 5)))
        assert close(rgb.getpixel((45, 5)), GREEN)


@pytest.mark.parametrize("fmt", ["png", "jpg", "gif", "webp", "tiff"])
def test_a_truncated_image_is_bad_input_not_a_crash(tmp_path, fmt):
    """Pixels decode lazily: the failure must still be ConversionFailed (never retried)."""
    full = tmp_path / f"full.{fmt}"
    Image.effect_noise((300, 200), 64).convert("RGB").save(full, format=PIL_NAMES[fmt])
    data = full.read_bytes()
    src = tmp_path / f"cut.{fmt}"
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, fmt, "png" if fmt != "png" else "jpg")
    assert err.value.code == "invalid_image"
    assert str(tmp_path) not in err.value.message


def test_garbage_with_a_valid_signature_is_refused_without_paths(tmp_path):
    src = tmp_path / "fake.jpg"
    src.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    with pytest.raises(ConversionFailed) as err:
        convert(tmp_path, src, "jpg", "png")
    assert err.value.code == "invalid_image"
    assert err.value.message == "The JPG image could not be read: it is not a valid image of that type."


def test_svg_xinclude_cannot_read_files_outside_its_folder(tmp_path, rsvg):
    """XInclude of /etc/passwd or ../ renders nothing; a file beside the SVG (control) renders text."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "beside.txt").write_text("VISIBLE TEXT")
    (tmp_path / "outside.txt").write_text("SECRET TEXT")

    def darkest(href):
        src = work / "source.svg"
        src.write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude" width="300" height="40">'
            '<rect width="300" height="40" fill="white"/><text x="5" y="25" font-size="16" fill="black">'
            f'<xi:include href="{href}" parse="text"/></text></svg>'
        )
        with Image.open(convert(tmp_path, src, "svg", "png")) as im:
            return im.convert("L").getextrema()[0]

    assert darkest("/etc/passwd") == 255
    assert darkest("file:///etc/passwd") == 255
    assert darkest("../outside.txt") == 255
    assert darkest("beside.txt") < 128


def test_colour_profile_is_kept_when_the_colour_space_is(tmp_path):
    from PIL import ImageCms

    # An RGB profile (libvips drops a profile whose colour space does not fit the pixels).
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "p3.jpg"
    Image.new("RGB", (W, H), RED).save(src, icc_profile=icc)
    for target in ("png", "webp", "tiff", "avif", "jpg"):
        source = "png" if target == "jpg" else "jpg"
        path = src
        if target == "jpg":
            path = tmp_path / "p3.png"
            Image.new("RGBA", (W, H), RED + (255,)).save(path, icc_profile=icc)
        with Image.open(convert(tmp_path, path, source, target)) as im:
            assert im.info.get("icc_profile") == icc, target
    # A CMYK profile must not be pasted onto the RGB result.
    cmyk = tmp_path / "print.jpg"
    Image.new("CMYK", (W, H), (0, 255, 255, 0)).save(cmyk, icc_profile=icc)
    with Image.open(convert(tmp_path, cmyk, "jpg", "png")) as im:
        assert "icc_profile" not in im.info


@pytest.mark.django_db
@pytest.mark.parametrize("source", [*images.RASTER_SOURCES, "svg"])
def test_every_image_source_is_recognised_through_the_api(tmp_path, api, run_jobs, source):
    """libmagic must name each source as its extension says, or the upload is a 415."""
    from tests.builders import upload

    if source == "svg":
        require(shutil.which("rsvg-convert"), "rsvg-convert (librsvg2-bin) is not installed")
    data = make_source(tmp_path, source).read_bytes()
    target = "jpg" if source == "png" else "png"
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload(f"pic.{source}", data), "targetFormat": target})
    assert resp.status_code == 202, resp.json()
    status = api.get(f"/api/v1/status/{resp.json()['jobId']}").json()
    assert status["status"] == "succeeded", status
    assert status["sourceFormat"] == source
    download = api.get(f"/api/v1/download/{resp.json()['jobId']}")
    with Image.open(io.BytesIO(b"".join(download.streaming_content))) as im:
        assert im.format == images.PIL_FORMATS[target] and im.size == (W, H)


@pytest.mark.django_db
@pytest.mark.parametrize(("filename", "source"), [("a.jpeg", "jpg"), ("b.TIF", "tiff"), ("c.heif", "heic"), ("d.JPG", "jpg")])
def test_extension_aliases_are_accepted(tmp_path, api, run_jobs, filename, source):
    from tests.builders import upload

    data = make_source(tmp_path, source).read_bytes()
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload(filename, data), "targetFormat": "webp"})
    assert resp.status_code == 202, resp.json()
    assert api.get(f"/api/v1/status/{resp.json()['jobId']}").json()["status"] == "succeeded"


def test_a_small_cap_does_not_leak_into_pillows_global_limit(tmp_path, settings):
    """Other Pillow users in the process (filters, thumbnails) keep Pillow's own limit."""
    before = Image.MAX_IMAGE_PIXELS
    settings.MAX_IMAGE_PIXELS = 1000
    src = tmp_path / "small.png"
    Image.new("RGB", (W, H), RED).save(src)
    with pytest.raises(ConversionFailed):
        convert(tmp_path, src, "png", "jpg")
    assert Image.MAX_IMAGE_PIXELS == before

"""More image formats: header bombs and damaged files fail in the decoder child; one upload through the API."""

import io
import struct

import pytest
from PIL import Image

from conversions.errors import ConversionFailed

from .builders import make_psd
from .helpers import api_convert, convert
from .samples import gradient


def test_a_psd_claiming_a_gigapixel_is_refused_from_its_header(tmp_path):
    psd = make_psd(tmp_path / "small.psd", gradient())
    data = bytearray(psd.read_bytes())
    struct.pack_into(">II", data, 14, 30000, 30000)  # height, width: 900 MP
    bomb = tmp_path / "bomb.psd"
    bomb.write_bytes(bytes(data))
    with pytest.raises(ConversionFailed) as err:
        convert(bomb, "png", tmp_path / "work")
    assert err.value.code == "image_too_large"


def test_a_truncated_jpeg_2000_fails_as_an_invalid_image(tmp_path):
    buf = io.BytesIO()
    gradient((256, 256)).save(buf, "JPEG2000")
    cut = tmp_path / "cut.jp2"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(ConversionFailed) as err:
        convert(cut, "png", tmp_path / "work")
    assert err.value.code in ("invalid_image", "decoder_crashed")
    assert str(tmp_path) not in str(err.value)


def test_random_bytes_named_jxl_fail_as_an_invalid_image(tmp_path):
    bad = tmp_path / "bad.jxl"
    bad.write_bytes(b"\xff\x0a" + bytes(range(256)) * 4)
    with pytest.raises(ConversionFailed) as err:
        convert(bad, "jpg", tmp_path / "work")
    assert err.value.code == "invalid_image"


def test_a_png_becomes_lossless_jpeg_xl_with_the_same_pixels(tmp_path):
    import pyvips

    src = tmp_path / "in.png"
    gradient().save(src)
    out, _ = convert(src, "jxl", tmp_path / "work")
    vim = pyvips.Image.new_from_file(str(out))
    back = Image.frombuffer("RGB", (vim.width, vim.height), vim.write_to_memory(), "raw")
    assert back.tobytes() == gradient().tobytes()


@pytest.mark.django_db
def test_a_tga_upload_becomes_heic_through_the_api(api, run_jobs, tmp_path):
    buf = io.BytesIO()
    gradient().save(buf, "TGA")
    status, data = api_convert(api, run_jobs, "sprite.tga", buf.getvalue(), "heic")
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"] == "sprite.heic"
    from pillow_heif import open_heif

    assert open_heif(io.BytesIO(data)).size == (64, 48)


@pytest.mark.django_db
def test_postscript_is_never_accepted(api):
    from tests.builders import upload

    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    resp = api.post("/api/v1/convert", {"file": upload("logo.eps", eps), "targetFormat": "png"}, format="multipart")
    assert resp.status_code in (400, 415), resp.content

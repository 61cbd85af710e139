"""pillow-heif keeps its own libheif when libvips is loaded too (media/vips.py)."""

import subprocess
import sys

from django.conf import settings

VERSION = "import pillow_heif; print(pillow_heif.libheif_info()['libheif'])"


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=settings.BASE_DIR, check=True)
    return out.stdout.strip()


def test_the_image_modules_leave_pillow_heif_its_bundled_libheif():
    bundled = _run(VERSION)
    assert _run("import media.imaging_more, filters.image_pixels; " + VERSION) == bundled


def test_a_heic_written_and_read_beside_libvips_round_trips(tmp_path):
    code = (
        "import sys; from media.vips import pyvips; import pillow_heif; from PIL import Image; "
        "pillow_heif.from_pillow(Image.new('RGB', (64, 48), 'red')).save(sys.argv[1]); "
        "print(pillow_heif.open_heif(sys.argv[1]).size, pyvips.Image.new_from_file(sys.argv[1]).width)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.heic")], capture_output=True, text=True,
                         cwd=settings.BASE_DIR, check=True)
    assert out.stdout.strip() == "(64, 48) 64"

"""One small, real sample of every source format, made by real tools on demand.

`Samples.get(fmt)` builds the sample the first time a pair needs it and keeps
it for the session: one sample per source format, shared by all its pairs.
Documents come from tests/documents_fixtures (pandoc and a cold LibreOffice),
audio and video from tests/media/media_builders (ffmpeg's lavfi sources),
images from Pillow and pillow-heif. Every sample that carries text carries
the word MARKER, so each output can be checked for it.
A format with no builder here fails the catalog test: every offered pair
needs a sample.
"""

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests import documents_fixtures
from tests.media import media_builders

from . import builders

MARKER = "heron"
IMAGE_SIZE = (64, 48)
MEDIA_SECONDS = 1.0


@dataclass
class Sample:
    path: Path
    fmt: str
    text: bool = False  # carries MARKER as text
    size: tuple | None = None  # pixel size of an image sample
    seconds: float | None = None  # duration of a media sample
    extra: dict = field(default_factory=dict)


class MissingSample(Exception):
    pass


def gradient(size=IMAGE_SIZE, mode="RGB"):
    from PIL import Image

    w, h = size
    im = Image.new("RGB", size)
    im.putdata([(x * 255 // w, y * 255 // h, 128) for y in range(h) for x in range(w)])
    return im.convert(mode) if mode != "RGB" else im


PILLOW_SAVE = {
    "png": ("PNG", {}),
    "jpg": ("JPEG", {"quality": 90}),
    "webp": ("WEBP", {"quality": 90}),
    "gif": ("GIF", {}),
    "bmp": ("BMP", {}),
    "tiff": ("TIFF", {}),
    "ico": ("ICO", {"sizes": [IMAGE_SIZE]}),
    "avif": ("AVIF", {"quality": 80}),
    "jp2": ("JPEG2000", {}),
    "tga": ("TGA", {}),
    "ppm": ("PPM", {}),
    "pcx": ("PCX", {}),
    "qoi": ("QOI", {}),
}
GREY_SAVE = {"pgm": "L", "pbm": "1"}

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48" viewBox="0 0 64 48">'
    '<rect width="64" height="48" fill="#3a6"/><circle cx="32" cy="24" r="16" fill="#fc0"/></svg>'
)

DOCUMENT_FORMATS = {
    "docx", "doc", "odt", "rtf", "txt", "html", "md", "rst", "org", "textile", "mediawiki", "tex", "epub",
    "pptx", "ppt", "odp", "xlsx", "xls", "ods", "csv", "pdf",
}


class Samples:
    def __init__(self, root):
        self.root = Path(root)
        self._cache = {}
        self._documents = None
        self._media = None

    def get(self, fmt):
        if fmt not in self._cache:
            builder = getattr(self, f"_build_{fmt}", None) or self._generic(fmt)
            if builder is None:
                raise MissingSample(f"no sample builder for source format {fmt!r}: add one to tests/catalog/samples.py")
            self._cache[fmt] = builder()
        return self._cache[fmt]

    def _generic(self, fmt):
        if fmt in PILLOW_SAVE:
            return lambda: self._pillow(fmt)
        if fmt in DOCUMENT_FORMATS:
            return lambda: self._document(fmt)
        if fmt in media_builders.VIDEO_SAMPLES or fmt in media_builders.AUDIO_SAMPLES or fmt == "amr":
            return lambda: self._media_sample(fmt)
        return None

    def path(self, name):
        return self.root / name

    # Images

    def _pillow(self, fmt):
        pil, kwargs = PILLOW_SAVE[fmt]
        path = self.path(f"sample.{fmt}")
        gradient().save(path, pil, **kwargs)
        return Sample(path, fmt, size=IMAGE_SIZE)

    def _animation(self, fmt, pil):
        from PIL import ImageOps

        path = self.path(f"sample.{fmt}")
        frames = [gradient(), ImageOps.invert(gradient()), ImageOps.mirror(gradient())]
        frames[0].save(path, pil, save_all=True, append_images=frames[1:], duration=100, loop=0)
        return Sample(path, fmt, size=IMAGE_SIZE, extra={"frames": 3})

    def _build_gif(self):
        return self._animation("gif", "GIF")

    def _build_apng(self):
        return self._animation("apng", "PNG")

    def _build_pgm(self):
        return self._grey("pgm")

    def _build_pbm(self):
        return self._grey("pbm")

    def _grey(self, fmt):
        path = self.path(f"sample.{fmt}")
        gradient(mode=GREY_SAVE[fmt]).save(path, "PPM")
        return Sample(path, fmt, size=IMAGE_SIZE)

    def _build_jxl(self):
        import pyvips

        path = self.path("sample.jxl")
        im = gradient()
        pyvips.Image.new_from_memory(im.tobytes(), im.width, im.height, 3, "uchar").jxlsave(str(path), lossless=True)
        return Sample(path, "jxl", size=IMAGE_SIZE)

    def _build_psd(self):
        return Sample(builders.make_psd(self.path("sample.psd"), gradient()), "psd", size=IMAGE_SIZE)

    def _build_heic(self):
        from pillow_heif import from_pillow

        path = self.path("sample.heic")
        from_pillow(gradient()).save(path, quality=80)
        return Sample(path, "heic", size=IMAGE_SIZE)

    def _build_svg(self):
        path = self.path("sample.svg")
        path.write_text(SVG)
        return Sample(path, "svg", size=IMAGE_SIZE)

    # Documents

    def _document(self, fmt):
        if self._documents is None:
            folder = self.path("documents")
            folder.mkdir()
            self._documents = documents_fixtures.build_documents(folder)
        return Sample(self._documents[fmt], fmt, text=True)

    def _ebook(self, fmt):
        epub = self.get("epub").path
        out = self.path(f"sample.{fmt}")
        subprocess.run(["ebook-convert", str(epub), str(out)], check=True, capture_output=True, timeout=300)
        return Sample(out, fmt, text=True)

    def _build_mobi(self):
        return self._ebook("mobi")

    def _build_azw3(self):
        return self._ebook("azw3")

    # Fonts (the family name carries MARKER)

    def _font(self, fmt, truetype, flavor=None):
        path = builders.make_font(self.path(f"sample.{fmt}"), truetype=truetype, flavor=flavor)
        return Sample(path, fmt, text=True, extra={"glyphs": {"A", "space"}})

    def _build_ttf(self):
        return self._font("ttf", True)

    def _build_otf(self):
        return self._font("otf", False)

    def _build_woff(self):
        return self._font("woff", True, "woff")

    def _build_woff2(self):
        return self._font("woff2", False, "woff2")

    # Subtitles

    def _subtitles(self, fmt):
        path = builders.make_subtitles(self.path(f"sample.{fmt}"), fmt)
        return Sample(path, fmt, text=True, extra={"cues": builders.SUBTITLE_CUES})

    def _build_srt(self):
        return self._subtitles("srt")

    def _build_vtt(self):
        return self._subtitles("vtt")

    def _build_ass(self):
        return self._subtitles("ass")

    def _build_ssa(self):
        return self._subtitles("ssa")

    def _build_sub(self):
        return self._subtitles("sub")

    # Data (the records of the CSV document sample)

    def _data(self, fmt):
        return Sample(builders.make_data(self.path(f"sample.{fmt}"), fmt), fmt, text=True)

    def _build_tsv(self):
        return self._data("tsv")

    def _build_json(self):
        return self._data("json")

    def _build_jsonl(self):
        return self._data("jsonl")

    def _build_yaml(self):
        return self._data("yaml")

    def _build_toml(self):
        return self._data("toml")

    def _build_xml(self):
        return self._data("xml")

    # Archives (bsdtar)

    def _archive(self, fmt):
        path = builders.make_archive(self.path(f"sample.{fmt}"), fmt)
        return Sample(path, fmt, text=True, extra={"files": builders.ARCHIVE_FILES})

    def _build_tar(self):
        return self._archive("tar")

    def _build_tgz(self):
        return self._archive("tgz")

    def _build_tbz2(self):
        return self._archive("tbz2")

    def _build_txz(self):
        return self._archive("txz")

    def _build_7z(self):
        return self._archive("7z")

    def _build_zip(self):
        return self._archive("zip")

    # Audio and video

    def _media_sample(self, fmt):
        if self._media is None:
            folder = self.path("media")
            folder.mkdir()
            self._media = media_builders.build_all(folder)
        extra = {"frame_size": (160, 120)} if fmt in media_builders.VIDEO_SAMPLES else {}
        return Sample(self._media / f"sample.{fmt}", fmt, seconds=MEDIA_SECONDS, extra=extra)


def tools_missing(*tools):
    return [t for t in tools if not shutil.which(t)]

"""Is an output a faithful file of its target format?

Every target format has a check that opens the file the way its readers do
(Pillow, ffprobe, pypdf, zipfile, the format's own parser) and, where the
source carried them, compares what must survive: the marker text, the pixel
size, the duration. libmagic must also agree that the file is of the target
format (the same verdict an upload of that file would get).
A target with no check fails the catalog test.
"""

import json
import subprocess
import zipfile

from conversions.engine import formats
from conversions.engine.sniff import detect_mime

from .samples import MARKER

CHECKS = {}


def check(fmt_names):
    def deco(fn):
        for name in fmt_names.split():
            CHECKS[name] = fn
        return fn

    return deco


class Unchecked(Exception):
    pass


def verify(out, target, sample, *, out_format=None):
    """Raise AssertionError (or Unchecked) unless `out` is a good `target` file for `sample`."""
    out_format = out_format or target
    assert out.exists() and out.stat().st_size > 0, "no output"
    if out_format == "zip" and target != "zip":
        return verify_zip_of(out, target, sample)
    mime = detect_mime(out)
    assert out_format in formats.formats_for_mime(mime), f"libmagic says {mime} for a {out_format} output"
    fn = CHECKS.get(out_format)
    if fn is None:
        raise Unchecked(f"no output check for target format {out_format!r}: add one to tests/catalog/checks.py")
    fn(out, sample, out_format)


def verify_zip_of(out, target, sample):
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        names = [n for n in zf.namelist() if not n.endswith("/")]
        assert names and all(n.lower().endswith(f".{target}") or target == "jpg" and n.endswith(".jpeg") for n in names)


# Text


def read_text(path):
    data = path.read_bytes()
    for enc in ("utf-8", "utf-16"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def expect_marker(text, sample, target):
    if sample.text:
        assert MARKER in text.lower(), f"the source's text ({MARKER!r}) is missing from the {target} output"


@check("txt html md rst csv rtf tex")
def _plain(out, sample, target):
    expect_marker(read_text(out), sample, target)


@check("docx odt pptx odp xlsx ods epub")
def _zipped_xml(out, sample, target):
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        text = " ".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist() if n.endswith((".xml", ".xhtml", ".html", ".htm")))
    expect_marker(text, sample, target)


@check("doc xls ppt")
def _ole(out, sample, target):
    data = out.read_bytes()
    assert data[:8] == bytes.fromhex("d0cf11e0a1b11ae1"), "not an OLE compound file"
    text = data.decode("latin-1").lower() + data.decode("utf-16-le", "replace").lower()
    expect_marker(text, sample, target)


@check("mobi azw3")
def _mobi(out, sample, target):
    data = out.read_bytes()
    assert data[60:68] == b"BOOKMOBI", "no MOBI header"


@check("pdf")
def _pdf(out, sample, target):
    from pypdf import PdfReader

    reader = PdfReader(str(out))
    assert len(reader.pages) >= 1
    if sample.text:
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
        expect_marker(text, sample, target)
    elif sample.size:
        box = reader.pages[0].mediabox
        ratio = float(box.width) / float(box.height)
        assert abs(ratio - sample.size[0] / sample.size[1]) < 0.05, f"page ratio {ratio:.2f} differs from the image's"


# Images


def open_image(out, target):
    if target == "apng":
        target = "png"
    if target == "heic":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    from PIL import Image

    if target == "jxl":
        import pyvips

        vim = pyvips.Image.new_from_file(str(out))
        return Image.frombuffer({1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[vim.bands], (vim.width, vim.height),
                                vim.cast("uchar").write_to_memory(), "raw")
    im = Image.open(out)
    im.load()
    return im


@check("png jpg webp bmp tiff ico avif heic jp2 tga ppm pgm pcx qoi jxl")
def _image(out, sample, target):
    im = open_image(out, target)
    if sample.size and sample.fmt in formats.FORMATS and formats.FORMATS[sample.fmt].category == "image":
        assert im.size == sample.size, f"size {im.size} differs from the source's {sample.size}"
    elif sample.extra.get("frame_size"):
        assert im.size == sample.extra["frame_size"], f"size {im.size} differs from the video's frames"


@check("gif apng")
def _gif(out, sample, target):
    im = open_image(out, target)
    if sample.seconds or target == "apng":  # from a clip: an animation
        assert getattr(im, "n_frames", 1) > 1, f"a {target} from a clip should be animated"
    elif sample.size:
        assert im.size == sample.size


# Audio and video


def ffprobe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


def _duration(info):
    if "duration" in info["format"]:
        return float(info["format"]["duration"])
    return max(float(s.get("duration", 0)) for s in info["streams"])


def _media(out, sample, target, kind):
    info = ffprobe(out)
    kinds = {s["codec_type"] for s in info["streams"]}
    assert kind in kinds, f"no {kind} stream in the {target} output ({kinds})"
    if sample.seconds:
        got = _duration(info)
        assert abs(got - sample.seconds) < 0.35, f"duration {got:.2f} s, the source lasts {sample.seconds:.2f} s"


@check("mp3 wav flac ogg opus aac m4a aiff wma ac3 mp2 au mka")
def _audio(out, sample, target):
    _media(out, sample, target, "audio")


@check("mp4 webm mkv mov avi m4v 3gp flv ts mpeg wmv ogv")
def _video(out, sample, target):
    _media(out, sample, target, "video")


# Fonts

FONT_FLAVOR = {"ttf": None, "otf": None, "woff": "woff", "woff2": "woff2"}


@check("ttf otf woff woff2")
def _font(out, sample, target):
    from fontTools.ttLib import TTFont

    font = TTFont(str(out))
    assert font.flavor == FONT_FLAVOR[target]
    outlines = "glyf" if target == "ttf" else "CFF " if target == "otf" else None
    if outlines:
        assert outlines in font, f"a {target} font needs {outlines!r} outlines"
    assert sample.extra["glyphs"] <= set(font.getGlyphOrder())
    font.getGlyphSet()["A"].draw(_CountingPen())
    expect_marker(font["name"].getDebugName(1) or "", sample, target)


class _CountingPen:
    def __init__(self):
        self.points = 0

    def _add(self, *pts):
        self.points += len(pts)

    moveTo = lineTo = curveTo = qCurveTo = _add

    def closePath(self):
        assert self.points >= 4, "the glyph lost its outline"

    endPath = closePath


# Subtitles


@check("srt vtt ass ssa sub")
def _subtitles(out, sample, target):
    import pysubs2

    from .builders import PYSUBS2_FORMAT

    subs = pysubs2.SSAFile.from_string(out.read_text("utf-8"), format_=PYSUBS2_FORMAT[target], fps=25)
    cues = [e for e in subs.events if e.end > e.start]
    if "cues" in sample.extra:
        assert len(cues) == sample.extra["cues"], f"{len(cues)} cues, the source has {sample.extra['cues']}"
        assert abs(cues[0].start - 500) <= 40, f"the first cue starts at {cues[0].start} ms, not 500"
    assert cues, "no cues"
    expect_marker(" ".join(e.plaintext for e in cues), sample, target)


# Data


@check("json jsonl yaml toml xml tsv")
def _data(out, sample, target):
    text = out.read_text("utf-8")
    if target == "json":
        json.loads(text)
    elif target == "jsonl":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert lines
    elif target == "yaml":
        import yaml

        assert yaml.safe_load(text) is not None
    elif target == "toml":
        import tomllib

        tomllib.loads(text)
    elif target == "xml":
        from defusedxml import ElementTree

        ElementTree.fromstring(text)
    elif target == "tsv":
        assert "\t" in text.splitlines()[0]
    expect_marker(text, sample, target)


# Archives


@check("zip tar tgz tbz2 txz 7z")
def _archive(out, sample, target):
    from .builders import archive_contents, as_bytes

    if target == "zip":
        with zipfile.ZipFile(out) as zf:
            assert zf.testzip() is None
    contents = archive_contents(out)
    if "files" in sample.extra:
        assert contents == as_bytes(sample.extra["files"]), f"the archive holds {sorted(contents)}"
    elif sample.seconds:  # a clip's frames
        assert contents and all(name.endswith(".png") for name in contents)
        first = out.parent / "first-frame.png"
        first.write_bytes(contents[sorted(contents)[0]])
        assert open_image(first, "png").size == sample.extra["frame_size"]
    else:
        assert contents, "an empty archive"

"""Small samples of the breadth families, built by their own libraries."""

from pathlib import Path

FONT_FAMILY = "Heron Sans"


def _outline(pen, quadratic):
    pen.moveTo((100, 0))
    pen.lineTo((100, 700))
    if quadratic:
        pen.qCurveTo((300, 800), (500, 700))
    else:
        pen.curveTo((200, 780), (400, 780), (500, 700))
    pen.lineTo((500, 0))
    pen.closePath()


def make_font(path, *, truetype=True, flavor=None):
    """A three-glyph font named FONT_FAMILY: TrueType outlines, or CFF when truetype is False."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    order = [".notdef", "space", "A"]
    fb = FontBuilder(1000, isTTF=truetype)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap({32: "space", 65: "A"})
    if truetype:
        glyphs = {}
        for name in order:
            pen = TTGlyphPen(None)
            if name != "space":
                _outline(pen, True)
            glyphs[name] = pen.glyph()
        fb.setupGlyf(glyphs)
    else:
        charstrings = {}
        for name in order:
            pen = T2CharStringPen(600, None)
            if name != "space":
                _outline(pen, False)
            charstrings[name] = pen.getCharString()
        fb.setupCFF("HeronSans-Regular", {"FullName": FONT_FAMILY}, charstrings, {})
    fb.setupHorizontalMetrics({name: (600, 100) for name in order})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": FONT_FAMILY, "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    fb.font.flavor = flavor
    fb.save(str(path))
    return Path(path)


SRT = (
    "1\n00:00:00,500 --> 00:00:01,500\nThe grey heron waits\n\n"
    "2\n00:00:02,000 --> 00:00:03,000\n<i>then strikes</i>\n"
)
SUBTITLE_CUES = 2
PYSUBS2_FORMAT = {"srt": "srt", "vtt": "vtt", "ass": "ass", "ssa": "ssa", "sub": "microdvd"}


def make_subtitles(path, fmt):
    """Two cues, the first at 0.5 s: SubRip by hand, the others written from it by pysubs2."""
    import pysubs2

    subs = pysubs2.SSAFile.from_string(SRT, format_="srt")
    subs.save(str(path), format_=PYSUBS2_FORMAT[fmt], fps=25)
    return Path(path)


RECORDS = [
    {"name": "heron", "count": 3, "price": 1.5},
    {"name": "crane", "count": 7, "price": 2.25},
    {"name": "stork", "count": 11, "price": 4},
]


def make_data(path, fmt):
    """The three records of documents_fixtures.CSV, written by each format's own library."""
    import json

    path = Path(path)
    if fmt == "tsv":
        lines = ["\t".join(RECORDS[0])] + ["\t".join(str(v) for v in r.values()) for r in RECORDS]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "json":
        path.write_text(json.dumps(RECORDS, indent=2))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    elif fmt == "yaml":
        import yaml

        path.write_text(yaml.safe_dump({"birds": RECORDS}, sort_keys=False))
    elif fmt == "toml":
        import tomli_w

        path.write_text(tomli_w.dumps({"birds": RECORDS}))
    elif fmt == "xml":
        from xml.etree import ElementTree as ET

        root = ET.Element("birds")
        for record in RECORDS:
            bird = ET.SubElement(root, "bird")
            for key, value in record.items():
                ET.SubElement(bird, key).text = str(value)
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def make_psd(path, im):
    """A flat RGB Photoshop file written by hand from a Pillow image (Pillow reads PSD, never writes it).

    Header '8BPS' v1, 3 channels, 8 bits, RGB mode; empty colour-mode, resource and
    layer sections; then the merged image, raw planar (compression 0).
    """
    import struct

    im = im.convert("RGB")
    w, h = im.size
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3)
    planes = b"".join(band.tobytes() for band in im.split())
    Path(path).write_bytes(header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + planes)
    return Path(path)


ARCHIVE_FILES = {"notes/heron.txt": "The grey heron waits\n", "readme.txt": "two files\n"}


def as_bytes(files):
    return {name: text.encode() for name, text in files.items()}
BSDTAR_WRITE = {"zip": ["--format", "zip"], "tar": ["--format", "pax"], "tgz": ["--format", "pax", "-z"],
                "tbz2": ["--format", "pax", "-j"], "txz": ["--format", "pax", "-J"], "7z": ["--format", "7zip"]}


def make_archive(path, fmt, files=None):
    """ARCHIVE_FILES (or `files`) packed by bsdtar (libarchive) in the given format."""
    import subprocess
    import tempfile

    files = files or ARCHIVE_FILES
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            target = Path(tmp) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        tops = sorted({name.split("/")[0] for name in files})
        subprocess.run(["bsdtar", "-cf", str(path), *BSDTAR_WRITE[fmt], "-C", tmp, *tops], check=True)
    return Path(path)


def archive_contents(path):
    """{name: bytes} of every file in an archive, read by bsdtar into a scratch folder."""
    import subprocess
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["bsdtar", "-xf", str(path), "-C", tmp], check=True)
        for file in Path(tmp).rglob("*"):
            if file.is_file():
                out[file.relative_to(tmp).as_posix()] = file.read_bytes()
    return out

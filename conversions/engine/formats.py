"""Every file format the service knows: extension, category, MIME types.

`sniff` maps what libmagic detects to these formats; a format lists every MIME
type libmagic (Debian's 5.44) is seen to report for real files of that kind.
Converters declare pairs by these names; nothing else names a format.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Format:
    name: str
    category: str  # image, document, spreadsheet, presentation, pdf, ebook, audio, video, text, font, subtitle, data, archive
    content_type: str
    detected: frozenset = field(default_factory=frozenset)
    aliases: tuple = ()
    label: str = ""

    @property
    def title(self):
        return self.label or self.name.upper()


def _f(name, category, content_type, detected=(), aliases=(), label=""):
    return Format(name, category, content_type, frozenset(detected) | {content_type}, tuple(aliases), label)


_TEXT = ("text/plain",)
_ZIP = ("application/zip",)
_CFB = ("application/x-ole-storage", "application/CDFV2", "application/vnd.ms-office")

FORMATS = {
    f.name: f
    for f in [
        # Images
        _f("png", "image", "image/png", label="PNG"),
        _f("jpg", "image", "image/jpeg", aliases=("jpeg", "jpe", "jfif"), label="JPG"),
        _f("webp", "image", "image/webp", label="WebP"),
        _f("gif", "image", "image/gif", label="GIF"),
        _f("bmp", "image", "image/bmp", ("image/x-ms-bmp",), label="BMP"),
        _f("tiff", "image", "image/tiff", aliases=("tif",), label="TIFF"),
        _f("ico", "image", "image/vnd.microsoft.icon", ("image/x-icon",), label="ICO"),
        _f("avif", "image", "image/avif", label="AVIF"),
        _f("heic", "image", "image/heic", ("image/heif", "image/heic-sequence"), aliases=("heif",), label="HEIC"),
        _f("apng", "image", "image/apng", ("image/png",), label="APNG"),
        _f("jxl", "image", "image/jxl", label="JPEG XL"),
        _f("jp2", "image", "image/jp2", ("image/jpx",), aliases=("j2k", "jpf"), label="JPEG 2000"),
        _f("tga", "image", "image/x-tga", ("image/x-targa", "image/x-icb"), label="TGA"),
        _f("ppm", "image", "image/x-portable-pixmap", ("image/x-portable-anymap",), aliases=("pnm",), label="PPM"),
        _f("pgm", "image", "image/x-portable-greymap", label="PGM"),
        _f("pbm", "image", "image/x-portable-bitmap", label="PBM"),
        _f("pcx", "image", "image/x-pcx", ("image/vnd.zbrush.pcx",), label="PCX"),
        _f("qoi", "image", "image/x-qoi", ("image/qoi",), label="QOI"),
        _f("psd", "image", "image/vnd.adobe.photoshop", ("image/x-photoshop", "application/x-photoshop"), label="PSD"),
        _f("svg", "image", "image/svg+xml", ("image/svg", "text/xml", "application/xml", "text/html"), label="SVG"),
        # PDF
        _f("pdf", "pdf", "application/pdf", label="PDF"),
        # Word processing
        _f("docx", "document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP, label="Word"),
        _f("doc", "document", "application/msword", _CFB, label="Word 97-2003"),
        _f("odt", "document", "application/vnd.oasis.opendocument.text", _ZIP, label="ODT"),
        _f("rtf", "document", "application/rtf", ("text/rtf",), label="RTF"),
        _f("txt", "text", "text/plain", ("text/x-c", "text/x-python", "text/csv", "application/json"), label="Text"),
        _f("html", "text", "text/html", _TEXT + ("text/xml",), aliases=("htm",), label="HTML"),
        _f("md", "text", "text/markdown", _TEXT + ("text/x-script.python",), aliases=("markdown",), label="Markdown"),
        _f("rst", "text", "text/x-rst", _TEXT, label="reStructuredText"),
        _f("org", "text", "text/x-org", _TEXT, label="Org"),
        _f("textile", "text", "text/x-textile", _TEXT, label="Textile"),
        _f("mediawiki", "text", "text/x-mediawiki", _TEXT, aliases=("wiki",), label="MediaWiki"),
        _f("tex", "text", "application/x-tex", _TEXT + ("text/x-tex",), aliases=("latex",), label="LaTeX"),
        _f("epub", "ebook", "application/epub+zip", _ZIP, label="EPUB"),
        _f("mobi", "ebook", "application/x-mobipocket-ebook", label="MOBI"),
        _f("azw3", "ebook", "application/vnd.amazon.ebook", ("application/x-mobipocket-ebook",), label="AZW3"),
        # Spreadsheets
        _f("xlsx", "spreadsheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP, label="Excel"),
        _f("xls", "spreadsheet", "application/vnd.ms-excel", _CFB, label="Excel 97-2003"),
        _f("ods", "spreadsheet", "application/vnd.oasis.opendocument.spreadsheet", _ZIP, label="ODS"),
        _f("csv", "spreadsheet", "text/csv", _TEXT, label="CSV"),
        # Presentations
        _f("pptx", "presentation", "application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP, label="PowerPoint"),
        _f("ppt", "presentation", "application/vnd.ms-powerpoint", _CFB, label="PowerPoint 97-2003"),
        _f("odp", "presentation", "application/vnd.oasis.opendocument.presentation", _ZIP, label="ODP"),
        # Audio
        _f("mp3", "audio", "audio/mpeg", ("audio/x-mp3",), label="MP3"),
        _f("wav", "audio", "audio/wav", ("audio/x-wav", "audio/vnd.wave"), label="WAV"),
        _f("flac", "audio", "audio/flac", ("audio/x-flac",), label="FLAC"),
        _f("ogg", "audio", "audio/ogg", ("application/ogg", "audio/x-vorbis+ogg", "video/ogg"), aliases=("oga",), label="OGG"),
        _f("opus", "audio", "audio/opus", ("audio/ogg", "application/ogg"), label="Opus"),
        _f("aac", "audio", "audio/aac", ("audio/x-hx-aac-adts", "audio/x-aac"), label="AAC"),
        _f("m4a", "audio", "audio/mp4", ("audio/x-m4a", "video/mp4"), label="M4A"),
        _f("wma", "audio", "audio/x-ms-wma", ("video/x-ms-asf", "audio/x-ms-asf", "application/vnd.ms-asf"), label="WMA"),
        _f("aiff", "audio", "audio/aiff", ("audio/x-aiff",), aliases=("aif",), label="AIFF"),
        _f("amr", "audio", "audio/amr", ("audio/AMR",), label="AMR"),
        _f("ac3", "audio", "audio/ac3", ("audio/vnd.dolby.dd-raw", "audio/x-ac3"), label="AC3"),
        _f("mp2", "audio", "audio/mpeg", ("audio/x-mp2",), aliases=("mpa",), label="MP2"),
        _f("au", "audio", "audio/basic", aliases=("snd",), label="AU"),
        _f("mka", "audio", "audio/x-matroska", ("video/x-matroska", "video/webm"), label="MKA"),
        # Video
        _f("mp4", "video", "video/mp4", ("video/x-m4v", "video/quicktime", "audio/x-m4a", "audio/mp4"), label="MP4"),
        _f("webm", "video", "video/webm", ("video/x-matroska",), label="WebM"),
        _f("mkv", "video", "video/x-matroska", ("video/webm",), label="MKV"),
        _f("mov", "video", "video/quicktime", ("video/mp4",), label="MOV"),
        _f("avi", "video", "video/x-msvideo", ("video/avi",), label="AVI"),
        _f("flv", "video", "video/x-flv", label="FLV"),
        _f("wmv", "video", "video/x-ms-wmv", ("video/x-ms-asf", "application/vnd.ms-asf"), label="WMV"),
        _f("mpeg", "video", "video/mpeg", ("video/MP2P", "video/MP1S"), aliases=("mpg",), label="MPEG"),
        _f("m4v", "video", "video/x-m4v", ("video/mp4",), label="M4V"),
        _f("3gp", "video", "video/3gpp", ("video/mp4", "video/3gpp2"), label="3GP"),
        _f("ogv", "video", "video/ogg", ("application/ogg", "audio/ogg"), label="OGV"),
        _f("ts", "video", "video/mp2t", ("video/MP2T", "application/octet-stream"), label="MPEG-TS"),
        # Archives (results of several files)
        _f("zip", "archive", "application/zip", label="ZIP"),
        _f("tar", "archive", "application/x-tar", label="TAR"),
        _f("tgz", "archive", "application/gzip", ("application/x-gzip",), aliases=("gz", "tar.gz"), label="TAR.GZ"),
        _f("tbz2", "archive", "application/x-bzip2", aliases=("bz2", "tbz", "tar.bz2"), label="TAR.BZ2"),
        _f("txz", "archive", "application/x-xz", aliases=("xz", "tar.xz"), label="TAR.XZ"),
        _f("7z", "archive", "application/x-7z-compressed", label="7Z"),
        # Fonts
        _f("ttf", "font", "font/ttf", ("font/sfnt", "application/font-sfnt", "application/x-font-ttf"), label="TTF"),
        _f("otf", "font", "font/otf", ("application/vnd.ms-opentype", "font/sfnt", "application/font-sfnt"), label="OTF"),
        _f("woff", "font", "font/woff", ("application/font-woff",), label="WOFF"),
        _f("woff2", "font", "font/woff2", ("application/font-woff2",), label="WOFF2"),
        # Data (JSON Lines, YAML, TOML and TSV are plain text to libmagic)
        _f("tsv", "data", "text/tab-separated-values", _TEXT + ("text/csv",), label="TSV"),
        _f("json", "data", "application/json", _TEXT, label="JSON"),
        _f("jsonl", "data", "application/jsonl", ("application/x-ndjson", "application/json") + _TEXT, aliases=("ndjson",), label="JSON Lines"),
        _f("yaml", "data", "application/yaml", ("application/x-yaml", "text/yaml", "text/x-yaml") + _TEXT, aliases=("yml",), label="YAML"),
        _f("toml", "data", "application/toml", _TEXT, label="TOML"),
        _f("xml", "data", "application/xml", ("text/xml",), label="XML"),
        # Subtitles (libmagic knows SubRip and WebVTT; the others are plain text to it)
        _f("srt", "subtitle", "application/x-subrip", _TEXT, label="SRT"),
        _f("vtt", "subtitle", "text/vtt", _TEXT, label="WebVTT"),
        _f("ass", "subtitle", "text/x-ass", _TEXT, label="ASS"),
        _f("ssa", "subtitle", "text/x-ssa", _TEXT, label="SSA"),
        _f("sub", "subtitle", "text/x-microdvd", _TEXT, label="MicroDVD SUB"),
    ]
}

_ALIASES = {alias: f.name for f in FORMATS.values() for alias in f.aliases}


def normalize(name):
    """Canonical format name for an extension or format name, or None."""
    if not name:
        return None
    key = name.strip().lower().lstrip(".")
    if key in FORMATS:
        return key
    return _ALIASES.get(key)


def get(name):
    return FORMATS[normalize(name)]


def extension_of(filename):
    """The canonical format of a file name's extension, or None."""
    if not filename or "." not in filename:
        return None
    return normalize(filename.rsplit(".", 1)[1])


def formats_for_mime(mime):
    """Every format whose files libmagic may report as `mime`."""
    return [f.name for f in FORMATS.values() if mime in f.detected]

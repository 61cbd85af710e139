"""Subtitle conversion in a sandboxed child: python -I subtitles.py SOURCE SRC_FMT OUTPUT TARGET.

pysubs2 reads and writes SubRip, WebVTT, ASS/SSA and MicroDVD; txt is the
dialogue alone, one cue a line. MicroDVD counts frames, not time: 25 fps
unless the file declares its own rate in its first line.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `-I` leaves this folder off sys.path

from common import read_text, refuse  # noqa: E402

PYSUBS2_FORMAT = {"srt": "srt", "vtt": "vtt", "ass": "ass", "ssa": "ssa", "sub": "microdvd"}
DEFAULT_FPS = 25.0
MAX_EVENTS = 200_000


def load(path, fmt):
    import pysubs2

    text = read_text(path)
    try:
        try:
            # A MicroDVD file may declare its frame rate in its first line; only then is a guess needed.
            subs = pysubs2.SSAFile.from_string(text, format_=PYSUBS2_FORMAT[fmt])
        except pysubs2.exceptions.UnknownFPSError:
            subs = pysubs2.SSAFile.from_string(text, format_=PYSUBS2_FORMAT[fmt], fps=DEFAULT_FPS)
    except SystemExit:
        raise
    except Exception as exc:  # pysubs2 raises its own and plain ValueErrors on malformed input
        refuse("invalid_subtitles", f"The {fmt.upper()} file could not be read as subtitles: {str(exc)[:200] or type(exc).__name__}.")
    subs.events = [e for e in subs.events if not e.is_comment and not _fps_declaration(e)]
    if not subs.events:
        refuse("invalid_subtitles", f"The {fmt.upper()} file holds no subtitles.")
    if len(subs.events) > MAX_EVENTS:
        refuse("invalid_subtitles", f"The file holds more than {MAX_EVENTS} subtitles.")
    return subs


def _fps_declaration(event):
    """A MicroDVD frame-rate line ({0}{0}25.0 as pysubs2 writes it) read back as a cue."""
    if event.start != event.end or event.start > 1000:
        return False
    try:
        float(event.plaintext.strip())
    except ValueError:
        return False
    return True


def convert(source, src_fmt, output, target):
    subs = load(source, src_fmt)
    if target == "txt":
        lines = [e.plaintext.replace("\n", " ").strip() for e in subs.events]
        with open(output, "w", encoding="utf-8") as fh:
            fh.write("\n".join(line for line in lines if line) + "\n")
        return
    subs.save(output, encoding="utf-8", format_=PYSUBS2_FORMAT[target], fps=DEFAULT_FPS)


if __name__ == "__main__":
    convert(*sys.argv[1:5])

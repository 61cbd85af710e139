"""Font conversion in a sandboxed child: python -I fonts.py SOURCE SRC_FMT OUTPUT TARGET.

ttf holds TrueType (quadratic) outlines, otf CFF (cubic) outlines; woff and
woff2 wrap either. Outlines are converted only when the target's kind
differs: cubic -> quadratic with cu2qu (within 1 unit), quadratic -> cubic
exactly. Hinting does not survive an outline change.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `-I` leaves this folder off sys.path

from common import refuse  # noqa: E402

FLAVOR = {"ttf": None, "otf": None, "woff": "woff", "woff2": "woff2"}
MAX_GLYPHS = 65535


def load(path, fmt):
    from fontTools.ttLib import TTFont, TTLibError

    try:
        font = TTFont(path, lazy=False, recalcBBoxes=False, recalcTimestamp=False)
        if font.flavor != FLAVOR.get(fmt) and fmt in ("woff", "woff2"):
            refuse("invalid_font", f"The file is not a {fmt.upper()} font.")
        font.getGlyphOrder()
        for tag in font.keys():
            font[tag]  # decompile every table now: a damaged one fails here, not halfway through
    except SystemExit:
        raise
    except (TTLibError, AssertionError, KeyError, IndexError, ValueError, TypeError, EOFError, OSError) as exc:
        refuse("invalid_font", f"The {fmt.upper()} font could not be read: {type(exc).__name__}: {str(exc)[:200]}.")
    except Exception as exc:  # fontTools raises many things on hostile tables
        refuse("invalid_font", f"The {fmt.upper()} font could not be read ({type(exc).__name__}).")
    if "glyf" not in font and "CFF " not in font:
        refuse("invalid_font", "The font has no TrueType or CFF outlines (CFF2 variable fonts are not converted).")
    return font


def to_cff(font):
    """Quadratic glyf outlines -> a CFF table (cubic, exact)."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    glyph_set = font.getGlyphSet()
    hmtx = font["hmtx"]
    charstrings = {}
    for name in font.getGlyphOrder():
        pen = T2CharStringPen(hmtx[name][0], glyph_set)
        glyph_set[name].draw(pen)
        charstrings[name] = pen.getCharString()
    names = font["name"]
    ps_name = (names.getDebugName(6) or "Converted").replace(" ", "")
    info = {"FullName": names.getDebugName(4) or ps_name, "FamilyName": names.getDebugName(1) or ps_name}
    for tag in ("glyf", "loca", "fpgm", "prep", "cvt ", "gasp", "hdmx", "LTSH", "VDMX"):
        if tag in font:
            del font[tag]
    font.sfntVersion = "OTTO"
    builder = FontBuilder(font=font, isTTF=False)
    builder.setupCFF(ps_name, info, charstrings, {})
    builder.setupMaxp()
    font["post"].formatType = 3.0


def to_glyf(font):
    """Cubic CFF outlines -> quadratic glyf (cu2qu, error within 1 font unit)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in font.getGlyphOrder():
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = font.getGlyphOrder()
    glyf.glyphs = glyphs
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["head"].indexToLocFormat = 0
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = font.getGlyphOrder()
    font.sfntVersion = "\x00\x01\x00\x00"
    font.recalcBBoxes = True  # the new glyphs have no bounds yet


def convert(source, src_fmt, output, target):
    font = load(source, src_fmt)
    if len(font.getGlyphOrder()) > MAX_GLYPHS:
        refuse("invalid_font", "The font has more glyphs than a font may hold.")
    if target == "otf" and "glyf" in font:
        to_cff(font)
    elif target == "ttf" and "CFF " in font:
        to_glyf(font)
    font.flavor = FLAVOR[target]
    try:
        font.save(output, reorderTables=True)
    except Exception as exc:
        refuse("invalid_font", f"The font could not be written as {target.upper()}: {type(exc).__name__}: {str(exc)[:200]}.")


if __name__ == "__main__":
    convert(*sys.argv[1:5])

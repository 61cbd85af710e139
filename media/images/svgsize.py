"""The pixel size an SVG will rasterize to, read from its root element only.

rsvg-convert allocates the whole surface before drawing, so the pixel cap
must be checked before it runs. Only the first element is parsed (expat,
no external entities, billion-laughs protection), never the drawing itself.
"""

import re
import xml.etree.ElementTree as ET

DPI = 96.0  # rsvg-convert's default
UNITS = {"": 1.0, "px": 1.0, "pt": DPI / 72, "pc": DPI / 6, "in": DPI, "cm": DPI / 2.54, "mm": DPI / 25.4,
         "em": 16.0, "ex": 8.0}
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-z]*)\s*$")


def length_px(value):
    """A length attribute in pixels, or None for a percentage, auto or garbage."""
    match = _LENGTH.match(value or "")
    if not match or match.group(2) not in UNITS:
        return None
    return float(match.group(1)) * UNITS[match.group(2)]


def viewbox_size(value):
    parts = re.split(r"[\s,]+", (value or "").strip())
    try:
        width, height = float(parts[2]), float(parts[3])
    except (IndexError, ValueError):
        return None
    return (width, height) if width > 0 and height > 0 else None


def root_size(path):
    """(width, height) in pixels as rsvg-convert sizes the image, or None if unknown."""
    try:
        _, root = next(ET.iterparse(str(path), events=("start",)))
    except (ET.ParseError, StopIteration, OSError):
        return None  # rsvg-convert will explain what is wrong with the file
    box = viewbox_size(root.get("viewBox"))
    width, height = length_px(root.get("width")), length_px(root.get("height"))
    if width is None and height is None:
        return box
    if box:
        # One side given: the other follows the viewBox's aspect ratio.
        width = width if width is not None else height * box[0] / box[1]
        height = height if height is not None else width * box[1] / box[0]
    if width is None or height is None:
        return None
    return width, height


def raster_size(path, width_option=None):
    """Pixel size of the raster rsvg-convert will make, honoring --width."""
    size = root_size(path)
    if size is None or not width_option:
        return size
    return float(width_option), width_option * size[1] / size[0] if size[0] else size[1]

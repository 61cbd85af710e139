"""HTML with every resource reference removed, before LibreOffice reads it.

LibreOffice's HTML import loads what a page names: `<img src="/srv/...">`
pulled a server file into the ODT and the PDF it wrote. Its profile blocks
the network, not the file system, so the page itself is cleaned: resource
attributes keep only inline `data:` content, elements that exist to pull in
other documents go, and CSS loses `url()` and `@import`. Hyperlinks (`<a
href>`) stay: a link is text to a writer, never fetched.
"""

import re

import lxml.etree
import lxml.html

# Attributes that make a reader load something (HTML4/5, SVG, old IE).
RESOURCE_ATTRS = {
    "src", "srcset", "poster", "data", "background", "lowsrc", "dynsrc", "longdesc", "codebase", "archive",
    "action", "formaction", "cite", "profile", "manifest", "icon", "usemap", "xlink:href",
    "{http://www.w3.org/1999/xlink}href",
}  # fmt: skip
DROPPED_ELEMENTS = ("link", "base", "object", "embed", "iframe", "frame", "frameset", "applet", "script", "portal")
CSS_URL = re.compile(r"url\s*\((?!\s*['\"]?\s*data:)[^)]*\)|@import[^;]*;?", re.IGNORECASE)


def clean_html_file(path):
    """Rewrite the HTML file at `path` in place, as UTF-8, with nothing left to load."""
    raw = path.read_bytes()
    if not raw.strip():
        return
    doc = lxml.html.document_fromstring(raw)
    # Lists first: dropping while iterating skips siblings.
    for el in list(doc.iter(*DROPPED_ELEMENTS, lxml.etree.Comment, lxml.etree.ProcessingInstruction)):
        el.drop_tree()
    for el in list(doc.iter("meta")):
        if el.get("http-equiv") or el.get("charset"):
            el.drop_tree()
    for el in doc.iter(lxml.etree.Element):
        _clean_element(el)
    head = doc.find("head")
    if head is None:
        head = lxml.html.Element("head")
        doc.insert(0, head)
    head.insert(0, lxml.html.Element("meta", charset="utf-8"))
    path.write_bytes(lxml.html.tostring(doc, encoding="utf-8", method="html", doctype="<!DOCTYPE html>"))


def _clean_element(el):
    for name in list(el.attrib):
        value = el.attrib[name]
        lname = name.lower()
        if lname in RESOURCE_ATTRS or (lname == "href" and el.tag != "a"):
            if not value.strip().lower().startswith("data:"):
                del el.attrib[name]
        elif lname == "style":
            el.attrib[name] = CSS_URL.sub("none", value)
    if el.tag == "style" and el.text:
        el.text = CSS_URL.sub("none", el.text)

"""Hostile documents, built from real ones pandoc wrote, and a loopback listener.

- a DOCX whose picture is linked (not embedded) to a URL on loopback,
- an ODT whose Basic macro is bound to the document's load event,
- a small DOCX holding a gigabyte of zeros.
"""

import socket
import threading
import zipfile
from pathlib import Path

LINKED_PICTURE = (
    '<w:p><w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0">'
    '<wp:extent cx="952500" cy="952500"/><wp:docPr id="900" name="Linked"/>'
    '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
    '<pic:pic><pic:nvPicPr><pic:cNvPr id="900" name="linked.png"/><pic:cNvPicPr/></pic:nvPicPr>'
    '<pic:blipFill><a:blip r:link="rIdLinked"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
    '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="952500"/></a:xfrm>'
    '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>'
    "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
)

MACRO_MODULE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic" script:moduleType="normal">Sub Main
  Open "{marker}" For Output As #1
  Print #1, "the macro ran"
  Close #1
End Sub
</script:module>
"""
MACRO_LIBRARY = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE library:library PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "library.dtd">
<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" library:readonly="false" library:passwordprotected="false">
 <library:element library:name="Module1"/>
</library:library>
"""
MACRO_LIBRARIES = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE library:libraries PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "libraries.dtd">
<library:libraries xmlns:library="http://openoffice.org/2000/library" xmlns:xlink="http://www.w3.org/1999/xlink">
 <library:library library:name="Standard" library:link="false"/>
</library:libraries>
"""
ON_LOAD = (
    "<office:scripts><office:event-listeners>"
    '<script:event-listener script:language="ooo:script" script:event-name="dom:load" xlink:type="simple" '
    'xlink:href="vnd.sun.star.script:Standard.Module1.Main?language=Basic&amp;location=document"/>'
    "</office:event-listeners></office:scripts>"
)


def rewrite_zip(src, dst, edit, extra=()):
    """Copy a zip, passing each member's text through edit(name, text), then add extra (name, bytes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith((".xml", ".rels")):
                data = edit(info.filename, data.decode("utf-8")).encode("utf-8")
            compress = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            zout.writestr(info.filename, data, compress_type=compress)
        for name, data in extra:
            zout.writestr(name, data)
    return Path(dst)


def docx_with_linked_image(src, dst, url):
    def edit(name, text):
        if name == "word/document.xml":
            return text.replace("<w:body>", "<w:body>" + LINKED_PICTURE, 1)
        if name == "word/_rels/document.xml.rels":
            rel = (
                '<Relationship Id="rIdLinked" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                f'relationships/image" Target="{url}" TargetMode="External"/>'
            )
            return text.replace("</Relationships>", rel + "</Relationships>")
        return text

    return rewrite_zip(src, dst, edit)


def odt_with_autorun_macro(src, dst, marker):
    def edit(name, text):
        if name == "content.xml":
            return text.replace("<office:font-face-decls>", ON_LOAD + "<office:font-face-decls>", 1)
        if name == "META-INF/manifest.xml":
            entries = "".join(
                f'<manifest:file-entry manifest:media-type="text/xml" manifest:full-path="{p}"/>'
                for p in ("Basic/script-lc.xml", "Basic/Standard/script-lb.xml", "Basic/Standard/Module1.xml")
            )
            return text.replace("</manifest:manifest>", entries + "</manifest:manifest>")
        return text

    extra = [
        ("Basic/script-lc.xml", MACRO_LIBRARIES),
        ("Basic/Standard/script-lb.xml", MACRO_LIBRARY),
        ("Basic/Standard/Module1.xml", MACRO_MODULE.format(marker=marker)),
    ]
    return rewrite_zip(src, dst, lambda n, t: edit(n, t), extra)


def docx_zip_bomb(src, dst, gigabytes=1):
    """A DOCX with one extra part of `gigabytes` of zeros (about 1 MB compressed per GB)."""
    rewrite_zip(src, dst, lambda n, t: t)
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(dst, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("word/media/padding.bin", "w", force_zip64=True) as part:
            for _ in range(int(gigabytes * 1024)):
                part.write(chunk)
    return Path(dst)


class Listener:
    """A TCP listener on loopback that records every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/linked.png"

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


WEBSERVICE_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="S"><table:table-row>
<table:table-cell office:value-type="string"><text:p>heron</text:p></table:table-cell>
<table:table-cell table:formula="of:=COM.MICROSOFT.WEBSERVICE(&quot;{url}&quot;)"/>
</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>
"""
ODS_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def ods_with_webservice(dst, url):
    """A spreadsheet whose only formula, with no cached value, is WEBSERVICE(url)."""
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", WEBSERVICE_CONTENT.format(url=url))
        zf.writestr("META-INF/manifest.xml", ODS_MANIFEST)
    return Path(dst)


def html_with_remote_parts(dst, port):
    Path(dst).write_text(
        "<html><head><link rel='stylesheet' href='http://127.0.0.1:%d/x.css'></head>"
        "<body><p>Herons in HTML</p><img src='http://127.0.0.1:%d/linked.png'>"
        "<iframe src='http://127.0.0.1:%d/frame.html'></iframe></body></html>" % (port, port, port)
    )
    return Path(dst)


LINKED_OLE = (
    '<w:p><w:r><w:object w:dxaOrig="1440" w:dyaOrig="1440">'
    '<v:shape id="ole1" style="width:72pt;height:72pt" type="#_x0000_t75"><v:imagedata r:id="rIdOlePic" o:title=""/></v:shape>'
    '<o:OLEObject Type="Link" ProgID="Excel.Sheet.12" ShapeID="ole1" DrawAspect="Content" r:id="rIdOle" UpdateMode="Always">'
    "<o:LinkType>EnhancedMetafile</o:LinkType><o:LockedField>false</o:LockedField></o:OLEObject>"
    "</w:object></w:r></w:p>"
)
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def docx_with_ole_link_and_remote_template(src, dst, base):
    """A DOCX with an OLE object linked (UpdateMode=Always) to a remote workbook and a remote template."""

    def edit(name, text):
        if name == "word/document.xml":
            return text.replace("<w:body>", "<w:body>" + LINKED_OLE, 1)
        if name == "word/_rels/document.xml.rels":
            rels = (
                f'<Relationship Id="rIdOle" Type="{RELS}/oleObject" Target="{base}/book.xlsx" TargetMode="External"/>'
                f'<Relationship Id="rIdOlePic" Type="{RELS}/image" Target="{base}/pic.emf" TargetMode="External"/>'
            )
            return text.replace("</Relationships>", rels + "</Relationships>")
        if name == "word/settings.xml":
            return text.replace("<w:stylePaneFormatFilter", '<w:attachedTemplate r:id="rIdTpl"/><w:stylePaneFormatFilter', 1)
        return text

    template_rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rIdTpl" Type="{RELS}/attachedTemplate" Target="{base}/t.dotx" '
        'TargetMode="External"/></Relationships>'
    )
    return rewrite_zip(src, dst, edit, [("word/_rels/settings.xml.rels", template_rels)])

"""A warm headless LibreOffice driven over UNO: the helper program.

Run with Debian's `/usr/bin/python3` (python3-uno imports only there):

    /usr/bin/python3 conversions/documents/lo_bridge.py <private-dir>

It starts one soffice with a throw-away profile in <private-dir> (hardened
before the first start: macros never run, links never updated, untrusted
referer links blocked), connects over a UNO pipe (no TCP port, so it also works
inside `unshare -n`), then answers one JSON request per line on stdin with one
JSON line on stdout. Only the standard library and `uno` are used; the worker
side (conversions/documents/office_bridge.py) imports `write_profile` from here, so
nothing at module level may import uno.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

# (path, property, type, value): read back after start; a mismatch stops the bridge.
HARDENING = (
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "xs:int", 3),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "xs:boolean", True),
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "xs:boolean", True),
    ("/org.openoffice.Office.Common/Security/Scripting", "CheckDocumentEvents", "xs:boolean", True),
    # Links: 2 = never update (Writer sections/graphics/OLE, Calc external data, DDE).
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "xs:int", 2),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "xs:int", 2),
    # Never recalculate on load: WEBSERVICE() and friends keep their cached value.
    ("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "xs:int", 1),
    ("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "xs:int", 1),
    # Every http/https/ftp fetch goes to a proxy on a closed loopback port: a second wall
    # where `unshare -n` is not permitted (HTML import fetches images, styles, frames).
    ("/org.openoffice.Inet/Settings", "ooInetProxyType", "xs:int", 2),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPProxyName", "xs:string", "127.0.0.1"),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPProxyPort", "xs:int", 1),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPSProxyName", "xs:string", "127.0.0.1"),
    ("/org.openoffice.Inet/Settings", "ooInetHTTPSProxyPort", "xs:int", 1),
    ("/org.openoffice.Inet/Settings", "ooInetFTPProxyName", "xs:string", "127.0.0.1"),
    ("/org.openoffice.Inet/Settings", "ooInetFTPProxyPort", "xs:int", 1),
    ("/org.openoffice.Inet/Settings", "ooInetNoProxy", "xs:string", ""),
    ("/org.openoffice.Office.Common/Misc", "UseLocking", "xs:boolean", False),
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "xs:boolean", False),
    ("/org.openoffice.Office.Common/Save/Document", "CreateBackup", "xs:boolean", False),
    ("/org.openoffice.Office.Recovery/AutoSave", "Enabled", "xs:boolean", False),
    ("/org.openoffice.Office.Recovery/RecoveryInfo", "Enabled", "xs:boolean", False),
)

DEAD_PROXY = "http://127.0.0.1:1"

# com.sun.star.document.UpdateDocMode.NO_UPDATE / MacroExecMode.NEVER_EXECUTE
NO_UPDATE = 0
NEVER_EXECUTE = 0


def write_profile(profile_dir):
    """Write the hardened registrymodifications.xcu; return the profile's file URL."""
    user = Path(profile_dir) / "user"
    user.mkdir(parents=True, exist_ok=True)
    items = []
    for path, prop, typ, value in HARDENING:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        items.append(
            f'<item oor:path="{escape(path)}"><prop oor:name="{escape(prop)}" oor:op="fuse">'
            f"<value>{escape(text)}</value></prop></item>"
        )
    xcu = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' + "\n".join(items) + "\n</oor:items>\n"
    )
    (user / "registrymodifications.xcu").write_text(xcu, encoding="utf-8")
    return Path(profile_dir).resolve().as_uri()


def soffice_env(private_dir):
    tmp = Path(private_dir) / "tmp"
    tmp.mkdir(exist_ok=True)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(private_dir),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SAL_USE_VCLPLUGIN": "svp",
        **{name: DEAD_PROXY for name in ("http_proxy", "https_proxy", "ftp_proxy", "HTTP_PROXY", "HTTPS_PROXY")},
    }


class Office:
    """One soffice process and the UNO desktop it serves."""

    def __init__(self, private_dir, soffice="soffice"):
        self.private_dir = Path(private_dir)
        self.pipe = f"convertall_{uuid.uuid4().hex}"
        profile_url = write_profile(self.private_dir / "profile")
        argv = [
            soffice, "--headless", "--invisible", "--nologo", "--norestore", "--nodefault",
            "--nolockcheck", "--nofirststartwizard", f"-env:UserInstallation={profile_url}",
            f"--accept=pipe,name={self.pipe};urp;StarOffice.ComponentContext",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, env=soffice_env(self.private_dir), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.ctx = self._connect(float(os.environ.get("LO_BRIDGE_START_TIMEOUT", "60")))
        smgr = self.ctx.ServiceManager
        self.desktop = smgr.createInstanceWithContext("com.sun.star.frame.Desktop", self.ctx)
        self.check_hardening()

    def _connect(self, timeout):
        import uno
        from com.sun.star.connection import NoConnectException

        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return resolver.resolve(f"uno:pipe,name={self.pipe};urp;StarOffice.ComponentContext")
            except NoConnectException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"soffice did not start (exit code {self.proc.poll()})") from None
                time.sleep(0.1)

    def check_hardening(self):
        """Read every hardened setting back from the running office; refuse to serve if one is off."""
        provider = self.ctx.ServiceManager.createInstanceWithContext(
            "com.sun.star.configuration.ConfigurationProvider", self.ctx
        )
        for path, prop, _typ, value in HARDENING:
            access = provider.createInstanceWithArguments(
                "com.sun.star.configuration.ConfigurationAccess", (_prop("nodepath", path),)
            )
            actual = access.getPropertyValue(prop)
            if actual != value:
                raise RuntimeError(f"hardening not applied: {path}/{prop} is {actual!r}, expected {value!r}")

    def convert(self, req):
        import uno

        load = [
            _prop("Hidden", True),
            _prop("ReadOnly", True),
            _prop("UpdateDocMode", NO_UPDATE),
            _prop("MacroExecutionMode", NEVER_EXECUTE),
            _prop("RepairPackage", False),
            _prop("Silent", True),
        ]
        if not req.get("load_filter"):  # never LibreOffice's own guess of the format
            return {"ok": False, "code": "no_filter", "error": "no import filter was named for this file"}
        load.append(_prop("FilterName", req["load_filter"]))
        if req.get("load_options"):
            load.append(_prop("FilterOptions", req["load_options"]))
        src_url = uno.systemPathToFileUrl(str(Path(req["src"]).resolve()))
        doc = self.desktop.loadComponentFromURL(src_url, "_blank", 0, tuple(load))
        if doc is None:
            return {"ok": False, "code": "unreadable", "error": "LibreOffice could not open the file."}
        try:
            kind = _kind(doc)
            if req.get("kinds") and kind not in req["kinds"]:
                return {"ok": False, "code": "wrong_kind", "error": f"opened as a {kind} document", "kind": kind}
            store = [_prop("FilterName", req["export_filter"]), _prop("Overwrite", True)]
            if req.get("export_options"):
                store.append(_prop("FilterOptions", req["export_options"]))
            if req.get("export_data"):
                data = tuple(_prop(k, v) for k, v in req["export_data"].items())
                store.append(_prop("FilterData", uno.Any("[]com.sun.star.beans.PropertyValue", data)))
            dst_url = uno.systemPathToFileUrl(str(Path(req["dst"]).resolve()))
            # uno.invoke: a typed Any (FilterData) is only accepted through it.
            uno.invoke(doc, "storeToURL", (dst_url, tuple(store)))
            return {"ok": True, "kind": kind}
        finally:
            doc.close(True)

    def alive(self):
        """soffice still runs and still answers over the bridge."""
        if self.proc.poll() is not None:
            return False
        try:
            self.desktop.getFrames().getCount()
        except Exception:  # noqa: BLE001 - DisposedException and friends: the connection is gone
            return False
        return True

    def stop(self):
        try:
            self.desktop.terminate()
        except Exception:  # noqa: BLE001 - the office may already be gone
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _prop(name, value):
    import uno

    pv = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
    pv.Name, pv.Value = name, value
    return pv


def _kind(doc):
    for service, kind in (
        ("com.sun.star.sheet.SpreadsheetDocument", "spreadsheet"),
        ("com.sun.star.presentation.PresentationDocument", "presentation"),
        ("com.sun.star.drawing.DrawingDocument", "drawing"),
        ("com.sun.star.text.TextDocument", "text"),
    ):
        if doc.supportsService(service):
            return kind
    return "other"


def _watch_parent(parent, private_dir):
    """If the worker dies, take soffice (in our process group) and the private dir with us."""
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.killpg(0, signal.SIGTERM)
            time.sleep(1)
            shutil.rmtree(private_dir, ignore_errors=True)
            os.killpg(0, signal.SIGKILL)


def main():
    private_dir = sys.argv[1]
    # The protocol owns the real stdout; anything uno or soffice prints goes to stderr.
    proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    threading.Thread(target=_watch_parent, args=(os.getppid(), private_dir), daemon=True).start()
    try:
        office = Office(private_dir)
    except Exception as exc:  # noqa: BLE001 - reported to the worker, which falls back
        proto.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    proto.write(json.dumps({"ready": True, "pid": office.proc.pid}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") == "quit":
            break
        started = time.monotonic()
        try:
            reply = office.convert(req) if req.get("op") == "convert" else {"ok": True}
            reply["seconds"] = round(time.monotonic() - started, 4)
        except Exception as exc:  # noqa: BLE001 - a UNO error is the document's fault, unless the office died
            reply = {"ok": False, "code": "office_error", "error": f"{type(exc).__name__}: {exc}"}
            if not office.alive():
                reply["code"] = "crashed"
        proto.write(json.dumps(reply) + "\n")
        if reply.get("code") == "crashed":
            break  # a dead office serves no one: the worker starts a fresh bridge
    # Quit, or stdin closed because the worker is gone: leave nothing behind.
    office.stop()
    shutil.rmtree(private_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One sandbox, in layers, around every tool the engine runs.

| layer | what | where it holds |
|---|---|---|
| `seccomp` (a) | rlimits (CPU, memory, file size, processes), capabilities dropped, no_new_privs, a seccomp filter: sockets only AF_UNIX, no ptrace / process_vm_* / io_uring | everywhere, unprivileged: Fargate, Docker's default profile |
| `namespaces` (b) | bubblewrap: private mount, PID, network, IPC, UTS namespaces; only system files (read-only) and the job directory (read-write) are visible | where user namespaces (or root) are allowed |
| `landlock` (c) | the job dir read-write, system paths read-only, TCP refused, signals scoped | kernels with Landlock (5.13+) |
| `nondumpable` (d) | web and worker processes are non-dumpable: a same-uid tool cannot read their /proc/<pid>/environ or memory | everywhere on Linux |

Layers a and c are applied by `sandbox_exec.py`, a stdlib-only launcher that
the tool's process runs before exec (its source passed with `-c`, so no file
of the application has to be visible). bubblewrap rather than nsjail: it is a
Debian package (nsjail is not in bookworm and builds with protobuf), it runs
unprivileged on user namespaces, and its one job (mounts and namespaces) is
what we need; the syscall filter and rlimits stay ours so they hold where
bubblewrap cannot run.

Each layer is probed once per process (`layers()`); `enforce()` runs at
worker start, logs what holds and refuses to start when a layer named in
SANDBOX_REQUIRE does not. A layer that is not active is never used half.
"""

import marshal
import logging
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from conversions.engine import sandbox_exec

logger = logging.getLogger(__name__)

EXIT_SANDBOX = sandbox_exec.EXIT_SANDBOX
LAYERS = ("seccomp", "namespaces", "landlock", "nondumpable")
ALIASES = {"a": "seccomp", "b": "namespaces", "c": "landlock", "d": "nondumpable"}
LAUNCHER_SOURCE = Path(sandbox_exec.__file__).read_text(encoding="utf-8")
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# System files a tool may read (libraries, tools, fonts, locale; LibreOffice's shared parts live
# under /var through Debian's symlinks). Landlock adds /proc, /sys and /dev; bubblewrap makes its own.
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt",
                "/var/cache/fontconfig", "/var/lib/libreoffice", "/var/spool/libreoffice")  # fmt: skip
DEVICES_READ_WRITE = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")

PR_SET_DUMPABLE, PR_GET_DUMPABLE = 4, 3


class SandboxUnavailable(ImproperlyConfigured):
    """A layer named in SANDBOX_REQUIRE cannot hold here: the worker must not start."""


@dataclass
class Layers:
    active: dict = field(default_factory=dict)  # name -> bool
    detail: dict = field(default_factory=dict)  # name -> why (not) active

    def names(self):
        return [name for name in LAYERS if self.active.get(name)]


def make_nondumpable():
    """prctl(PR_SET_DUMPABLE, 0): /proc/<pid>/environ, mem and ptrace closed to same-uid processes."""
    libc = sandbox_exec._libc
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0


def python():
    """The launcher's interpreter: any Python 3 will do, Debian's is always under /usr."""
    configured = getattr(settings, "SANDBOX_PYTHON", "")
    if configured:
        return configured
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else os.path.realpath(sys.executable)


def required():
    names = [ALIASES.get(n.strip().lower(), n.strip().lower()) for n in settings.SANDBOX_REQUIRE if n.strip()]
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        raise ImproperlyConfigured(f"SANDBOX_REQUIRE names unknown layer(s) {unknown}; known: {', '.join(LAYERS)}")
    return names


def _python_roots():
    """The interpreters tools may be (the venv's for pdf2docx and decoders): readable, never writable."""
    roots = {sys.prefix, sys.base_prefix, os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    return sorted(r for r in roots if r != "/usr" and not r.startswith("/usr/"))


def spec(*, cwd, limits, layers, read_only=(), writable=(), network=False, tmp_sockets=False):
    """The launcher's JSON: what to apply inside the tool's process before exec."""
    out = {"limits": limits}
    if layers.active.get("seccomp"):
        out["seccomp"] = {"network": bool(network)}
    if layers.active.get("landlock"):
        out["landlock"] = {
            "rw": [str(cwd), *DEVICES_READ_WRITE, *map(str, writable)],
            "ro": [*SYSTEM_PATHS, "/proc", "/sys", "/dev", *_python_roots(), *map(str, read_only)],
            # LibreOffice's UNO pipes are unix sockets that osl puts in /tmp whatever TMPDIR says (it
            # asks access(), which Landlock does not answer), and it restarts once on a fresh profile,
            # unlinking the first socket: create and remove there, never read.
            "sock": ["/tmp"] if tmp_sockets else [],
            "network": bool(network),
        }
    return out


def encode(rules):
    """The launcher's spec argument (see sandbox_exec: marshal, format 4, as hex)."""
    return marshal.dumps(rules, 4).hex()


def bwrap_prefix(*, cwd, read_only=(), writable=(), network=False):
    """bubblewrap showing system files read-only and the job dir (same path) read-write."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--hostname", "sandbox"]
    if network:
        args.append("--share-net")
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _python_roots():
        args += ["--ro-bind-try", path, path]
    for path in read_only:
        args += ["--ro-bind", str(path), str(path)]
    for path in (cwd, *writable):
        args += ["--bind", str(path), str(path)]
    return [*args, "--chdir", str(cwd), "--"]


def command(argv, *, cwd, limits, read_only=(), writable=(), network=False, tmp_sockets=False, layers=None):
    """argv wrapped in every active layer (the process itself must also start its own session)."""
    layers = layers or current()
    rules = spec(cwd=cwd, limits=limits, layers=layers, read_only=read_only, writable=writable, network=network,
                 tmp_sockets=tmp_sockets)  # fmt: skip
    launch = [python(), "-I", "-S", "-c", LAUNCHER_SOURCE, encode(rules), *map(str, argv)]
    if layers.active.get("namespaces"):
        return [*bwrap_prefix(cwd=cwd, read_only=read_only, writable=writable, network=network), *launch]
    return launch


_views = {}


def code_view(files):
    """A read-only copy of a few files of ours (paths relative to the project) for a child to run.

    The sandbox hides the application; a child that runs our code (the decoder
    child) gets a folder holding only the modules it imports, laid out as in the
    project, made once per process. Its folder must be listable for imports,
    which the project's own root (var/, the jobs) can never be.
    """
    key = tuple(files)
    with _lock:
        view = _views.get(key)
        if view is None or not view.exists():
            import atexit
            import tempfile

            view = Path(tempfile.mkdtemp(prefix="convertall-code-"))
            for rel in key:
                target = view / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(PROJECT_ROOT / rel, target)
                target.chmod(0o444)
            atexit.register(shutil.rmtree, view, True)
            _views[key] = view
        return view


# --- probes ------------------------------------------------------------------

_PROBE_SOCKET = (
    "import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_STREAM)\nexcept PermissionError:\n"
    "    print('refused')\nelse:\n    print('allowed')\n"
)


def _try(cmd, cwd, timeout=20):
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_probe_env(cwd))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    detail = (proc.stderr or proc.stdout).strip()[-300:]
    return proc.returncode == 0, proc.stdout.strip() if proc.returncode == 0 else detail


def _probe_env(cwd):
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}


def _probe_seccomp(tmp):
    only = Layers(active={"seccomp": True})
    ok, out = _try(command([python(), "-I", "-S", "-c", _PROBE_SOCKET], cwd=tmp, limits={}, layers=only), tmp)
    if ok and out == "refused":
        return True, "no_new_privs, seccomp (sockets: AF_UNIX only), capabilities dropped, rlimits"
    return False, f"the seccomp filter did not hold: {out or 'no answer'}"


def _probe_landlock(tmp):
    if not settings.SANDBOX_LANDLOCK:
        return False, "turned off (SANDBOX_LANDLOCK=0)"
    abi = sandbox_exec.landlock_abi()
    if abi < 1:
        return False, "this kernel offers no Landlock"
    only = Layers(active={"landlock": True})
    outside = Path(tmp).parent  # the folder every job's directory sits in
    script = f"import os\ntry:\n    os.listdir({str(outside)!r})\nexcept PermissionError:\n    print('refused')\n"
    ok, out = _try(command([python(), "-I", "-S", "-c", script], cwd=tmp, limits={}, layers=only), tmp)
    if ok and out == "refused":
        return True, f"Landlock ABI {abi}"
    return False, f"Landlock ABI {abi} did not confine: {out or 'no answer'}"


def _probe_namespaces(tmp):
    if not settings.SANDBOX_NAMESPACES:
        return False, "turned off (SANDBOX_NAMESPACES=0)"
    if shutil.which("bwrap") is None:
        return False, "bubblewrap (bwrap) is not installed"
    ok, out = _try([*bwrap_prefix(cwd=tmp), python(), "-I", "-S", "-c", "import os; print(os.getpid())"], tmp)
    if ok and out.isdigit() and int(out) <= 3:  # a fresh PID namespace: bubblewrap's init is pid 1
        return True, "bubblewrap: mount, PID, network, IPC, UTS namespaces"
    return False, f"bubblewrap cannot create namespaces here: {out or 'no answer'}"


def probe():
    """Try each layer for real in a scratch directory; then the whole stack once."""
    import tempfile

    layers = Layers()
    ok = make_nondumpable()
    layers.active["nondumpable"], layers.detail["nondumpable"] = ok, "PR_SET_DUMPABLE 0" if ok else "prctl refused"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-", dir=_probe_root()) as tmp:
        for name, fn in (("seccomp", _probe_seccomp), ("landlock", _probe_landlock),
                         ("namespaces", _probe_namespaces)):  # fmt: skip
            layers.active[name], layers.detail[name] = fn(tmp)
        ok, out = _try(command(["true"], cwd=tmp, limits={}, layers=layers), tmp)
        if not ok:
            raise SandboxUnavailable(f"the assembled sandbox ({', '.join(layers.names())}) cannot run a tool: {out}")
    return layers


def _probe_root():
    root = Path(settings.WORK_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


_current = None
_lock = threading.Lock()


def current():
    """This process's layers, probed on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = probe()
        return _current


def reset():
    """Forget the probe (tests change SANDBOX_* settings)."""
    global _current
    with _lock:
        _current = None


def enforce():
    """At worker start: log what holds, refuse to start without a required layer."""
    layers = current()
    for name in LAYERS:
        logger.info("sandbox layer %s: %s (%s)", name, "active" if layers.active.get(name) else "off",
                    layers.detail.get(name, ""))  # fmt: skip
    missing = [name for name in required() if not layers.active.get(name)]
    if missing:
        reasons = "; ".join(f"{name}: {layers.detail.get(name, 'unknown')}" for name in missing)
        raise SandboxUnavailable(f"refusing to start: required sandbox layer(s) not available: {reasons}")
    logger.info("sandbox active layers: %s (required: %s)", ", ".join(layers.names()) or "none",
                ", ".join(required()) or "none")  # fmt: skip
    return layers


def _middleware_base():
    from dramatiq.middleware import Middleware

    return Middleware


class RefuseToStart(SystemExit):
    """A SystemExit: Dramatiq logs and swallows a middleware's Exception, never this."""


class SandboxCheck(_middleware_base()):
    """Dramatiq middleware: every worker (process or embedded threads) checks its sandbox before it consumes."""

    def before_worker_boot(self, broker, worker):
        try:
            enforce()
        except SandboxUnavailable as exc:
            logger.critical("%s", exc)
            raise RefuseToStart(str(exc)) from exc

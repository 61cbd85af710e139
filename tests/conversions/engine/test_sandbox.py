"""The sandbox's layers, each on its own and together, against real tools.

Every case runs real programs (cat, ls, ffmpeg, Python) through the runner and
asserts what a hostile file could make them do: connect to a loopback
listener, read a marker in the app's var/, read this (worker) process's
/proc/<pid>/environ, list another job's folder. A layer is only used when it
probed active on this machine; under CI a missing layer fails the test.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from conversions.engine import runner, sandbox
from tests.services import require

MARKER = "convertall-sandbox-marker-5b1d"
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3)\n"
    "except OSError as exc:\n"
    "    print('refused', exc)\n"
    "else:\n"
    "    print('connected')\n"
)

# Which assertions each set of layers must hold. a and d are all Fargate has:
# they must still keep the network and the worker's environment closed.
CASES = {
    "a+d (Fargate)": (("seccomp", "nondumpable"), {"network", "environ"}),
    "b+d": (("namespaces", "nondumpable"), {"network", "environ", "var", "other_job"}),
    "c+d": (("landlock", "nondumpable"), {"network", "environ", "var", "other_job"}),
    "all": (("seccomp", "namespaces", "landlock", "nondumpable"), {"network", "environ", "var", "other_job"}),
}


@pytest.fixture(scope="module")
def probed():
    sandbox.reset()
    return sandbox.current()


@pytest.fixture
def only(probed):
    """Run tools with just the given layers (each must have probed active here)."""

    def use(names):
        for name in names:
            require(probed.active.get(name), f"sandbox layer {name} is not available here: {probed.detail.get(name)}")
        sandbox._current = sandbox.Layers(
            active={name: name in names for name in sandbox.LAYERS}, detail=dict(probed.detail)
        )

    yield use
    sandbox.reset()


@pytest.fixture
def jobs():
    """Two jobs' folders under WORK_DIR, a secret in the second and one in the app's var/."""
    root = Path(settings.WORK_DIR)
    mine, other = root / f"job-mine-{os.getpid()}", root / f"job-other-{os.getpid()}"
    for folder in (mine, other):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    (other / "secret.txt").write_text(MARKER)
    (Path(settings.VAR_DIR) / "marker.txt").write_text(MARKER)
    yield mine, other
    for folder in (mine, other):
        shutil.rmtree(folder, ignore_errors=True)


def tool(argv, cwd, **kwargs):
    return runner.run(argv, cwd=cwd, timeout=30, check=False, **kwargs)


@pytest.mark.parametrize("case", list(CASES))
def test_a_tool_stays_in_its_box(case, only, jobs, listener):
    names, holds = CASES[case]
    only(names)
    mine, other = jobs
    port, accepted = listener

    net = tool([sys.executable, "-I", "-c", CONNECT, str(port)], mine)
    assert "connected" not in net.stdout, net.stdout
    if shutil.which("ffmpeg"):
        tool(["ffmpeg", "-nostdin", "-i", f"http://127.0.0.1:{port}/a.wav", "out.wav"], mine)
    time.sleep(0.3)
    assert accepted == []

    environ = tool(["cat", f"/proc/{os.getpid()}/environ"], mine)
    assert environ.returncode != 0 and "PATH=" not in environ.stdout

    var = tool(["cat", str(Path(settings.VAR_DIR) / "marker.txt")], mine)
    listing = tool(["ls", "-la", str(other)], mine)
    secret = tool(["cat", str(other / "secret.txt")], mine)
    code = tool(["cat", str(Path(settings.BASE_DIR) / "manage.py")], mine)
    if "var" in holds:
        assert var.returncode != 0 and MARKER not in var.stdout
        assert "manage" not in code.stdout and code.returncode != 0
    if "other_job" in holds:
        assert listing.returncode != 0 and "secret.txt" not in listing.stdout
        assert secret.returncode != 0 and MARKER not in secret.stdout

    # The job's own folder stays fully usable.
    ok = tool(["sh", "-c", "echo written > mine.txt && cat mine.txt && ls"], mine)
    assert ok.returncode == 0 and "written" in ok.stdout


def test_without_layer_d_the_environment_of_a_dumpable_process_leaks(only, jobs):
    """The control for layer d: only non-dumpability keeps a same-uid tool out of /proc/<pid>/environ."""
    only(("seccomp", "nondumpable"))
    mine, _ = jobs
    # Through the launcher too: as root, a process holding capabilities is out of a capless tool's reach anyway.
    argv = sandbox.command(["sleep", "30"], cwd=mine, limits={})
    dumpable = subprocess.Popen(argv, cwd=mine, env={"PATH": "/usr/bin:/bin", "SECRET_KEY": MARKER})
    try:
        deadline = time.monotonic() + 20
        while Path(f"/proc/{dumpable.pid}/cmdline").read_bytes().split(b"\0")[0] != b"sleep":
            assert time.monotonic() < deadline, "the launcher never exec'd sleep"
            time.sleep(0.02)  # until then it is the launcher, still holding capabilities
        leaked = tool(["cat", f"/proc/{dumpable.pid}/environ"], mine)
        assert MARKER in leaked.stdout
        assert sandbox.make_nondumpable()  # this process, the worker, is not dumpable
        kept = tool(["cat", f"/proc/{os.getpid()}/environ"], mine)
        assert kept.returncode != 0 and "PATH=" not in kept.stdout
    finally:
        dumpable.kill()
        dumpable.wait()


def test_the_seccomp_filter_refuses_what_it_names(only, jobs):
    only(("seccomp",))
    mine, _ = jobs
    script = (
        "import ctypes, socket\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for fam in ('AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET'):\n"
        "    try:\n"
        "        socket.socket(getattr(socket, fam), socket.SOCK_RAW if fam == 'AF_PACKET' else socket.SOCK_DGRAM)\n"
        "        print(fam, 'allowed')\n"
        "    except PermissionError:\n"
        "        print(fam, 'refused')\n"
        "a, b = socket.socketpair(); print('AF_UNIX allowed')\n"
        "print('ptrace', 'refused' if libc.ptrace(16, 1, 0, 0) == -1 and ctypes.get_errno() == 1 else 'allowed')\n"
        "print('io_uring', 'refused' if libc.syscall(425, 1, None) == -1 and ctypes.get_errno() == 1 else 'allowed')\n"
    )
    out = tool([sys.executable, "-I", "-c", script], mine)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    for fam in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"):
        assert f"{fam} refused" in lines
    assert "AF_UNIX allowed" in lines and "ptrace refused" in lines and "io_uring refused" in lines
    caps = tool(["grep", "^CapEff", "/proc/self/status"], mine)
    assert caps.stdout.split()[1] == "0000000000000000"  # a root worker's tool holds no capability


@pytest.mark.parametrize("case", list(CASES))
def test_limits_hold_in_every_layer_set(case, only, jobs):
    only(CASES[case][0])
    mine, _ = jobs
    out = tool(["cat", "/proc/self/limits"], mine, processes=77, max_file_mb=1, memory_mb=300, cpu_seconds=9)
    limits = {line[:26].strip(): line[26:].split()[:2] for line in out.stdout.splitlines()[1:]}
    assert limits["Max processes"] == ["77", "77"]
    assert limits["Max file size"] == [str(1024 * 1024)] * 2
    assert limits["Max core file size"] == ["0", "0"]
    assert limits["Max address space"] == [str(300 * 1024 * 1024)] * 2
    assert limits["Max cpu time"] == ["9", "10"]


def test_a_required_layer_that_cannot_hold_stops_the_worker(settings, probed):
    import dramatiq

    settings.SANDBOX_NAMESPACES = False  # as on ECS Fargate, where unshare is refused
    settings.SANDBOX_REQUIRE = ["seccomp", "namespaces"]
    sandbox.reset()
    try:
        with pytest.raises(sandbox.SandboxUnavailable) as err:
            sandbox.enforce()
        assert "namespaces" in str(err.value) and "SANDBOX_NAMESPACES=0" in str(err.value)
        worker = dramatiq.Worker(dramatiq.get_broker(), worker_threads=1)
        with pytest.raises(SystemExit, match="namespaces"):
            worker.start()
        assert not any(t.is_alive() for t in worker.workers)
    finally:
        sandbox.reset()


def test_unknown_layer_names_are_refused(settings):
    settings.SANDBOX_REQUIRE = ["seccomp", "selinux"]
    with pytest.raises(Exception, match="selinux"):
        sandbox.required()


def test_fargate_layers_are_enough_by_default(settings, probed):
    settings.SANDBOX_NAMESPACES = False
    settings.SANDBOX_LANDLOCK = False
    sandbox.reset()
    try:
        layers = sandbox.enforce()
        assert layers.names() == ["seccomp", "nondumpable"]
    finally:
        sandbox.reset()


@pytest.mark.django_db
def test_readiness_names_the_active_layers(client, probed):
    body = client.get("/api/v1/health").json()
    assert body["sandbox"] == probed.names()
    assert "seccomp" in body["sandbox"] and "nondumpable" in body["sandbox"]

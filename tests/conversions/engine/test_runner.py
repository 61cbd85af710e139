"""The sandboxed runner on real processes: timeouts, limits, no network, errors."""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from conversions.engine import runner
from conversions.errors import Canceled, ConversionFailed, TransientError
from tests.services import require

PY = sys.executable


def alive(pid):
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for_file(path, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def gone_soon(token, timeout=2):
    """No process on this machine has `token` as an argument any more.

    Tools may run in their own PID namespace, where the pids they write down
    mean nothing out here: processes are found by a unique argument instead.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes_with(token):
            return True
        time.sleep(0.02)
    return False


def processes_with(token):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if token.encode() in argv and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


# A child that forks a grandchild, records both pids, then waits for ever.
GRANDCHILD = f"300.{os.getpid()}"
FORKING = f"sleep {GRANDCHILD} & echo $! > grandchild.pid; echo $$ > child.pid; wait"


def test_timeout_kills_the_whole_process_group(tmp_path):
    started = time.monotonic()
    with pytest.raises(runner.ToolTimeout) as err:
        runner.run(["sh", "-c", FORKING], cwd=tmp_path, timeout=1, tool="forker")
    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 3
    assert err.value.code == "timeout"
    assert "forker did not finish within 1 seconds" in err.value.message
    wait_for_file(tmp_path / "child.pid")
    wait_for_file(tmp_path / "grandchild.pid")
    assert gone_soon(FORKING) and gone_soon(GRANDCHILD)


def test_stragglers_of_a_finished_tool_are_killed(tmp_path):
    """The tool exits at once but leaves a background grandchild behind."""
    runner.run(["sh", "-c", f"sleep {GRANDCHILD} & echo $! > grandchild.pid"], cwd=tmp_path, timeout=10)
    wait_for_file(tmp_path / "grandchild.pid")
    assert gone_soon(GRANDCHILD)


def test_cpu_limit_gives_a_readable_error(tmp_path):
    with pytest.raises(ConversionFailed) as err:
        runner.run([PY, "-c", "while True: pass"], cwd=tmp_path, timeout=20, cpu_seconds=1, tool="spinner")
    assert err.value.code == "tool_failed"
    assert err.value.message.startswith("spinner used up its CPU time allowance (SIGXCPU)")


def test_address_space_limit_gives_a_readable_error(tmp_path):
    script = "data = bytearray(512 * 1024 * 1024)"
    with pytest.raises(ConversionFailed) as err:
        runner.run([PY, "-c", script], cwd=tmp_path, timeout=20, memory_mb=200, tool="hog")
    assert err.value.code == "tool_failed"
    assert err.value.message.startswith("hog ran out of memory; the file may be too large")
    assert "MemoryError" in err.value.message
    # The same program fits once the limit allows it.
    runner.run([PY, "-c", "data = bytearray(16 * 1024 * 1024)"], cwd=tmp_path, timeout=20, memory_mb=400)


def test_file_size_limit_gives_a_readable_error(tmp_path):
    argv = ["dd", "if=/dev/zero", "of=big.bin", "bs=1M", "count=8"]
    with pytest.raises(ConversionFailed) as err:
        runner.run(argv, cwd=tmp_path, timeout=20, max_file_mb=2)
    assert err.value.message == "dd produced an output larger than the allowed size."
    assert (tmp_path / "big.bin").stat().st_size <= 2 * 1024 * 1024


CONNECT = "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3); print('connected')"


def test_no_network_inside_the_sandbox(tmp_path, listener):
    port, accepted = listener
    result = runner.run([PY, "-c", CONNECT, port], cwd=tmp_path, timeout=20, check=False)
    assert result.returncode != 0
    assert "connected" not in result.stdout
    assert "OSError" in result.stderr or "Error" in result.stderr
    time.sleep(0.3)
    assert accepted == []
    # Control: the same program reaches the listener when network is allowed.
    result = runner.run([PY, "-c", CONNECT, port], cwd=tmp_path, timeout=20, network=True)
    assert "connected" in result.stdout
    deadline = time.monotonic() + 2
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(accepted) == 1


def test_stderr_tail_is_in_the_message(tmp_path):
    script = "import sys; sys.stderr.write('noise ' * 2000 + 'THE REAL REASON'); sys.exit(3)"
    with pytest.raises(ConversionFailed) as err:
        runner.run([PY, "-c", script], cwd=tmp_path, timeout=20, tool="talker")
    message = err.value.message
    assert message.startswith("talker could not convert the file: ...")
    assert message.endswith("THE REAL REASON")
    assert len(message) < 700


def test_exit_code_without_output_is_reported(tmp_path):
    with pytest.raises(ConversionFailed) as err:
        runner.run(["sh", "-c", "exit 7"], cwd=tmp_path, timeout=10, tool="quiet")
    assert err.value.message == "quiet failed (exit code 7)."


def test_on_tick_raising_canceled_stops_the_tool(tmp_path):
    ticks = []

    def on_tick():
        ticks.append(time.monotonic())
        if len(ticks) >= 2:
            raise Canceled("job-1")

    started = time.monotonic()
    with pytest.raises(Canceled):
        runner.run(["sh", "-c", FORKING], cwd=tmp_path, timeout=60, on_tick=on_tick)
    assert time.monotonic() - started < 2
    wait_for_file(tmp_path / "child.pid")
    wait_for_file(tmp_path / "grandchild.pid")
    assert gone_soon(FORKING) and gone_soon(GRANDCHILD)


def test_tool_runs_in_its_folder_with_a_private_home(tmp_path):
    script = "import os; print(os.getcwd()); print(os.environ['HOME']); print(os.environ['TMPDIR'])"
    result = runner.run([PY, "-c", script], cwd=tmp_path, timeout=20)
    assert result.stdout.split() == [str(tmp_path)] * 3
    assert result.returncode == 0 and result.seconds > 0


def test_a_missing_tool_is_transient(tmp_path):
    with pytest.raises((TransientError, ConversionFailed)) as err:
        runner.run(["/nonexistent/tool"], cwd=tmp_path, timeout=5)
    assert "tool" in err.value.message


def test_a_real_tool_out_of_memory_is_explained(tmp_path):
    require(shutil.which("rsvg-convert"), "rsvg-convert (librsvg2-bin) is not installed")
    (tmp_path / "huge.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="30000" height="30000"/>')
    with pytest.raises(ConversionFailed) as err:
        runner.run(["rsvg-convert", "-o", "out.png", "huge.svg"], cwd=tmp_path, timeout=20, memory_mb=256)
    assert err.value.message.startswith("rsvg-convert ran out of memory")

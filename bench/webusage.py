"""What a process family costs, counted for bench/direct.py: socket and file bytes, CPU; a streamed multipart POST."""

import http.client
import re
import subprocess
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psutil


# --- Measuring the web process ------------------------------------------------------
# rchar/wchar count read()/write() on files and pipes but not recv()/send() on sockets, and
# psutil's CPU times tick at 10 ms: so socket bytes come from the kernel's per-socket counters
# (`ss -tin`, sampled every 20 ms) and CPU from each thread's schedstat (nanoseconds).

_SOCKET = re.compile(r"(\S+)\s+(\S+)\s+users:\(.*?pid=(\d+),")


def _sockets(pids):
    """{(local, peer): (bytes received, bytes acked)} of the TCP connections the processes hold."""
    out, key = {}, None
    for line in subprocess.run(["ss", "-tinpH"], capture_output=True, text=True, check=True).stdout.splitlines():
        if not line.startswith(("\t", " ")):
            found = _SOCKET.search(line)
            key = found.group(1, 2) if found and int(found.group(3)) in pids else None
        elif key:
            counts = dict(re.findall(r"\b(bytes_received|bytes_acked):(\d+)", line))
            out[key] = (int(counts.get("bytes_received", 0)), int(counts.get("bytes_acked", 0)))
    return out


def _thread_ns(proc):
    total = 0
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            pass
    return total


class SocketWatch(threading.Thread):
    """Bytes on the processes' TCP connections while it runs: `ss` every 20 ms, each connection's largest
    counts less its counts at the start, so one opened and closed meanwhile (over 20 ms) counts too."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        master = psutil.Process(pid)
        self.pids = {pid, *(p.pid for p in master.children(recursive=True))}
        self.start_counts = _sockets(self.pids)
        self.seen, self.done = dict(self.start_counts), threading.Event()

    def _sample(self):
        for key, counts in _sockets(self.pids).items():
            old = self.seen.get(key, (0, 0))
            self.seen[key] = (max(old[0], counts[0]), max(old[1], counts[1]))

    def run(self):
        while not self.done.wait(0.02):
            self._sample()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()
        self._sample()

    def moved(self):
        got = sum(v[0] - self.start_counts.get(k, (0, 0))[0] for k, v in self.seen.items())
        return got, sum(v[1] - self.start_counts.get(k, (0, 0))[1] for k, v in self.seen.items())


def usage(pid):
    """Snapshot of a process and its children: file I/O, CPU (schedstat ns and psutil ticks)."""
    master = psutil.Process(pid)
    files, ns, ticks = [0, 0], 0, 0.0
    for p in [master, *master.children(recursive=True)]:
        try:
            io, cpu = p.io_counters(), p.cpu_times()
            ns += _thread_ns(p)
        except (psutil.NoSuchProcess, FileNotFoundError):
            continue
        files[0] += io.read_chars
        files[1] += io.write_chars
        ticks += cpu.user + cpu.system
    return {"files": tuple(files), "cpu": ns / 1e9, "ticks": ticks}


def delta(after, before, sockets):
    """(socket bytes in, out, file bytes read, written, CPU s, CPU s by psutil) between two snapshots."""
    files = [a - b for a, b in zip(after["files"], before["files"], strict=True)]
    return (*sockets.moved(), *files, after["cpu"] - before["cpu"], after["ticks"] - before["ticks"])


def add(*deltas):
    return tuple(sum(xs) for xs in zip(*deltas, strict=True))


def post_file(url, fields, path, filename, on_answer=None):
    """A multipart POST of `fields` then `path` as the field `file`, read from disk 1 MB at a time.

    `on_answer()` runs once the answer is read, before the connection closes.
    """
    boundary = uuid.uuid4().hex
    pre = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    pre += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    post = f"\r\n--{boundary}--\r\n".encode()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=900)
    conn.putrequest("POST", parts.path + (f"?{parts.query}" if parts.query else ""))
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(pre) + path.stat().st_size + len(post)))
    conn.endheaders()
    conn.send(pre)
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            conn.send(chunk)
    conn.send(post)
    resp = conn.getresponse()
    body = resp.read()
    extra = on_answer() if on_answer else None
    conn.close()
    return resp.status, body, extra

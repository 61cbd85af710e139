"""Load helpers for bench/pipeline.py: requests/second and the upload RSS probe."""

import http.client
import multiprocessing
import re
import shutil
import subprocess
import threading
import time
from urllib.parse import urlsplit

import psutil

# --- Requests per second ----------------------------------------------------


def requests_per_second(url, seconds=8, connections=16):
    """(requests/second, requests answered, tool) against `url` from loopback: wrk when
    installed, else Python processes."""
    if shutil.which("wrk"):
        return (*_wrk(url, seconds, connections), "wrk")
    return (*_python_load(url, seconds, connections), "python")


def cpu_seconds(master_pid):
    """CPU time used so far by a process's children (gunicorn's workers)."""
    total = 0.0
    for p in psutil.Process(master_pid).children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _wrk(url, seconds, connections):
    out = subprocess.run(
        # A 10 s timeout: a slow answer counts in the rate instead of as a socket error.
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    answered = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if errors or socket_errors:
        raise RuntimeError(f"load run against {url} had errors:\n{out}")
    return rps, answered


def _python_worker(url, seconds, counter, failures):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    deadline = time.monotonic() + seconds
    done = bad = 0
    while time.monotonic() < deadline:
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        resp.read()
        done += 1
        bad += resp.status != 200
    with counter.get_lock():
        counter.value += done
    with failures.get_lock():
        failures.value += bad


def _python_load(url, seconds, connections):
    counter, failures = multiprocessing.Value("l", 0), multiprocessing.Value("l", 0)
    procs = [
        multiprocessing.Process(target=_python_worker, args=(url, seconds, counter, failures))
        for _ in range(connections)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if failures.value:
        raise RuntimeError(f"{failures.value} non-200 answers from {url}")
    return counter.value / seconds, counter.value


# --- Upload RSS ---------------------------------------------------------------


class RssSampler:
    """Samples the RSS of a process's children (gunicorn's workers) every few ms."""

    def __init__(self, master_pid, interval=0.01):
        self.procs = psutil.Process(master_pid).children(recursive=True)
        self.baseline = {p.pid: p.memory_info().rss for p in self.procs}
        self.peak = dict(self.baseline)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for p in self.procs:
                try:
                    self.peak[p.pid] = max(self.peak[p.pid], p.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def growth(self):
        """(largest RSS increase of any one worker, that worker's baseline), in bytes."""
        pid = max(self.peak, key=lambda k: self.peak[k] - self.baseline[k])
        return self.peak[pid] - self.baseline[pid], self.baseline[pid]


def stream_upload(base_url, head, total_bytes, name="big.png", target="webp", chunk=1024 * 1024):
    """POST a multipart upload of `total_bytes` (`head` then zeros), generated as it is sent."""
    boundary = "convertallbench0123456789"
    pre = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"targetFormat\"\r\n\r\n{target}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    post = f"\r\n--{boundary}--\r\n".encode()
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    conn.putrequest("POST", "/api/v1/convert")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(pre) + total_bytes + len(post)))
    conn.endheaders()
    conn.send(pre + head)
    zeros = bytes(chunk)
    left = total_bytes - len(head)
    while left > 0:
        conn.send(zeros[: min(chunk, left)])
        left -= chunk
    conn.send(post)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body

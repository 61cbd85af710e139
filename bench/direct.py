"""Direct uploads (issue 12): what a big file costs the web process through `uploadId`, counted.

On the production-shaped stack (scripts/stack.py: gunicorn with 2 workers,
PostgreSQL, its own Redis and its own moto S3 server, as bench/costs.py starts
them) a BENCH_DIRECT_MB (1024) file is sent two ways and the web process (the
gunicorn master and its workers) is read from /proc before and after:

- **uploadId**: `POST /api/v1/uploads` (presign), the client POSTs the file to
  S3 with the presigned fields (streamed from disk), then `POST
  /api/v1/convert` with the uploadId;
- **multipart**: `POST /api/v1/convert` with the file as the `file` field
  (streamed from disk), the path curl users keep.

The file is an 8x8 PNG followed by zeros (sparse on disk), named .png and
converted to WEBP: the converter reads only the image, so the job is cheap
and the bytes moved are the upload's. Summed over the web process's family
(bench/webusage.py): socket bytes from the kernel's per-connection counters
(`ss -tin`), file bytes from /proc rchar/wchar, CPU from each thread's
schedstat (ns; psutil's 10 ms ticks beside it); counts, not wall time, so the
shared machine's load matters little. The same uploadId measure for a small PNG is the fixed cost
of the two API calls: the big file's figures less the small one's are what
the web spent on the file itself.

Then S3 requests per job on the uploadId path for BENCH_DIRECT_JOBS (10)
small PNG -> WEBP jobs (presign, S3 POST, convert, poll, download through the
presigned URL), from moto's request log, against the target: 2 by the job
(read the upload, write the output) plus 1 for the download.
"""

import collections
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from bench.costs import _s3_requests, own_servers
from bench.pipeline import BENCH_ENV, png
from bench.webusage import SocketWatch, add, delta, post_file, usage
from scripts.stack import Stack

MB = int(os.environ.get("BENCH_DIRECT_MB", "1024"))
JOBS = int(os.environ.get("BENCH_DIRECT_JOBS", "10"))
BIG_RUNS = int(os.environ.get("BENCH_DIRECT_BIG_RUNS", "5"))
SMALL_RUNS = 5
WARM_RUNS = 6  # each gunicorn worker's first requests import boto3, libmagic...
CPU_TARGET = 0.020


def make_file(folder, megabytes, seed):
    """An 8x8 PNG then zeros up to `megabytes` (a sparse file: nothing held in memory)."""
    path = folder / f"big-{seed}.png"
    with open(path, "wb") as f:
        f.write(png(8, 8, seed=seed))
        f.truncate(megabytes * 1024 * 1024)
    return path


# --- The two paths ------------------------------------------------------------------


def direct(base, pid, path):
    """Presign, POST the file to S3, convert by uploadId: web usage over the two calls and over the whole.

    One keep-alive connection to the web for both calls, snapshots taken while it is open.
    """
    with requests.Session() as http:
        with SocketWatch(pid) as presign_sockets:
            start = usage(pid)
            answer = http.post(f"{base}/api/v1/uploads", json={"filename": "big.png"})
            assert answer.status_code == 201, answer.text
            answer = answer.json()
            presigned = usage(pid)
        with SocketWatch(pid) as send_sockets:
            status, body, _ = post_file(answer["url"], answer["fields"], path, "big.png")
            assert status in (200, 201, 204), (status, body[:300])
            sent = usage(pid)
        with SocketWatch(pid) as convert_sockets:
            resp = http.post(f"{base}/api/v1/convert", json={"uploadId": answer["uploadId"], "targetFormat": "webp"})
            assert resp.status_code == 202, resp.text
            end = usage(pid)
    presign, convert = delta(presigned, start, presign_sockets), delta(end, sent, convert_sockets)
    calls = add(presign, convert)
    return {"calls": calls, "window": add(calls, delta(sent, presigned, send_sockets)), "job": resp.json()["jobId"],
            "presign": presign, "convert": convert}  # fmt: skip


def multipart(base, pid, path):
    with SocketWatch(pid) as sockets:
        start = usage(pid)
        status, body, end = post_file(f"{base}/api/v1/convert", {"targetFormat": "webp"}, path, "big.png",
                                      on_answer=lambda: usage(pid))  # fmt: skip
    assert status == 202, (status, body[:300])
    used = delta(end, start, sockets)
    return {"calls": used, "window": used, "job": json.loads(body)["jobId"]}


def finish(base, job_id, delete=True, timeout=900):
    """Wait for the job to end (its worker fetches the whole upload); its status; then free its files."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{base}/api/v1/status/{job_id}").json()
        if body["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    if delete:
        requests.delete(f"{base}/api/v1/jobs/{job_id}")
    error = body.get("error") or {}
    return body["status"], error.get("code", "") if isinstance(error, dict) else str(error)


def idle_rate(pid, seconds=3.0):
    with SocketWatch(pid) as sockets:
        before = usage(pid)
        time.sleep(seconds)
        after = usage(pid)
    return tuple(x / seconds for x in delta(after, before, sockets))


# --- S3 requests per job ------------------------------------------------------------


def s3_kind(request):
    """moto's log line kind, with the presigned POST (to the bucket, no key in the path) named."""
    return "POST bucket (the client's presigned upload)" if request == "POST other" else request


def count_s3(base, moto_log, count, first_seed):
    """S3 requests over `count` small uploadId jobs, each presigned, sent, converted, polled and downloaded."""
    before = collections.Counter(_s3_requests(moto_log.read_text(errors="replace")))
    with requests.Session() as http:
        for seed in range(first_seed, first_seed + count):
            answer = http.post(f"{base}/api/v1/uploads", json={"filename": "p.png"}).json()
            image = {"file": ("p.png", png(64, 48, seed=seed))}
            sent = requests.post(answer["url"], data=answer["fields"], files=image)
            assert sent.status_code in (200, 201, 204), sent.text
            resp = http.post(f"{base}/api/v1/convert", json={"uploadId": answer["uploadId"], "targetFormat": "webp"})
            assert resp.status_code == 202, resp.text
            status, code = finish(base, resp.json()["jobId"], delete=False)
            assert status == "succeeded", (status, code)
            redirect = http.get(f"{base}/api/v1/download/{resp.json()['jobId']}", allow_redirects=False)
            assert redirect.status_code == 302, redirect.status_code
            requests.get(redirect.headers["Location"]).raise_for_status()
    time.sleep(0.5)  # moto writes its log line after answering
    after = collections.Counter(_s3_requests(moto_log.read_text(errors="replace")))
    return {s3_kind(k): v / count for k, v in (after - before).items()}


# --- The run ------------------------------------------------------------------------


def measure(stack, folder, moto_log):
    web = next(p for p in stack.processes if p.name == "web").proc.pid
    small = folder / "small.png"
    for i in range(WARM_RUNS):
        small.write_bytes(png(64, 48, seed=100 + i))
        finish(stack.url, direct(stack.url, web, small)["job"])
        finish(stack.url, multipart(stack.url, web, small)["job"])
    out = {"idle": idle_rate(web), "small": []}
    for i in range(SMALL_RUNS):
        small.write_bytes(png(64, 48, seed=200 + i))
        run = direct(stack.url, web, small)
        run["status"] = finish(stack.url, run["job"])
        out["small"].append(run)
    out["direct"] = []
    for i in range(BIG_RUNS):
        run = direct(stack.url, web, make_file(folder, MB, seed=300 + i))
        run["status"] = finish(stack.url, run["job"])
        out["direct"].append(run)
    big = make_file(folder, MB, seed=310)
    out["multipart"] = multipart(stack.url, web, big)
    out["multipart"]["status"] = finish(stack.url, out["multipart"]["job"])
    out["s3"] = count_s3(stack.url, moto_log, JOBS, first_seed=400)
    return out


def run():
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-direct-") as tmp:
        folder = Path(tmp)
        with own_servers(folder) as (redis_url, moto_log):
            with Stack(queues=("media",), redis_url=redis_url, log_dir=str(folder), extra_env=BENCH_ENV) as stack:
                out = measure(stack, folder, moto_log)
    load.append(os.getloadavg()[0])
    return render(out, load)


# --- Report -------------------------------------------------------------------------


def _kib(n):
    return f"{n / 1024:,.1f} KiB" if abs(n) < 1024**2 else f"{n / 1024**2:,.1f} MiB"


def _row(label, used, status):
    sin, sout, fr, fw, cpu, ticks = used
    return (f"| {label} | {_kib(sin)} / {_kib(sout)} | {_kib(fr)} / {_kib(fw)} | {cpu * 1000:.1f} ms | "
            f"{ticks * 1000:.0f} ms | {status} |")  # fmt: skip


def _median_run(runs):
    pick = lambda key: tuple(statistics.median(r[key][i] for r in runs) for i in range(6))  # noqa: E731
    statuses = collections.Counter(r["status"] for r in runs)
    return {"calls": pick("calls"), "window": pick("window"), "presign": pick("presign"), "convert": pick("convert"),
            "cpus": [r["calls"][4] for r in runs],
            "status": ", ".join(f"{n} {' '.join(x for x in s if x)}" for s, n in statuses.items())}  # fmt: skip


def _status(run):
    return " ".join(x for x in run["status"] if x)


def render(out, load):
    small, big, multi = _median_run(out["small"]), _median_run(out["direct"]), out["multipart"]
    lines = [
        f"Web process (gunicorn master + 2 workers x 4 threads) on PostgreSQL + Redis + S3 (moto), over the API "
        f"calls (uploadId: presign + convert; multipart: the convert POST). The {MB} MiB file is an 8x8 PNG then "
        f"zeros, streamed from disk, converted to WEBP (the job runs to its end in the worker). 1-minute load "
        f"average {load[0]:.1f} -> {load[1]:.1f} on {os.cpu_count()} cores (counts and CPU time depend little on it).",
        "",
        "| path | web socket bytes in / out | web file bytes read / written | web CPU (schedstat) | "
        "web CPU (psutil, 10 ms ticks) | job |",
        "|---|---:|---:|---:|---:|---|",
        _row(f"uploadId, small PNG (median of {SMALL_RUNS})", small["calls"], small["status"]),
        _row(f"uploadId, {MB} MiB (median of {BIG_RUNS})", big["calls"], big["status"]),
        _row(f"uploadId, {MB} MiB, whole window (with the client's POST to S3)", big["window"], ""),
        _row(f"multipart `file`, {MB} MiB", multi["calls"], _status(multi)),
    ]
    return "\n".join(lines + [""] + _findings(small, big, multi, out["idle"])) + "\n\n" + render_s3(out["s3"])


def _findings(small, big, multi, idle):
    ok = lambda good: "met" if good else "**missed**"  # noqa: E731
    moved = [b - s for b, s in zip(big["window"][:4], small["window"][:4], strict=True)]
    cpu, cpu_extra = big["calls"][4], big["calls"][4] - small["calls"][4]
    return [
        f"- Bytes of the {MB} MiB file moved by the web process through uploadId (the whole window less the small "
        f"upload's calls, medians): sockets in {_kib(moved[0])} / out {_kib(moved[1])}, files read {_kib(moved[2])} / "
        f"written {_kib(moved[3])}; target 0 bytes: {ok(max(abs(x) for x in moved) < 64 * 1024)} (what the calls "
        f"move is requests, answers, PostgreSQL and Redis, the same for any file size).",
        f"- Web CPU for the {MB} MiB upload through uploadId (presign + convert): {cpu * 1000:.1f} ms "
        f"(runs: {', '.join(f'{c * 1000:.1f}' for c in big['cpus'])}; presign {big['presign'][4] * 1000:.1f} ms, "
        f"convert {big['convert'][4] * 1000:.1f} ms; {cpu_extra * 1000:+.1f} ms against the small file's "
        f"{small['calls'][4] * 1000:.1f} ms); target < {CPU_TARGET * 1000:.0f} ms: {ok(cpu < CPU_TARGET)}.",
        f"- The same file as multipart `file`: the web received {_kib(multi['calls'][0])} and sent "
        f"{_kib(multi['calls'][1])} on sockets, read {_kib(multi['calls'][2])} and wrote {_kib(multi['calls'][3])} "
        f"of files, and spent {multi['calls'][4] * 1000:.0f} ms of CPU ({multi['calls'][5] * 1000:.0f} ms by "
        f"psutil, which also counts exited threads): {max(multi['calls'][4:]) / cpu:.0f}x the uploadId path's.",
        f"- Idle web process, for scale: {idle[4] * 1000:.2f} ms CPU/s, sockets {_kib(idle[0])}/s in, "
        f"{_kib(idle[1])}/s out.",
        "- Socket bytes are the kernel's per-connection counters (`ss -tin`, sampled every 20 ms, so a connection "
        "that lives under 20 ms can be missed; the S3 table below shows which process made each S3 request); "
        "file bytes are "
        "/proc rchar/wchar, which do not see recv/send on sockets; CPU is the sum of each live thread's "
        "schedstat run time (ns), psutil's ticks beside it.",
    ]


def render_s3(s3):
    client = {"POST bucket (the client's presigned upload)", "GET outputs"}
    job = sum(v for k, v in s3.items() if k not in client)
    download = s3.get("GET outputs", 0)
    ok = lambda good: "met" if good else "**missed**"  # noqa: E731
    lines = [
        f"S3 requests per job on the uploadId path, from moto's request log: {JOBS} small PNG -> WEBP jobs, each "
        "presigned, POSTed to S3 by the client, converted, polled and downloaded through its presigned URL.",
        "",
        "| request | per job | by |",
        "|---|---:|---|",
    ]
    who = {"HEAD uploads": "web (before this change: the convert call asked whether the upload was there)", "GET uploads": "worker (fetch)",
           "PUT outputs": "worker (store the output)", "GET outputs": "client (presigned download)"}  # fmt: skip
    for name, value in sorted(s3.items()):
        lines.append(f"| `{name}` | {value:g} | {who.get(name, 'client' if name in client else '?')} |")
    lines += [
        f"| by the job (web + worker; the client's upload POST and download apart) | {job:g} | target <= 2: "
        f"{ok(job <= 2)} |",
        f"| for the download (presigned GET) | {download:g} | target <= 1: {ok(download <= 1)} |",
    ]
    return "\n".join(lines)

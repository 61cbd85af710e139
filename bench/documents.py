"""Documents benchmark (issue 3): the warm LibreOffice against a cold soffice.

All in one run, on documents the tools make first (tests/documents_fixtures):

- **cold**: `soffice --headless --convert-to pdf` of a 10-page DOCX, a new
  process each time (its profile made once beforehand, as a server's would be);
- **bare warm**: the same file through one warm bridge (conversions/documents/lo_bridge.py),
  the LibreOffice call alone, no Django, no job;
- **job**: the production shape (scripts/stack.py: PostgreSQL, Redis, S3,
  one documents worker with 2 threads), submitted over HTTP and polled:
  end-to-end (finishedAt - createdAt) and the converter's own seconds;
- **throughput**: a mix of docx, xlsx and pptx -> pdf submitted at once to
  that one worker; conversions per minute from first created to last finished,
  with OFFICE_POOL_SIZE 1 and 2;
- **pool**: the same mix straight into the worker's pool of warm LibreOffice
  instances (OfficeManager, no stack), two threads as in the worker, with a
  pool of 1 and of 2, alternated BENCH_DOC_POOL_ROUNDS times (default 3).

Every upload differs by one metadata field: the result cache would otherwise
answer repeats without converting. Sizes: BENCH_DOC_RUNS (default 9),
BENCH_DOC_MIX (jobs per format in the mix, default 8).
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_DOC_RUNS", "9"))
MIX = int(os.environ.get("BENCH_DOC_MIX", "8"))
POOL_ROUNDS = int(os.environ.get("BENCH_DOC_POOL_ROUNDS", "3"))
POOL_TARGET = 1.6
PAGES = 10
BENCH_ENV = {
    "LOG_LEVEL": "INFO",  # the worker's office lines carry LibreOffice's own seconds
    "LOG_FORMAT": "plain",
    "RATE_LIMIT": "1000000/min",
    "QUOTA_ANONYMOUS_MAX_UPLOAD_MB": "0",
    "QUOTA_ANONYMOUS_JOBS_PER_DAY": "0",
    "QUOTA_ANONYMOUS_CONCURRENT_JOBS": "0",
}


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convertall.settings")
    import django

    django.setup()


def variant(src, dst, nonce):
    """The same document with one metadata field changed (a distinct upload)."""
    from tests.hostile_documents import rewrite_zip

    seen = []

    def edit(name, text):
        if name == "docProps/core.xml":
            seen.append(name)
            return text.replace("</cp:coreProperties>", f"<dc:description>run {nonce}</dc:description></cp:coreProperties>")
        return text

    rewrite_zip(src, dst, edit)
    assert seen, f"{src.name} has no docProps/core.xml to vary"
    return dst


def ten_page_docx(root):
    """A DOCX that LibreOffice lays out on exactly PAGES pages (text, headings)."""
    from pypdf import PdfReader

    from tests.documents_fixtures import cold_soffice, pandoc, report_md

    md = root / "ten.md"
    for chapters in range(5, 20):
        md.write_text(report_md(chapters))
        pandoc(md, root / "ten.docx")
        pdf = cold_soffice(root / "ten.docx", "pdf", root)
        if len(PdfReader(str(pdf)).pages) >= PAGES:
            return root / "ten.docx", len(PdfReader(str(pdf)).pages)
    raise RuntimeError("could not make a 10-page docx")


def cold_runs(docx, runs):
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        profile = Path(tmp) / "profile"
        argv = ["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                "--convert-to", "pdf", "--outdir", tmp, str(docx)]  # fmt: skip
        subprocess.run(argv, check=True, capture_output=True, timeout=300)  # makes the profile once
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, timeout=300)
            times.append(time.perf_counter() - t0)
    return times


def bare_runs(docx, runs):
    from conversions.documents.office import OfficeJob
    from conversions.documents.office_bridge import BridgeProcess

    times = []
    bridge = BridgeProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
            request = OfficeJob.plan(docx, "docx", Path(tmp) / "out.pdf", "pdf").request()
            for _ in range(3):  # the first documents warm fonts, filters and layout caches
                bridge.call(request, 300)
            for _ in range(runs):
                t0 = time.perf_counter()
                reply = bridge.call(request, 300)
                times.append(time.perf_counter() - t0)
                assert reply["ok"], reply
    finally:
        bridge.stop()
    return times


def submit(http, base, path):
    resp = http.post(f"{base}/api/v1/convert", files={"file": (path.name, path.read_bytes())}, data={"targetFormat": "pdf"})
    if resp.status_code != 202:
        raise RuntimeError(f"submit answered {resp.status_code}: {resp.text[:300]}")
    return resp.json()["statusUrl"]


def wait(http, status_url, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = http.get(status_url).json()
        if body["status"] not in ("queued", "running"):
            if body["status"] != "succeeded":
                raise RuntimeError(f"job {body['jobId']} {body['status']}: {body.get('error')}")
            return body
        # Server timestamps give the times; slow polling keeps the client off the two cores.
        time.sleep(0.1)
    raise RuntimeError(f"{status_url} did not finish")


def job_runs(stack, docx, runs, workdir):
    from bench.pipeline import iso, job_timings

    e2e, ids = [], []
    with requests.Session() as http:
        wait(http, submit(http, stack.url, variant(docx, workdir / "warmup.docx", "warmup")))  # starts the bridge
        for i in range(runs):
            body = wait(http, submit(http, stack.url, variant(docx, workdir / f"job-{i}.docx", i)))
            e2e.append((iso(body["finishedAt"]) - iso(body["createdAt"])).total_seconds())
            ids.append(body["jobId"])
    timings = job_timings(stack, ids)
    return e2e, [timings[i]["converter"] for i in ids], ids


def throughput(stack, files, per_format, workdir):
    from bench.pipeline import iso

    paths = [variant(files[fmt], workdir / f"mix-{fmt}-{i}.{fmt}", f"mix{i}")
             for i in range(per_format) for fmt in ("docx", "xlsx", "pptx")]  # fmt: skip
    with requests.Session() as http:
        urls = [submit(http, stack.url, p) for p in paths]
        bodies = [wait(http, u) for u in urls]
    first = min(iso(b["createdAt"]) for b in bodies)
    last = max(iso(b["finishedAt"]) for b in bodies)
    seconds = (last - first).total_seconds()
    return len(bodies), seconds, len(bodies) / seconds * 60


def pool_round(threads, manager, jobs):
    """Conversions per minute of `jobs` through `manager` from two threads (the worker's)."""
    started = time.monotonic()
    replies = list(threads.map(lambda job: manager.convert(job.request()), jobs))
    seconds = time.monotonic() - started
    if not all(r.get("ok") for r in replies):
        raise RuntimeError(f"a pool conversion failed: {[r for r in replies if not r.get('ok')][:1]}")
    return len(jobs) / seconds * 60


def pool_runs(files, per_format, workdir, rounds):
    from conversions.documents.office import OfficeJob
    from conversions.documents.office_bridge import OfficeManager

    formats = ("docx", "xlsx", "pptx")
    jobs = [OfficeJob.plan(files[fmt], fmt, workdir / f"pool-{fmt}-{i}.pdf", "pdf")
            for i in range(per_format) for fmt in formats]  # fmt: skip
    from concurrent.futures import ThreadPoolExecutor

    managers = {size: OfficeManager(size) for size in (1, 2)}
    rates = {1: [], 2: []}
    # Long-lived threads as in a worker: a sandboxed bridge dies with the thread that started it.
    threads = ThreadPoolExecutor(max_workers=2)
    try:
        for manager in managers.values():  # every instance started and warm before timing
            pool_round(threads, manager, jobs[: 2 * len(formats)])
        for i in range(rounds):
            for size in ((1, 2) if i % 2 == 0 else (2, 1)):
                rates[size].append(pool_round(threads, managers[size], jobs))
    finally:
        threads.shutdown()
        for manager in managers.values():
            manager.shutdown()
    return rates


def run():
    sys.path.insert(0, str(ROOT))
    _django()
    from scripts.stack import Stack
    from tests.documents_fixtures import build_documents

    with tempfile.TemporaryDirectory(prefix="bench-documents-") as tmp:
        root = Path(tmp)
        (root / "files").mkdir()
        files = build_documents(root / "files")
        docx, pages = ten_page_docx(root)
        cold = cold_runs(docx, RUNS)
        bare = bare_runs(docx, RUNS)
        (root / "logs").mkdir()
        load = [os.getloadavg()[0]]
        pool = pool_runs(files, MIX, root, POOL_ROUNDS)
        load.append(os.getloadavg()[0])
        with Stack(queues=("documents",), threads={"documents": 2}, extra_env=BENCH_ENV, log_dir=root / "logs") as stack:
            e2e, conv, ids = job_runs(stack, docx, RUNS, root)
            jobs, seconds, per_minute = throughput(stack, files, MIX, root)
        inside = office_seconds(root / "logs" / "worker-documents.log", ids)
        (root / "logs2").mkdir()
        with Stack(queues=("documents",), threads={"documents": 2}, extra_env={**BENCH_ENV, "OFFICE_POOL_SIZE": "2"},
                   log_dir=root / "logs2") as stack:
            throughput(stack, files, 1, root)  # both instances started
            _, seconds2, per_minute2 = throughput(stack, files, MIX, root)
        load.append(os.getloadavg()[0])
    text = render(pages, cold, bare, e2e, conv, inside, jobs, seconds, per_minute)
    return text + render_pool(pool, MIX * 3, (seconds2, per_minute2), load)


def render_pool(rates, jobs, stack2, load):
    med = statistics.median
    one, two = med(rates[1]), med(rates[2])
    pairs = ", ".join(f"{b / a:.2f}x" for a, b in zip(rates[1], rates[2], strict=True))
    verdict = "met" if two / one > POOL_TARGET else "**missed**"
    return f"""
Pool of warm LibreOffice instances (OFFICE_POOL_SIZE), {jobs} conversions (docx, xlsx, pptx -> pdf) from two
threads straight into the worker's pool (no stack), {len(rates[1])} alternated rounds, medians:

| pool size | conversions/minute | rounds |
|---:|---:|---|
| 1 | {one:.0f} | {", ".join(f"{r:.0f}" for r in rates[1])} |
| 2 | {two:.0f} | {", ".join(f"{r:.0f}" for r in rates[2])} |

- Pool of 2 over pool of 1: **{two / one:.2f}x** (per round: {pairs}; target > {POOL_TARGET}x: {verdict}).
- Through the whole stack (one worker, 2 threads) with OFFICE_POOL_SIZE=2: **{stack2[1]:.0f} conversions/minute**
  ({stack2[0]:.1f} s for {jobs} jobs) against the pool-of-1 figure above.
- 1-minute load average {" / ".join(f"{x:.1f}" for x in load)} (start / after the pool rounds / end).
"""


def office_seconds(log, ids):
    """Per job: (round trip to the bridge, LibreOffice's own seconds inside it), from the worker's log."""
    found = {}
    for line in log.read_text(errors="replace").splitlines():
        match = re.search(r"office job=(\S+) .* seconds=([\d.]+) office_seconds=([\d.]+)", line)
        if match and match.group(1) in ids:
            found[match.group(1)] = (float(match.group(2)), float(match.group(3)))
    return [found[i] for i in ids if i in found]


def render(pages, cold, bare, e2e, conv, inside, jobs, seconds, per_minute):
    med = statistics.median
    speedup = med(cold) / med(e2e)
    conv_over = (med(conv) - med(bare)) / med(bare) * 100
    e2e_over = (med(e2e) - med(bare)) / med(bare) * 100
    trip = [t for t, _ in inside] or [float("nan")]
    lo = [o for _, o in inside] or [float("nan")]
    own_over = (med(conv) - med(lo)) / med(lo) * 100
    ok = lambda good: "met" if good else "**missed**"  # noqa: E731
    return f"""\
DOCX ({pages} pages) -> PDF, {len(cold)} runs each, medians (min-max):

| path | seconds |
|---|---|
| cold `soffice --headless --convert-to pdf` | {med(cold):.3f} ({min(cold):.3f}-{max(cold):.3f}) |
| bare warm bridge call, outside any worker (LibreOffice alone) | {med(bare):.3f} ({min(bare):.3f}-{max(bare):.3f}) |
| in the worker: LibreOffice's own time inside the bridge | {med(lo):.3f} ({min(lo):.3f}-{max(lo):.3f}) |
| in the worker: round trip to the bridge | {med(trip):.3f} ({min(trip):.3f}-{max(trip):.3f}) |
| job converter seconds (archive check, bridge, JSON, progress) | {med(conv):.3f} ({min(conv):.3f}-{max(conv):.3f}) |
| job end-to-end, finishedAt - createdAt (Redis + PostgreSQL + S3) | {med(e2e):.3f} ({min(e2e):.3f}-{max(e2e):.3f}) |

- Job end-to-end vs cold soffice: **{speedup:.1f}x faster** (target >= 3x: {ok(speedup >= 3)}).
- Our overhead on the warm LibreOffice call, same process and moment (converter seconds over
  LibreOffice's own seconds in that worker): **{own_over:+.1f}%** (target <= 15%: {ok(own_over <= 15)}).
  Converter seconds over the bare call measured outside the stack: {conv_over:+.1f}%;
  whole job (upload stored, queue, S3 fetch/store, status) over the bare call: {e2e_over:+.1f}%.
- Throughput, one documents worker (1 process, 2 threads, one warm LibreOffice), {jobs} jobs
  (docx, xlsx, pptx -> pdf, submitted at once): **{per_minute:.0f} conversions/minute** ({seconds:.1f} s).
- Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine: wide spreads).
"""

"""Small jobs end to end against their bare tool (issue 12): what a job costs over the tool it runs.

On the embedded default (`make run`: gunicorn with worker threads inside,
SQLite, local files), each job is timed by the client from the start of its
upload to the last byte of its downloaded result: `POST /api/v1/convert?wait=60`
(the answer comes when the job ends) then `GET` of its download URL. Beside
it, interleaved round by round in the same run, the bare tool on the same
file in the bench process:

- 12 MP JPEG -> WebP: one libvips call (pyvips: open, `webpsave` at our
  default Q), no sandbox, no child process;
- md -> html: one `pandoc -s` run of the same pandoc binary, no sandbox;
- docx -> pdf (10 pages): one call to a warm LibreOffice bridge outside any
  worker (the bench's own, started beside the server's).

Every upload differs by a few bytes (a JPEG comment, a markdown line, a
docx metadata field) so the result cache never answers. BENCH_SMALL_ROUNDS
(default 9) rounds; medians, and the median of the per-round ratios.
"""

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from bench.media import BENCH_ENV  # one client, quiet logs, no per-client limits: the same server as media's

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_SMALL_ROUNDS", "9"))
TARGETS = {"jpg-webp": 1.10, "md-html": 1.25, "docx-pdf": 1.20}
NAMES = {
    "jpg-webp": ("12 MP JPEG -> WebP", "one libvips call (open + webpsave at our default Q), in-process"),
    "md-html": ("md -> html (3 pages)", "one `pandoc -s` run"),
    "docx-pdf": ("docx -> pdf (10 pages)", "one call to a warm LibreOffice (bridge outside any worker)"),
}


def _photo(path, n):
    from PIL import Image

    size = (4000, 3000)
    noise = Image.effect_noise(size, 40)
    ramp = Image.linear_gradient("L").resize(size)
    im = Image.merge("RGB", (noise, ramp, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    im.save(path, quality=90, comment=f"bench {n}".encode())


def _files(root):
    """The three sources, once; each round's upload gets a variant made from them."""
    from bench.documents import ten_page_docx
    from tests.documents_fixtures import report_md

    jpg = root / "photo.jpg"
    _photo(jpg, 0)
    md = root / "report.md"
    md.write_text(report_md(pages=3))
    docx, _ = ten_page_docx(root)
    return {"jpg-webp": jpg, "md-html": md, "docx-pdf": docx}


def _variant(case, src, n, root):
    """`src` with a few bytes changed (nothing the converter's work depends on)."""
    if case == "jpg-webp":
        data = src.read_bytes()
        marker = f"bench {n:06d}".encode()  # a JPEG COM segment right after SOI
        return data[:2] + b"\xff\xfe" + (len(marker) + 2).to_bytes(2, "big") + marker + data[2:]
    if case == "md-html":
        return src.read_bytes() + f"\n\nRound {n}.\n".encode()
    from bench.documents import variant

    out = root / f"v{n}.docx"
    variant(src, out, n)
    return out.read_bytes()


def _job(http, base, name, data, target):
    t0 = time.perf_counter()
    resp = http.post(f"{base}/api/v1/convert?wait=60", files={"file": (name, data)}, data={"targetFormat": target})
    body = resp.json()
    while body.get("status") in ("queued", "running"):  # ?wait gave up first: poll
        time.sleep(0.01)
        body = http.get(body["statusUrl"]).json()
    if body.get("status") != "succeeded":
        raise RuntimeError(f"{name} -> {target}: {resp.status_code} {body}")
    out = http.get(body["downloadUrl"])
    out.raise_for_status()
    assert out.content
    return time.perf_counter() - t0


def _bare_vips(src, out):
    from media import vips  # pillow-heif before pyvips, as everywhere

    from media.images.kinds import DEFAULT_QUALITY

    pyvips = vips.pyvips
    t0 = time.perf_counter()
    pyvips.Image.new_from_file(str(src), access="sequential").webpsave(str(out), Q=DEFAULT_QUALITY["webp"])
    return time.perf_counter() - t0


def _bare_pandoc(src, out):
    from conversions.documents.pandoc import pandoc_binary

    t0 = time.perf_counter()
    subprocess.run([pandoc_binary(), "-s", "-o", str(out), str(src)], check=True, timeout=120)
    return time.perf_counter() - t0


def run():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convertall.settings")
    django.setup()
    from conversions.documents.office import OfficeJob
    from conversions.documents.office_bridge import BridgeProcess
    from scripts.stack import Embedded

    load = [os.getloadavg()[0]]
    times = {case: {"job": [], "bare": []} for case in NAMES}
    with tempfile.TemporaryDirectory(prefix="bench-small-") as tmp:
        root = Path(tmp)
        files = _files(root)
        bridge = BridgeProcess()
        try:
            request = OfficeJob.plan(files["docx-pdf"], "docx", root / "bare.pdf", "pdf").request()
            bare = {
                "jpg-webp": lambda: _bare_vips(files["jpg-webp"], root / "bare.webp"),
                "md-html": lambda: _bare_pandoc(files["md-html"], root / "bare.html"),
                "docx-pdf": lambda: _timed(lambda: bridge.call(request, 300)),
            }
            (root / "logs").mkdir()
            with Embedded(log_dir=str(root / "logs"), extra_env=BENCH_ENV) as server, requests.Session() as http:
                for n in range(-2, ROUNDS):  # two rounds to warm: imports, fonts, the warm LibreOffice, caches
                    for case, (name, target) in (("jpg-webp", ("photo.jpg", "webp")),
                                                 ("md-html", ("report.md", "html")),
                                                 ("docx-pdf", ("report.docx", "pdf"))):  # fmt: skip
                        data = _variant(case, files[case], n + 100, root)
                        pair = [("job", lambda: _job(http, server.url, name, data, target)), ("bare", bare[case])]
                        for kind, step in pair if n % 2 else pair[::-1]:  # alternate which goes first
                            seconds = step()
                            if n >= 0:
                                times[case][kind].append(seconds)
        finally:
            bridge.stop()
    load.append(os.getloadavg()[0])
    return render(times, load)


def _timed(call):
    t0 = time.perf_counter()
    reply = call()
    assert reply["ok"], reply
    return time.perf_counter() - t0


def render(times, load):
    lines = [
        f"Embedded default (`make run`'s shape), client-timed from the start of the upload to the last byte of the "
        f"downloaded result (`POST /api/v1/convert?wait=60`, then the download); the bare tool on the same file, "
        f"interleaved round by round; {ROUNDS} rounds, medians. 1-minute load average {load[0]:.1f} -> {load[1]:.1f} "
        f"on {os.cpu_count()} cores.",
        "",
        "| case | bare tool | bare s | job s | job - bare ms | job / bare (median of rounds) | target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for case, (name, bare_name) in NAMES.items():
        job, bare = times[case]["job"], times[case]["bare"]
        ratio = statistics.median(j / b for j, b in zip(job, bare, strict=True))
        target = TARGETS[case]
        verdict = "met" if ratio <= target else "**missed**"
        lines.append(
            f"| {name} | {bare_name} | {statistics.median(bare):.3f} | {statistics.median(job):.3f} | "
            f"{(statistics.median(job) - statistics.median(bare)) * 1000:+.0f} | {ratio:.2f}x | <= {target:.2f}x: "
            f"{verdict} |"
        )
    lines += [
        "",
        "- The job's side includes the upload over loopback, the sniff, the SQLite rows, the sandbox around the "
        "tool (and, for images, the decoder child), storing the result and sending it back: what a user waits for.",
    ]
    return "\n".join(lines)

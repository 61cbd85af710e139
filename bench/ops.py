"""Operations benchmark (issue 7): status polls under load, and recovery after a worker kill.

On the production-shaped set (scripts/stack.py: PostgreSQL + Redis + moto S3,
gunicorn with WEB_CONCURRENCY workers, one Dramatiq worker per queue, the
scheduler):

1. **Idle**: 20 conversions (distinct 0.64 MP noise PNG -> WEBP, one every
   SPACING seconds) with nothing else running; each job's end-to-end time
   (finished - created) and converter seconds from the jobs table.
2. **Loaded**: the same 20 conversions again while `wrk` polls the status
   endpoint of the idle run's 20 jobs at about POLL_RPS requests/second for
   POLL_SECONDS. wrk paces each connection with a fixed delay (closed loop,
   Debian's wrk has no -R), so the rate reached is reported next to the
   target; latency percentiles are wrk's own.
3. **Recovery**: on a second stack with short timings (JOB_LEASE_SECONDS=3,
   RECONCILE_INTERVAL_SECONDS=1), a 4 s job's worker is killed with SIGKILL
   mid-conversion while a second worker waits; time from the kill to the job's
   success, RECOVERY_RUNS times.

Tunable by env: BENCH_POLL_RPS, BENCH_POLL_SECONDS, BENCH_OPS_JOBS,
BENCH_OPS_SPACING, BENCH_RECOVERY_RUNS.
"""

import io
import os
import random
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time

import psycopg
import redis
import requests
from PIL import Image

from scripts.stack import Stack

POLL_RPS = int(os.environ.get("BENCH_POLL_RPS", "1000"))
POLL_SECONDS = int(os.environ.get("BENCH_POLL_SECONDS", "60"))
N_JOBS = int(os.environ.get("BENCH_OPS_JOBS", "20"))
SPACING = float(os.environ.get("BENCH_OPS_SPACING", str(max(POLL_SECONDS - 5, 1) / 20)))
RECOVERY_RUNS = int(os.environ.get("BENCH_RECOVERY_RUNS", "3"))
CONNECTIONS = 32
ENV = {
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT": "1000000/min",
    "QUOTA_ANONYMOUS_JOBS_PER_DAY": "0",
    "QUOTA_ANONYMOUS_CONCURRENT_JOBS": "0",
}
RECOVERY_ENV = {
    **ENV,
    "EXTRA_CONVERTER_MODULES": "tests.e2e.slow_converter",
    "JOB_LEASE_SECONDS": "3",
    "RECONCILE_INTERVAL_SECONDS": "1",
    "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "3000",
    "WORKER_HEARTBEAT_SECONDS": "1",
}


def noise_png(seed, side=800):
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def submit(url, data, target="webp", options=None):
    fields = {"targetFormat": target, "cache": "false"}
    if options:
        fields["options"] = options
    resp = requests.post(f"{url}/api/v1/convert", files={"file": ("n.png", data, "image/png")}, data=fields, timeout=60)
    if resp.status_code != 202:
        raise RuntimeError(f"submit answered {resp.status_code}: {resp.text[:300]}")
    return resp.json()["jobId"]


def job_rows(stack, ids):
    query = "SELECT id::text, status, converter_seconds, EXTRACT(EPOCH FROM finished_at - created_at) FROM jobs"
    with psycopg.connect(stack.database_url) as conn:
        return {r[0]: r[1:] for r in conn.execute(query + " WHERE id::text = ANY(%s)", (ids,)).fetchall()}


def wait_done(stack, ids, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = job_rows(stack, ids)
        if all(rows.get(i, ("queued",))[0] in ("succeeded", "failed") for i in ids):
            bad = [i for i in ids if rows[i][0] != "succeeded"]
            if bad:
                with psycopg.connect(stack.database_url) as conn:
                    why = conn.execute("SELECT error_code, error_message FROM jobs WHERE id::text = %s", (bad[0],)).fetchone()
                raise RuntimeError(f"{len(bad)} job(s) failed, e.g. {why}")
            return rows
        time.sleep(0.2)
    raise RuntimeError("jobs did not finish in time")


def run_conversions(stack, seeds):
    ids = []
    for n, seed in enumerate(seeds):
        next_at = time.monotonic() + SPACING
        ids.append(submit(stack.url, noise_png(seed)))
        if n < len(seeds) - 1:
            time.sleep(max(next_at - time.monotonic(), 0))
    rows = wait_done(stack, ids)
    return ids, [float(rows[i][1]) for i in ids], [float(rows[i][2]) for i in ids]


def wrk_status_polls(stack, ids, seconds, delay_ms=None):
    """wrk on the status endpoint of `ids`, paced to about POLL_RPS; its parsed report.

    Each connection waits `delay_ms` after every answer, so the rate is
    CONNECTIONS / (delay + latency): a short calibration run first measures the
    latency part and shortens the delay to match.
    """
    if delay_ms is None:
        delay_ms = _calibrated_delay(stack, ids)
    paths = ",".join(f'"/api/v1/status/{i}"' for i in ids)
    script = f"""
local paths = {{{paths}}}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
delay = function() return {delay_ms} end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "5s", "-s", fh.name, stack.url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    os.unlink(fh.name)
    return {**parse_wrk(out), "delay_ms": delay_ms}


def _calibrated_delay(stack, ids, seconds=5):
    nominal = CONNECTIONS * 1000 / POLL_RPS
    trial = wrk_status_polls(stack, ids, seconds, delay_ms=int(nominal))
    per_request_ms = CONNECTIONS * 1000 / max(trial["rps"], 1)  # delay + latency, as reached
    return max(int(nominal - (per_request_ms - nominal)), 1)


def parse_wrk(out):
    def ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    pct = {p: ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "pct": pct, "total": total, "errors": errors}


def med(values):
    return statistics.median(values)


def load_phase():
    with Stack(extra_env=ENV, scheduler=True, log_dir=tempfile.mkdtemp(prefix="bench-ops-")) as stack:
        idle_ids, idle_conv, idle_e2e = run_conversions(stack, range(N_JOBS))
        report = {}
        delay = _calibrated_delay(stack, idle_ids)
        poller = threading.Thread(
            target=lambda: report.update(wrk_status_polls(stack, idle_ids, POLL_SECONDS, delay_ms=delay))
        )
        poller.start()
        time.sleep(2)  # let wrk reach its pace before the first conversion
        _, load_conv, load_e2e = run_conversions(stack, range(1000, 1000 + N_JOBS))
        poller.join()
    return {"idle_conv": idle_conv, "idle_e2e": idle_e2e, "load_conv": load_conv, "load_e2e": load_e2e, "wrk": report}


def recovery_phase():
    times = []
    logs = tempfile.mkdtemp(prefix="bench-ops-")
    with Stack(extra_env=RECOVERY_ENV, scheduler=True, threads={"media": 1}, log_dir=logs) as stack:
        client = redis.Redis.from_url(stack.redis_url)
        small = noise_png(0, side=64)
        for run in range(RECOVERY_RUNS):
            victim = [p for p in stack.processes if p.name.startswith("worker-media") and p.alive][0]
            job_id = submit(stack.url, small, target="bmp", options='{"seconds": 4}')
            _wait_status(stack, job_id, "running")
            spare = stack.start_worker("media", name=f"worker-media-{run + 2}")
            _wait(lambda: len(client.zrangebyscore("convertall:workers:media", time.time() - 3, "+inf")) >= 2, 60)
            t0 = time.monotonic()
            victim.signal_group(signal.SIGKILL)
            _wait_status(stack, job_id, "succeeded", timeout=120)
            times.append(time.monotonic() - t0)
            assert spare.alive
        client.close()
    return times


def _wait(cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.05)


def _wait_status(stack, job_id, status, timeout=60):
    _wait(lambda: job_rows(stack, [job_id]).get(job_id, ("",))[0] == status, timeout)


def run():
    before = os.getloadavg()[0]
    load = load_phase()
    recovery = recovery_phase()
    text = report(load, recovery)
    return text + (
        f" Load average (1 min) {before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. In production "
        "the web and the workers run in separate tasks; here they share the same two cores."
    )


def report(load, recovery):
    w = load["wrk"]
    ratio = med(load["load_e2e"]) / med(load["idle_e2e"])
    conv_ratio = med(load["load_conv"]) / med(load["idle_conv"])
    p99 = w["pct"].get("99", float("nan"))
    rows = [
        "| measure | value | target |",
        "|---|---|---|",
        f"| status polls: rate reached (wrk, {CONNECTIONS} connections, {w['delay_ms']} ms pause, {POLL_SECONDS} s) | "
        f"{w['rps']:.0f} req/s ({w['total']} requests) | {POLL_RPS} req/s |",
        f"| status polls: p50 / p90 / p99 latency | {w['pct'].get('50', 0):.1f} / {w['pct'].get('90', 0):.1f} / "
        f"{p99:.1f} ms | p99 < 100 ms {'(met)' if p99 < 100 else '(missed)'} |",
        f"| status polls: errors (non-2xx + socket) | {w['errors']} | 0 |",
        f"| {N_JOBS} conversions end-to-end, median idle -> under polls | {med(load['idle_e2e']):.3f} s -> "
        f"{med(load['load_e2e']):.3f} s (x{ratio:.2f}) | <= x1.2 {'(met)' if ratio <= 1.2 else '(missed)'} |",
        f"| same, converter seconds only | {med(load['idle_conv']):.3f} s -> {med(load['load_conv']):.3f} s "
        f"(x{conv_ratio:.2f}) | |",
        f"| worker killed mid-conversion -> job succeeded (lease 3 s, reconcile 1 s, 4 s job), {len(recovery)} runs | "
        f"median {med(recovery):.1f} s, max {max(recovery):.1f} s | bounded |",
    ]
    notes = (
        "\n\nConversions: distinct 800x800 noise PNG -> WEBP, one every "
        f"{SPACING:.1f} s, media worker with its default threads. Recovery with the production defaults is at most "
        "JOB_LEASE_SECONDS (60) + RECONCILE_INTERVAL_SECONDS (30) + the job's own time; Dramatiq also re-delivers "
        "the dead worker's message after DRAMATIQ_HEARTBEAT_TIMEOUT_MS (15 s) when another worker's broker "
        "maintenance runs (the claim makes whichever comes second a no-op). The machine has 2 cores shared with "
        "wrk, the stack and other work."
    )
    return "\n".join(rows) + notes

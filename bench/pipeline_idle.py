"""The Redis consumer's idle wait against DRAMATIQ_WORKER_TIMEOUT_MS (bench/pipeline.py).

An idle Dramatiq consumer polls Redis with a growing back-off capped at the
worker timeout, so a job that arrives after a quiet spell waits on average
about a third of it (the cap is jittered between half and all of it).
Shorter caps cost CPU in every idle worker. For each timeout this starts a
stack with only the media worker, sends jobs that arrive after
IDLE_SECONDS of quiet, and reads the wait (enqueued -> started) from the
jobs table, beside the idle worker process's CPU use.
"""

import itertools
import os
import tempfile
import time

import psutil
import requests

TIMEOUTS_MS = [int(t) for t in os.environ.get("BENCH_IDLE_TIMEOUTS", "1000,50,20").split(",") if t]
JOBS = int(os.environ.get("BENCH_IDLE_STUDY_JOBS", "8"))
IDLE_SECONDS = 1.5
CPU_SECONDS = 8


def idle_cpu(stack, seconds=CPU_SECONDS):
    """Share of one core the idle media worker (master and forked process) uses."""
    worker = next(p for p in stack.processes if p.name == "worker-media")
    lead = psutil.Process(worker.proc.pid)
    procs = [lead, *lead.children(recursive=True)]
    before = sum(sum(p.cpu_times()[:2]) for p in procs)
    time.sleep(seconds)
    return (sum(sum(p.cpu_times()[:2]) for p in procs) - before) / seconds


def one_timeout(timeout_ms, env):
    from bench.pipeline import pct, png, run_job, job_timings
    from scripts.stack import Stack

    seeds = itertools.count(5_000_000 + timeout_ms * 100)
    log_dir = tempfile.mkdtemp(prefix="bench-idle-")
    with Stack(log_dir=log_dir, queues=("media",), worker_timeout_ms=timeout_ms, extra_env=env) as stack:
        cpu = idle_cpu(stack)
        ids = []
        with requests.Session() as http:
            run_job(http, stack.url, png(64, 48, seed=next(seeds)))  # warm
            for _ in range(JOBS):
                time.sleep(IDLE_SECONDS)
                ids.append(run_job(http, stack.url, png(64, 48, seed=next(seeds)))["id"])
        waits = [t["queue_wait"] for t in job_timings(stack, ids).values()]
    return {"timeout": timeout_ms, "p50": pct(waits, 0.5), "max": max(waits), "cpu": cpu}


def run(env):
    rows = [one_timeout(t, env) for t in TIMEOUTS_MS]
    lines = [
        f"Idle wait of the Redis consumer: {JOBS} jobs each sent {IDLE_SECONDS:g} s after the last, "
        "media worker alone:",
        "",
        "| DRAMATIQ_WORKER_TIMEOUT_MS | queue wait p50 ms | max ms | idle worker CPU |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['timeout']} | {r['p50'] * 1000:.1f} | {r['max'] * 1000:.1f} | {r['cpu']:.1%} of a core |")
    return "\n".join(lines)

"""Sandbox bench: what the layers cost per tool call (target: p50 at most +15 ms).

Every variant goes through the same `runner.run` (Popen, wait loop, output
capture); only the command wrapped around the tool changes:

- before: the runner as it was (`unshare -n` + util-linux `prlimit`);
- a+d: the launcher with rlimits, capabilities dropped, no_new_privs and the
  seccomp filter (what ECS Fargate gets);
- a+c+d: plus Landlock;
- a+b+c+d: plus bubblewrap's namespaces (what this machine gets).

Two tools: `true` (the pure overhead) and rsvg-convert rendering a small SVG
(a real, short tool call). Variants alternate round by round so each sees the
same machine load. Besides wall time, the CPU time of the call's processes
(getrusage of waited-for children): on a shared, loaded machine wall time
mostly measures the queue for a core, CPU time what the layers cost. Run: BENCH=sandbox .venv/bin/python bench/run.py
"""

import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 41
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><circle cx="100" cy="100" r="80"/></svg>'


def _django():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convertall.settings")
    import django

    django.setup()


def _before(argv, *, cwd, limits, **_):
    """The runner's command before the sandbox: `unshare -n` where permitted, then prlimit."""
    cpu = limits["cpu"][0]
    args = ["prlimit", f"--cpu={cpu}:{cpu + 1}", "--core=0", f"--fsize={limits['fsize'][0]}"]
    if "as" in limits:
        args.append(f"--as={limits['as'][0]}")
    return ["unshare", "-n", *args, "--", *map(str, argv)]


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run():
    _django()
    from conversions.engine import runner, sandbox

    probed = sandbox.current()
    real_command = sandbox.command
    variants = {"before (unshare -n + prlimit)": None, "a+d": ("seccomp", "nondumpable"),
                "a+c+d": ("seccomp", "landlock", "nondumpable"),
                "a+b+c+d": ("seccomp", "namespaces", "landlock", "nondumpable")}  # fmt: skip
    variants = {k: v for k, v in variants.items() if v is None or all(probed.active.get(n) for n in v)}
    tools = {"true": ["true"]}
    if shutil.which("rsvg-convert"):
        tools["rsvg-convert (small SVG)"] = ["rsvg-convert", "-o", "out.png", "in.svg"]
    times = {(t, v): [] for t in tools for v in variants}
    cpu = {(t, v): [] for t in tools for v in variants}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-", dir=sandbox._probe_root()) as tmp:
        Path(tmp, "in.svg").write_text(SVG)
        try:
            for _ in range(ROUNDS):
                for tool, argv in tools.items():
                    for name, names in variants.items():
                        if names is None:
                            sandbox.command = _before
                        else:
                            sandbox.command = real_command
                            sandbox._current = sandbox.Layers(active={n: n in names for n in sandbox.LAYERS})
                        before = _children_cpu()
                        started = time.perf_counter()
                        runner.run(argv, cwd=tmp, timeout=30)
                        times[(tool, name)].append((time.perf_counter() - started) * 1000)
                        cpu[(tool, name)].append((_children_cpu() - before) * 1000)
        finally:
            sandbox.command = real_command
            sandbox.reset()
    lines = [
        f"Per tool call through `runner.run`, {ROUNDS} rounds, variants alternating; load average {load:.1f} at start.",
        f"Layers active on this machine: {', '.join(probed.names())}.",
        "",
        "| tool | variant | wall p50 ms | wall p90 ms | wall p50 vs before | CPU p50 ms | CPU p50 vs before |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool in tools:
        first = next(iter(variants))
        base, cpu_base = statistics.median(times[(tool, first)]), statistics.median(cpu[(tool, first)])
        for name in variants:
            samples = sorted(times[(tool, name)])
            p50, p90 = statistics.median(samples), samples[int(len(samples) * 0.9)]
            c50 = statistics.median(cpu[(tool, name)])
            lines.append(
                f"| {tool} | {name} | {p50:.1f} | {p90:.1f} | {p50 - base:+.1f} | {c50:.1f} | {c50 - cpu_base:+.1f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())

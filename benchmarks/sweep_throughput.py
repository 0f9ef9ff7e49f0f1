"""Throughput of many runs: at the calibration scale on 1 and 2 warm workers, and `exodus sweep` as a user runs it.

The default measurement is what a calibration or a sweep at the calibration
scale (0.05) does for hours: runs handed to workers that already run, so
neither starting Python nor starting the workers is counted in any run. One
`Runner` per worker count is started and warmed up (each worker does a tiny
run first, untimed), then the same runs (parameter points x seeds) go through
`run_many` and are timed from the first submission to the last result. The
runs' results must be the same whatever the worker count; the section says so.

With `--cli`, the smoke sweep instead: each sweep runs as a user would run it (`python -m exodus sweep ...`
in a fresh process, into a fresh folder), so the figures include starting
Python, importing the model and starting the workers: for a small sweep
that start is a large share of the time. The results of the two sweeps must
be the same (`runs.csv` byte for byte); the section written to RESULTS.md
says so. The machines are small and shared (2 cores): compare the ratio of
the two, measured back to back, more than the absolute rates.

    python3 benchmarks/sweep_throughput.py                      # 8 runs at scale 0.05 on 1, then 2 workers
    python3 benchmarks/sweep_throughput.py --runs 4 --days 365  # quicker
    python3 benchmarks/sweep_throughput.py --cli --sweep experiments/data/sweeps/smoke.toml --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench import heading, machine, write  # noqa: E402

SMOKE = ROOT / "experiments" / "data" / "sweeps" / "smoke.toml"
MARK = "<!-- bench: sweep-throughput"
WARM_MARK = "<!-- bench: run-throughput"
METRICS = ("cumulative_departures:all:2022-12-19", "stock_abroad:all:2023-06-30")


@dataclass
class WarmTiming:
    workers: int
    runs: int
    wall_s: float
    run_s: list[float]  # each run's own time, in its worker
    cpu_s: list[float]  # each run's CPU time in its worker: what the run cost, whatever else the machine ran
    results: list[dict[str, float]]

    @property
    def per_minute(self) -> float:
        return 60.0 * self.runs / self.wall_s


def timed_run(job: Any) -> tuple[float, float, dict[str, float]]:
    """One run (build included) and its metrics, with its wall and CPU time: the task the workers are given."""
    from exodus.experiments.core.runner import run_metrics

    started, cpu = time.perf_counter(), time.process_time()
    metrics = run_metrics(job, names=METRICS)
    return time.perf_counter() - started, time.process_time() - cpu, metrics


def time_warm(workers: int, jobs: list[Any]) -> WarmTiming:
    """The jobs on `workers` processes that were started and warmed up before the clock starts."""
    from exodus.experiments.core.runner import Job, Runner, in_order

    warm_up = [Job(jobs[0].scenario, (), k, 0.001, jobs[0].days) for k in range(2 * workers)]  # small, same days
    with Runner(workers) as runner:
        in_order(runner.run_many(warm_up, timed_run))
        print(f"{len(jobs)} runs on {workers} warm worker(s)", file=sys.stderr)
        started = time.perf_counter()
        done = in_order(runner.run_many(jobs, timed_run))
        wall = time.perf_counter() - started
    return WarmTiming(workers, len(jobs), wall, [d[0] for d in done], [d[1] for d in done], [d[2] for d in done])


def warm_section(timings: list[WarmTiming], scale: float, days: int, load: tuple[float, float, float]) -> str:
    env = machine()
    one, last = timings[0], timings[-1]
    same = all(t.results == one.results for t in timings)
    lines = [
        *heading(WARM_MARK, "Run throughput, warm workers · ", env),
        f"Runs: the baseline at scale {scale:g}, {days} days, {one.runs} runs (alarm weight x seed), each built and "
        "run in a worker started and warmed up before the clock starts (process start-up not counted).  ",
        f"Load average before: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.",
        "",
        "| workers | runs | wall s | runs per minute | mean s per run (its worker) | mean CPU s per run | speed-up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        lines.append(
            f"| {t.workers} | {t.runs} | {t.wall_s:.1f} | {t.per_minute:.1f} | {sum(t.run_s) / t.runs:.2f} "
            f"| {sum(t.cpu_s) / t.runs:.2f} | {t.per_minute / one.per_minute:.2f}x |"
        )
    lines += [
        "",
        f"- Ratio of runs per minute, {last.workers} workers / {one.workers}: "
        f"**{last.per_minute / one.per_minute:.2f}x**.",
        f"- Same results from every worker count: {'yes' if same else '**NO**'}.",
        "- A run's CPU time is what it costs whatever else the machine runs; wall time per run above its CPU time "
        "is time the run waited for a core (other work on the machine, or the other worker).",
        "",
    ]
    return "\n".join(lines)


@dataclass
class Timing:
    workers: int
    runs: int
    wall_s: float
    run_s: float  # sum over runs of each run's own time, in its worker
    runs_csv: bytes

    @property
    def per_minute(self) -> float:
        return 60.0 * self.runs / self.wall_s


def time_sweep(sweep: Path, workers: int, scratch: Path) -> Timing:
    out = scratch / f"workers{workers}"
    command = [sys.executable, "-m", "exodus", "sweep", str(sweep), "--out", str(out), "--quiet"]
    command += ["--workers", str(workers)]
    print(f"sweep {sweep.name} with {workers} worker(s)", file=sys.stderr)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    wall = time.perf_counter() - started
    done = [json.loads(p.read_text()) for p in (out / "done").glob("*.json")]
    return Timing(workers, len(done), wall, sum(d["elapsed_seconds"] for d in done), (out / "runs.csv").read_bytes())


def section(sweep: Path, timings: list[Timing], load: tuple[float, float, float]) -> str:
    env = machine()
    one = timings[0]
    same = all(t.runs_csv == one.runs_csv for t in timings)
    lines = [
        *heading(MARK, "Sweep throughput · ", env),
        f"Sweep: `{sweep.relative_to(ROOT) if sweep.is_relative_to(ROOT) else sweep}`, "
        f"{one.runs} runs, each `python -m exodus sweep` in a fresh process (start-up included).  ",
        f"Load average before: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (other work on the machine slows "
        "both worker counts, and the second more).",
        "",
        "| workers | runs | wall s | runs per minute | mean s per run (in its worker) | speed-up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        lines.append(
            f"| {t.workers} | {t.runs} | {t.wall_s:.1f} | {t.per_minute:.1f} | {t.run_s / t.runs:.2f} "
            f"| {t.per_minute / one.per_minute:.2f}x |"
        )
    lines += [
        "",
        f"- Ratio of runs per minute, {timings[-1].workers} workers / {one.workers}: "
        f"**{timings[-1].per_minute / one.per_minute:.2f}x**.",
        f"- Same `runs.csv` from every worker count: {'yes' if same else '**NO**'}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", action="store_true", help="time `exodus sweep` in fresh processes instead")
    parser.add_argument("--sweep", type=Path, default=SMOKE, help="with --cli: sweep file (default: the smoke sweep)")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("--runs", type=int, default=8, help="runs: alarm weights x 2 seeds (default 8)")
    parser.add_argument("--scale", type=float, default=0.05, help="scale of each run (default 0.05, the calibration's)")
    parser.add_argument("--days", type=int, default=730, help="days of each run (default 730)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    load = os.getloadavg()
    if not args.cli:
        from exodus.experiments.core.runner import Job

        base = str(ROOT / "scenarios" / "baseline.toml")
        alarms = [1.5 + 3.0 * k / max(1, (args.runs + 1) // 2 - 1) for k in range((args.runs + 1) // 2)]
        jobs = [Job(base, (("behaviour.hazard.alarm", a),), s, args.scale, args.days) for a in alarms for s in (0, 1)]
        jobs = jobs[: args.runs]
        timings = [time_warm(n, jobs) for n in counts]
        text = warm_section(timings, args.scale, args.days, load)
        write(args.out, text)
        print(text)
        return
    with tempfile.TemporaryDirectory(prefix="sweep-throughput-") as scratch:
        timings = [time_sweep(args.sweep.resolve(), n, Path(scratch)) for n in counts]
    text = section(args.sweep.resolve(), timings, load)
    write(args.out, text)
    print(text)


if __name__ == "__main__":
    main()

"""Throughput of `exodus sweep`: the smoke sweep with 1 and with 2 worker processes, in one invocation.

Each sweep runs as a user would run it (`python -m experiments sweep ...`
in a fresh process, into a fresh folder), so the figures include starting
Python, importing the model and starting the workers: for a small sweep
that start is a large share of the time. The results of the two sweeps must
be the same (`runs.csv` byte for byte); the section written to RESULTS.md
says so. The machines are small and shared (2 cores): compare the ratio of
the two, measured back to back, more than the absolute rates.

    python3 benchmarks/sweep_throughput.py
    python3 benchmarks/sweep_throughput.py --sweep experiments/sweeps/smoke.toml --workers 1,2,4
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from bench import commit, machine, write  # noqa: E402

SMOKE = ROOT / "experiments" / "sweeps" / "smoke.toml"
MARK = "<!-- bench: sweep-throughput"


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
    today, rev = dt.date.today().isoformat(), commit()
    env = machine()
    one = timings[0]
    same = all(t.runs_csv == one.runs_csv for t in timings)
    lines = [
        f"{MARK} {today} {rev} {env['python']} -->",
        f"## Sweep throughput · {today} · commit {rev} · Python {env['python']}",
        "",
        f"Machine: {env['platform']}; {env['cpu']}; {env['cores']} cores; {env['ram']} RAM.  ",
        f"Versions: Python {env['python']}, numpy {env['numpy']}, mesa {env['mesa']}.  ",
        f"Sweep: `{sweep.relative_to(ROOT) if sweep.is_relative_to(ROOT) else sweep}`, "
        f"{one.runs} runs, each `python -m experiments sweep` in a fresh process (start-up included).  ",
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
    parser.add_argument("--sweep", type=Path, default=SMOKE, help="sweep file (default: the smoke sweep)")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sweep-throughput-") as scratch:
        timings = [time_sweep(args.sweep.resolve(), n, Path(scratch)) for n in counts]
    text = section(args.sweep.resolve(), timings, load)
    write(args.out, text)
    print(text)


if __name__ == "__main__":
    main()

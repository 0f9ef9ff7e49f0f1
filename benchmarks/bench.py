"""Throughput of the vectorised engine against the per-object Mesa model, in one run.

One command times, on the same population and days, the vectorised engine
(`RelocationModel`) and the model a Mesa user would write (`mesa_agents.py`:
one `mesa.Agent` per worker, stepped with `shuffle_do`, the rules of
`model/reference.py`) at several sizes, reports agent-steps per second, the
ratio of the two and how each one's time grows with the population; then the
vectorised engine at full scale (two million agents, 730 days) with its peak
memory. Each measurement runs in a fresh process of its own, so peak RSS is
that run's alone. The machines are small and noisy (2 cores): compare the
ratios measured in one run more than the absolute times. Results go to a
dated section of RESULTS.md, with the machine and the commit.

    python3 benchmarks/bench.py                       # 10k/100k/1M vs Mesa at 10k/100k, then full scale
    python3 benchmarks/bench.py --quick               # 10k and 100k, 60 days, full scale skipped
    python3 benchmarks/bench.py --baseline-python /path/to/old/checkout/.venv/bin/python   # full scale, old vs new
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mesa  # noqa: E402
import numpy as np  # noqa: E402

from exodus.model import DEFAULT_SCENARIO, RelocationModel, load_scenario  # noqa: E402

MARK = "<!-- bench:"  # a section's first line carries its key, so a rerun replaces it
FULL_AGENTS = 2_000_000  # the baseline at scale 1


@dataclass
class Timing:
    engine: str  # "vectorised", "mesa", or "vectorised (<label>)" for a baseline interpreter
    agents: int
    days: int
    build_s: float
    run_s: float
    rss_mib: float  # peak resident memory of the process that ran it
    departures: int  # persons who left Russia: a check that both engines did the same kind of work

    @property
    def agent_steps_per_s(self) -> float:
        return self.agents * self.days / self.run_s


def scale_for(agents: int) -> float:
    return agents / FULL_AGENTS


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(engine: str, agents: int, days: int, seed: int) -> dict[str, float | int | str]:
    """Build and run one engine here (in a child process of `main`); build and run timed apart."""
    started = time.perf_counter()
    if engine == "mesa":
        from mesa_agents import MesaRelocationModel

        model = MesaRelocationModel(DEFAULT_SCENARIO, rng=seed, scale=scale_for(agents), days=days)
        n = len(model.agents)
    else:
        model = RelocationModel(DEFAULT_SCENARIO, rng=seed, scale=scale_for(agents), **{"scenario.days": days})
        n = len(model.workers)
    built = time.perf_counter()
    for day in range(days):
        model.step()
        if (day + 1) % 100 == 0:
            print(f"  {engine} {n:,}: day {day + 1}/{days}, {time.perf_counter() - built:.1f} s", file=sys.stderr)
    finished = time.perf_counter()
    left = model.departures_persons() if engine == "mesa" else model.persons_left(0) + model.persons_left(1)
    return {
        "engine": engine,
        "agents": n,
        "days": days,
        "build_s": built - started,
        "run_s": finished - built,
        "rss_mib": peak_rss_mib(),
        "departures": int(left),
    }


def child(engine: str, agents: int, days: int, seed: int, python: str = sys.executable, label: str = "") -> Timing:
    """`measure` in a fresh process (its own peak RSS); `python` may be another checkout's interpreter."""
    command = [python, __file__, "--child", engine, "--agents", str(agents), "--days", str(days)]
    command += ["--seed", str(seed)]
    print(f"{label or engine}: {agents:,} agents, {days} days", file=sys.stderr)
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if label:
        result["engine"] = f"{result['engine']} ({label})"
    return Timing(**result)


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def commit() -> str:
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head}-dirty" if dirty else head


def machine() -> dict[str, str]:
    def first(path: str, pattern: str) -> str:
        try:
            found = re.search(pattern, Path(path).read_text(), re.MULTILINE)
        except OSError:
            return "unknown"
        return found.group(1).strip() if found else "unknown"

    mem_kib = first("/proc/meminfo", r"^MemTotal:\s*(\d+)")
    return {
        "platform": platform.platform(),
        "cpu": first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$"),
        "cores": str(os.cpu_count()),
        "ram": f"{int(mem_kib) / 1024**2:.1f} GiB" if mem_kib.isdigit() else "unknown",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def growth(timings: list[Timing]) -> str:
    """How run time grows with the agents between consecutive sizes: the exponent b of time ~ agents^b."""
    steps = []
    for a, b in zip(timings, timings[1:], strict=False):
        exponent = math.log(b.run_s / a.run_s) / math.log(b.agents / a.agents)
        steps.append(
            f"{a.agents:,} to {b.agents:,}: x{b.run_s / a.run_s:.1f} time for x{b.agents / a.agents:.0f} "
            f"agents (b = {exponent:.2f})"
        )
    return "; ".join(steps) if steps else "one size only"


def heading(mark: str, title: str, env: dict[str, str]) -> list[str]:
    """The first lines of a section of RESULTS.md: the marker a rerun replaces it by, a title with the date, commit
    and Python, the machine and the versions (shared by the engine and throughput benchmarks)."""
    today, rev = dt.date.today().isoformat(), commit()
    return [
        f"{mark} {today} {rev} {env['python']} -->",
        f"## {title}{today} · commit {rev} · Python {env['python']}",
        "",
        f"Machine: {env['platform']}; {env['cpu']}; {env['cores']} cores; {env['ram']} RAM.  ",
        f"Versions: Python {env['python']}, numpy {env['numpy']}, mesa {env['mesa']}.  ",
    ]


def section(pairs: list[tuple[Timing, Timing | None]], full: list[Timing], days: int) -> str:
    env = machine()
    lines = [
        *heading(MARK, "", env),
        f"Load average before: {env['load']}.",
        "",
        f"### Vectorised engine and per-object Mesa model, same population and days ({days} days of the baseline "
        "from 24 February 2022, seed given)",
        "",
        "| agents | days | vectorised run s | Mesa run s | vectorised agent-steps/s | Mesa agent-steps/s "
        "| ratio | departures (persons) vectorised / Mesa |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for fast, slow in pairs:
        if slow is None:
            lines.append(
                f"| {fast.agents:,} | {fast.days} | {fast.run_s:.2f} | - | {fast.agent_steps_per_s:,.0f} | - | - "
                f"| {fast.departures:,} / - |"
            )
        else:
            lines.append(
                f"| {fast.agents:,} | {fast.days} | {fast.run_s:.2f} | {slow.run_s:.2f} "
                f"| {fast.agent_steps_per_s:,.0f} | {slow.agent_steps_per_s:,.0f} "
                f"| **{fast.agent_steps_per_s / slow.agent_steps_per_s:,.0f}x** "
                f"| {fast.departures:,} / {slow.departures:,} |"
            )
    vectorised = [fast for fast, _ in pairs]
    mesa_runs = [slow for _, slow in pairs if slow is not None]
    lines += [
        "",
        f"- Growth with the population, vectorised: {growth(vectorised)}.",
        f"- Growth with the population, Mesa: {growth(mesa_runs)}.",
        "- The Mesa model leaves out land-border queues and firm relocations and draws from `model.random`, so its "
        "departures differ somewhat from the vectorised engine's; the daily work per agent (hazard clock, "
        "considering, reachable places, utilities, choice, move) is the same.",
        "",
    ]
    if full:
        lines += [
            "### Full scale (vectorised engine)",
            "",
            "| engine | agents | days | build s | run s | wall s | ms a day | agent-steps/s | peak RSS MiB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for t in full:
            lines.append(
                f"| {t.engine} | {t.agents:,} | {t.days} | {t.build_s:.2f} | {t.run_s:.2f} | {t.build_s + t.run_s:.2f} "
                f"| {1000 * t.run_s / t.days:.1f} | {t.agent_steps_per_s:,.0f} | {t.rss_mib:,.0f} |"
            )
        if len(full) > 1:
            lines += [
                "",
                f"- Speed-up of the run, this commit against {full[-1].engine}: "
                f"**{full[-1].run_s / full[0].run_s:.2f}x**.",
            ]
        lines.append("")
    return "\n".join(lines)


def write(out: Path, text: str) -> None:
    """Replace the section with the same key, or append one."""
    key = text.splitlines()[0]
    header = "# Benchmarks\n\nWritten by `python3 benchmarks/bench.py`; one section per date, commit and Python.\n"
    old = out.read_text() if out.exists() else header
    parts = re.split(rf"(?m)^(?={re.escape(MARK)})", old)
    kept = [p for p in parts if not p.startswith(key)]
    body = "".join(kept).rstrip("\n") + "\n\n" + text
    out.write_text(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="agents of the vectorised runs")
    parser.add_argument("--mesa-sizes", default="10000,100000", help="agents of the Mesa runs (a subset of --sizes)")
    parser.add_argument("--days", type=int, default=240, help="days of the engine comparison (240: past the call-up)")
    parser.add_argument("--full-days", type=int, default=load_scenario(DEFAULT_SCENARIO).days)
    parser.add_argument("--no-full", action="store_true", help="skip the full-scale run")
    parser.add_argument("--quick", action="store_true", help="10k and 100k agents, 60 days, no full scale")
    parser.add_argument("--baseline-python", help="also time full scale with this interpreter (an older checkout)")
    parser.add_argument("--baseline-label", default="baseline", help="what to call that run in the table")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--agents", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.agents, args.days, args.seed)))
        return
    if args.quick:
        args.sizes, args.mesa_sizes, args.days, args.no_full = "10000,100000", "10000,100000", 60, True
    sizes = [int(x) for x in args.sizes.split(",")]
    mesa_sizes = {int(x) for x in args.mesa_sizes.split(",") if x}
    pairs = []
    for n in sizes:
        fast = child("vectorised", n, args.days, args.seed)
        slow = child("mesa", n, args.days, args.seed) if n in mesa_sizes else None
        pairs.append((fast, slow))
    full = []
    if not args.no_full:
        full.append(child("vectorised", FULL_AGENTS, args.full_days, args.seed))
        if args.baseline_python:
            full.append(
                child("vectorised", FULL_AGENTS, args.full_days, args.seed, args.baseline_python, args.baseline_label)
            )
    text = section(pairs, full, args.days)
    write(args.out, text)
    print(text)


if __name__ == "__main__":
    main()

"""Throughput of the vectorised engine against the slow reference, in one run.

The machines are small and noisy (2 cores), so absolute times move from run
to run; the ratio of the two engines, measured back to back in one process,
is the figure to compare. Results go to a dated section of RESULTS.md, with
the machine and the commit they were measured on.

    python3 benchmarks/bench.py                     # full scale: two million agents, 730 days
    python3 benchmarks/bench.py --scale 0.01 --days 60
"""

from __future__ import annotations

import argparse
import datetime as dt
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


import mesa  # noqa: E402
import numpy as np  # noqa: E402

from exodus.model import DEFAULT_SCENARIO, RelocationModel, load_scenario  # noqa: E402
from exodus.model.decision import Rules  # noqa: E402
from exodus.model.reference import ReferenceRules  # noqa: E402

MARK = "<!-- bench:"  # a section's first line carries its key, so a rerun replaces it


@dataclass
class Timing:
    engine: str
    scale: float
    agents: int
    days: int
    build_s: float
    run_s: float

    @property
    def agent_steps_per_s(self) -> float:
        return self.agents * self.days / self.run_s


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def time_engine(engine: str, rules: type[Rules], scale: float, days: int, seed: int) -> Timing:
    started = time.perf_counter()
    model = RelocationModel(DEFAULT_SCENARIO, rng=seed, scale=scale, rules=rules, **{"scenario.days": days})
    built = time.perf_counter()
    for day in range(days):
        model.step()
        if days >= 100 and (day + 1) % 100 == 0:
            print(f"  {engine}: day {day + 1}/{days}, {time.perf_counter() - built:.1f} s", file=sys.stderr)
    finished = time.perf_counter()
    return Timing(engine, scale, len(model.workers), days, built - started, finished - built)


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
    }


def section(fast: Timing, same: Timing, slow: Timing, rss_start: float, rss_fast: float) -> str:
    today, rev = dt.date.today().isoformat(), commit()
    env = machine()
    lines = [
        f"{MARK} {today} {rev} {env['python']} -->",
        f"## {today} · commit {rev} · Python {env['python']}",
        "",
        f"Machine: {env['platform']}; {env['cpu']}; {env['cores']} cores; {env['ram']} RAM.  ",
        f"Versions: Python {env['python']}, numpy {env['numpy']}, mesa {env['mesa']}.",
        "",
        "| engine | scale | agents | days | build s | run s | agent-steps/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in (fast, same, slow):
        lines.append(
            f"| {t.engine} | {t.scale:g} | {t.agents:,} | {t.days} | {t.build_s:.2f} | {t.run_s:.2f} "
            f"| {t.agent_steps_per_s:,.0f} |"
        )
    lines += [
        "",
        f"- Vectorised at scale {fast.scale:g}: {fast.build_s + fast.run_s:.1f} s wall "
        f"({fast.build_s:.1f} s to build, {fast.run_s:.1f} s to run, {1000 * fast.run_s / fast.days:.0f} ms a day); "
        f"peak RSS {rss_fast:,.0f} MiB (of which {rss_start:,.0f} MiB before building).",
        f"- Ratio vectorised / reference: **{fast.agent_steps_per_s / slow.agent_steps_per_s:,.0f}x** "
        f"(scale {fast.scale:g} against scale {slow.scale:g}); "
        f"{same.agent_steps_per_s / slow.agent_steps_per_s:,.0f}x on the same small population and days.",
        "",
    ]
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
    default_days = load_scenario(DEFAULT_SCENARIO).days
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="vectorised run (1.0: two million agents)")
    parser.add_argument("--days", type=int, default=default_days, help="days of the vectorised run")
    parser.add_argument("--reference-scale", type=float, default=0.001, help="population of the reference run")
    parser.add_argument("--reference-days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)

    rss_start = peak_rss_mib()
    print(f"vectorised, scale {args.scale:g}, {args.days} days", file=sys.stderr)
    fast = time_engine("vectorised", Rules, args.scale, args.days, args.seed)
    rss_fast = peak_rss_mib()
    print(f"reference, scale {args.reference_scale:g}, {args.reference_days} days", file=sys.stderr)
    slow = time_engine("reference", ReferenceRules, args.reference_scale, args.reference_days, args.seed)
    same = time_engine("vectorised", Rules, args.reference_scale, args.reference_days, args.seed)
    text = section(fast, same, slow, rss_start, rss_fast)
    write(args.out, text)
    print(text)


if __name__ == "__main__":
    main()

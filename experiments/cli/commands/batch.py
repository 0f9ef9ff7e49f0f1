"""`exodus batch`: several scenarios over the same seeds, with an ensemble summary per scenario."""

from __future__ import annotations

import argparse
from pathlib import Path

from exodus.experiments.cli.options import add_set_option, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="run scenarios over the same seeds and summarise each as an ensemble",
        description="Run each SCENARIO with seeds 0..N-1 (the same seeds for all: common random numbers) and "
        "write DIR/<scenario name>/seed<k>/ (as `exodus run` does), DIR/<scenario name>/ensemble.csv (mean, "
        "median, p05, p95 per date, location, segment and quantity) and DIR/batch.json, all at once.",
    )
    parser.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO", help="scenario TOML files")
    parser.add_argument("--seeds", type=positive_int, required=True, help="seeds per scenario: 0..N-1")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="batch folder (replaced if it holds a batch)"
    )
    parser.add_argument("--scale", type=positive_float, default=1.0, help="share of the agents to simulate (default 1)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    add_set_option(parser, "override a field of every scenario, e.g. --set scenario.days=365")
    parser.add_argument("--plots", action="store_true", help="also draw outflow.png for each run (slower)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.analyses.batch import run_batch

    out = run_batch(
        args.scenarios,
        args.seeds,
        args.out,
        scale=args.scale,
        workers=args.workers,
        overrides=dict(args.overrides),
        plots=args.plots,
        progress=not args.quiet,
    )
    print(out)
    return 0

"""`exodus run`: one scenario, one seed, one output folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from exodus.experiments.cli.options import add_scenario_options, overrides, seed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run one scenario with one seed and write its folder",
        description="Run one scenario and write daily.csv, jobs.csv, queues.csv, firms.csv, tax.csv, "
        "run.json and outflow.png to one folder, all at once.",
    )
    add_scenario_options(parser)
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: runs/<scenario name>-seed<N>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.analyses.run import (
        run_scenario,  # the model and matplotlib load only when a run is asked for
    )

    out = run_scenario(
        args.scenario,
        seed=args.seed,
        scale=args.scale,
        out=args.out,
        progress=not args.quiet,
        **overrides(args),
    )
    print(out)
    return 0

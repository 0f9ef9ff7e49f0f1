"""`exodus sensitivity`: Sobol and Morris indices of run metrics to scenario parameters."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exodus.experiments.cli.options import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sensitivity",
        help="global sensitivity (Sobol, Morris) of outputs to scenario parameters",
        description="Sample the parameters of the design file SPEC (Saltelli's scheme for Sobol first and total "
        "order indices, Morris trajectories for mu* and sigma), run the base scenario at every design point over "
        "its seeds, in parallel, and write DIR/indices.csv, DIR/design.csv, DIR/sensitivity.png/.svg and "
        "DIR/sensitivity.json, all at once. See experiments/data/sensitivity/example.toml.",
    )
    parser.add_argument("spec", type=Path, metavar="SPEC", help="design file (TOML)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced if it holds such a result)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.analyses.sensitivity import SensitivityError, run_sensitivity
    from exodus.experiments.core.metrics import MetricError

    try:
        out = run_sensitivity(args.spec, args.out, workers=args.workers, progress=not args.quiet)
    except (SensitivityError, MetricError) as err:
        print(f"exodus sensitivity: error: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0

"""`exodus validate`: a scenario against every reported figure, fitted and held out."""

from __future__ import annotations

import argparse
from pathlib import Path

from exodus.experiments.cli.options import add_set_option, positive_float, positive_int
from exodus.model import DEFAULT_SCENARIO


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="run a scenario over seeds and compare it with every target, fitted and held out",
        description="Run SCENARIO with seeds 0..N-1 and write DIR/validation.md (every target with its range, "
        "the model's mean and band, inside or not; the averaged relative difference of the fitted and the "
        "held-out targets), DIR/validation.png (stocks by destination over time against the stock figures) "
        "and DIR/validation.json (provenance and every run's values), all at once.",
    )
    parser.add_argument("scenario", nargs="?", type=Path, default=DEFAULT_SCENARIO, help="scenario TOML file")
    parser.add_argument("--seeds", type=positive_int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--scale", type=positive_float, default=1.0, help="share of the agents (default 1)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="validation folder")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    add_set_option(parser, "override a field of the scenario")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.analyses.validation import validate

    out = validate(
        args.scenario,
        args.out,
        seeds=args.seeds,
        scale=args.scale,
        workers=args.workers,
        overrides=dict(args.overrides),
        progress=not args.quiet,
    )
    print(out / "validation.md")
    return 0

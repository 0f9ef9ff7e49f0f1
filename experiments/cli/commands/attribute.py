"""`exodus attribute`: split the outflow into the contributions of its drivers (exact Shapley values)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from exodus.experiments.cli.options import positive_float, positive_int


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected driver names separated by commas")
    return names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "attribute",
        help="split the outflow into contributions of its drivers (Shapley values)",
        description="Run SCENARIO with every combination of its drivers (mobilisation, sanctions, Russian IT "
        "incentives, destination incentives, entry rules, penalty tax; defined in experiments/data/drivers.toml) "
        "switched on or off, over the same seeds, and split cumulative departures from Russia (all, IT) and "
        "cumulative arrivals by destination into each driver's exact Shapley contribution, seed by seed; what "
        "no driver accounts for is 'other'. Writes DIR/attribution.csv (mean, p05, p95 across seeds), "
        "DIR/attribution.png/.svg and DIR/attribution.json, all at once.",
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario TOML file")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced if it holds an attribution)")
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument(
        "--scale",
        type=positive_float,
        default=0.05,
        help="share of the agents (default 0.05: the smallest unbiased in fit.md)",
    )
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--until", type=_date, default=None, help="last date to run to (default: the horizon)")
    parser.add_argument(
        "--at",
        type=_date,
        default=None,
        help="date of the bar chart by destination (default 2022-12-31, or the last day if the runs stop earlier)",
    )
    parser.add_argument(
        "--drivers",
        type=_names,
        default=None,
        metavar="NAME,...",
        help="only these drivers (default: all in the drivers file)",
    )
    parser.add_argument(
        "--drivers-file", type=Path, default=None, help="drivers file (default experiments/data/drivers.toml)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.analyses.attribution import DRIVERS_FILE, AttributionError, run_attribution

    try:
        out = run_attribution(
            args.scenario,
            args.out,
            drivers=args.drivers,
            drivers_file=args.drivers_file or DRIVERS_FILE,
            seeds=args.seeds,
            scale=args.scale,
            until=args.until,
            at=args.at,
            workers=args.workers,
            progress=not args.quiet,
        )
    except AttributionError as err:
        print(f"exodus attribute: error: {err}", file=sys.stderr)
        return 2
    print(out)
    return 0

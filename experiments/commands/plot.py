"""`exodus plot`: draw runs, batches and sweeps together, with bands and the reported figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw outflow curves, destinations, stocks abroad, returns and scenario differences",
        description="Draw the runs, batches and sweeps in DIR... together: daily and cumulative departures from "
        "Russia with the reported figures, arrivals by destination, persons abroad, returns, and each scenario's "
        "difference from the baseline seed by seed; lines are medians over runs, bands 5th-95th percentiles. "
        "Writes FILE's stem as .png and .svg.",
    )
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="run, batch or sweep folders")
    parser.add_argument("--out", type=Path, required=True, help="figure file; its stem gets .png and .svg")
    parser.add_argument(
        "--baseline",
        default=None,
        help="name of the scenario the others are compared with (default: 'baseline', else the first)",
    )
    parser.add_argument("--title", default=None, help="figure title")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.figures import PlotError, plot_results
    from exodus.experiments.results import ResultsError

    try:
        written = plot_results(args.folders, args.out, baseline=args.baseline, title=args.title)
    except (PlotError, ResultsError) as err:
        print(f"exodus plot: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(path)
    return 0

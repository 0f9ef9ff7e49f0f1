"""`exodus plot`: draw runs, batches and sweeps together, with bands and the reported figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw outflow, persons present by destination, jobs abroad, Russia's tax take and scenario differences",
        description="Draw the runs, batches and sweeps in DIR... together: daily and cumulative departures from "
        "Russia with the reported figures; persons present in each destination (not cumulative arrivals) and "
        "abroad in all, with the reported stocks; returns; jobs abroad by job status (jobs.csv); Russia's tax "
        "take from these workers by where they live, and the tax lost on those abroad (tax.csv); and each "
        "scenario's difference from the baseline seed by seed. Lines are medians over runs; bands the 5th-95th "
        "percentile from ten runs, below ten the range (lowest to highest) of the N seeds, as the legend says. "
        "Reported figures are numbered on the chart and cited by title and link in the caption. A sweep has no "
        "jobs or tax panels (it keeps only the daily series). Writes FILE's stem as .png and .svg.",
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
    from exodus.experiments.core.results import ResultsError
    from exodus.experiments.figures.ensembles import PlotError, plot_results

    try:
        written = plot_results(args.folders, args.out, baseline=args.baseline, title=args.title)
    except (PlotError, ResultsError) as err:
        print(f"exodus plot: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(path)
    return 0

"""`exodus calibrate`: fit a scenario's free parameters to its targets."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from exodus.experiments.cli.options import counted, positive_float, positive_int, seed32


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="fit a scenario's free parameters to the reported figures",
        description="Fit the [free_parameters] of SCENARIO to its targets file: differential evolution over "
        "common seeds at a reduced scale, ABC for the uncertainty, a check over many seeds. Writes "
        "calibrated.toml, fit.md, fit.png and evaluations.jsonl (resumable) to --out.",
    )
    parser.add_argument("scenario", type=Path, help="input scenario with [free_parameters] and scenario.targets")
    parser.add_argument("--out", type=Path, required=True, help="output folder; re-running with it resumes")
    parser.add_argument("--seed", type=seed32, default=0, help="seed of the optimiser and the ABC (default 0)")
    parser.add_argument("--seeds", type=positive_int, default=4, help="model seeds per evaluation (default 4)")
    parser.add_argument(
        "--scale",
        type=positive_float,
        default=0.05,
        help="scale of fitting runs (default 0.05; fit.md tests it for bias)",
    )
    parser.add_argument(
        "--popsize", type=positive_int, default=6, help="differential evolution population per parameter"
    )
    parser.add_argument(
        "--maxiter",
        type=counted,
        default=12,
        help="differential evolution generations (0: its first population only, then the polish)",
    )
    parser.add_argument(
        "--polish", type=counted, default=40, help="Nelder-Mead evaluations after the evolution (0: none)"
    )
    parser.add_argument("--abc-population", type=counted, default=40, help="ABC particles per generation (0: no ABC)")
    parser.add_argument("--abc-generations", type=positive_int, default=3, help="ABC-SMC generations")
    parser.add_argument("--draws", type=counted, default=24, help="posterior-predictive runs for the bands")
    parser.add_argument("--check-seeds", type=positive_int, default=10, help="seeds of the final check (default 10)")
    parser.add_argument("--check-scale", type=positive_float, default=1.0, help="scale of the final check")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--name", default=None, help="name of the calibrated scenario (default: the input's)")
    parser.add_argument("--install", type=Path, default=None, help="also write the calibrated scenario here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.analyses.calibration.run import calibrate

    try:
        result = _calibrate(args, calibrate)
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (see cli.py)
        what = "interrupted" if type(err) is KeyboardInterrupt else "terminated"
        print(
            f"exodus calibrate: {what}; the evaluations done are kept in {args.out}: run the same command to resume",
            file=sys.stderr,
        )
        return 130 if what == "interrupted" else 128 + signal.SIGTERM
    print(result)
    return 0


def _calibrate(args: argparse.Namespace, calibrate: Any) -> Path:
    return calibrate(
        args.scenario,
        args.out,
        seed=args.seed,
        seeds=args.seeds,
        scale=args.scale,
        popsize=args.popsize,
        maxiter=args.maxiter,
        polish=args.polish,
        abc_population=args.abc_population,
        abc_generations=args.abc_generations,
        draws=args.draws,
        check_seeds=args.check_seeds,
        check_scale=args.check_scale,
        workers=args.workers,
        name=args.name,
        install=args.install,
        progress=not args.quiet,
    )

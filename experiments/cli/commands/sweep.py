"""`exodus sweep`: run a sweep file's design over its seeds; resumable, local or on a dask cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exodus.experiments.cli.options import positive_int

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143  # 143: 128 + SIGTERM


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep (grid, Latin hypercube, sensitivity design); resumable",
        description="Run the design of SWEEP (a TOML sweep file, see experiments/data/sweeps/smoke.toml) over its "
        "seeds and write DIR/runs.csv (one row a run: run_id, parameters, seed, status, error, metrics), "
        "DIR/series/<run_id>.parquet (daily series) and DIR/sweep.json (provenance). Killed and started again "
        "with the same command, it runs only what is left.",
    )
    parser.add_argument("sweep", type=Path, metavar="SWEEP", help="sweep file (TOML)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder; the same folder resumes")
    parser.add_argument("--workers", type=positive_int, default=None, help="local processes (default: all cores)")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run on a dask.distributed cluster instead of local processes (scheduler and workers need this project "
        "installed; start workers with --nthreads 1)",
    )
    parser.add_argument("--retry-errors", action="store_true", help="run again the runs recorded as failed")
    parser.add_argument(
        "--accept-code-change",
        action="store_true",
        help="resume even though the model's code changed since the sweep started (recorded in sweep.json)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from exodus.experiments.analyses.sweep import run_sweep
    from exodus.experiments.analyses.sweep_file import SweepError
    from exodus.experiments.core.metrics import MetricError

    try:
        result = run_sweep(
            args.sweep,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            retry_errors=args.retry_errors,
            accept_code_change=args.accept_code_change,
            progress=not args.quiet,
        )
    except (SweepError, MetricError) as err:
        print(f"exodus sweep: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (see cli.py)
        what = "interrupted" if type(err) is KeyboardInterrupt else "terminated"
        print(
            f"exodus sweep: {what}; finished runs are kept in {args.out}: run the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED if what == "interrupted" else EXIT_TERMINATED
    print(result)
    if result.total and result.ok == 0 and result.errors:
        print("exodus sweep: error: every run failed (see the error column of runs.csv)", file=sys.stderr)
        return EXIT_FAILED
    return 0

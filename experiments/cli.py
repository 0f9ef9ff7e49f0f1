"""`exodus`: the command line.

Subcommands live in `experiments.commands`, one module each, and register
themselves (see that package). Errors in what the user gave (a scenario or
targets file that does not validate, an output folder that cannot be used) print one message
naming the file and field and exit with 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from exodus.experiments import commands
from exodus.experiments.metrics import MetricError
from exodus.experiments.outdir import OutputError
from exodus.experiments.targets import TargetsError
from exodus.model import ScenarioError

USER_ERRORS: tuple[type[Exception], ...] = (ScenarioError, TargetsError, OutputError, MetricError)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exodus",
        description="Agent-based simulation of the emigration of Russian tech workers after February 2022.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except USER_ERRORS as err:
        print(f"exodus {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"exodus {args.command}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

"""`exodus`: the command line.

Subcommands live in `exodus.experiments.cli.commands`, one module each, and register
themselves (see that package). Errors in what the user gave (a scenario or
targets file that does not validate, an output folder that cannot be used, a
scale the memory cannot hold, a file that cannot be read or is not text) print
one message naming the file and field and exit with 2; a traceback means a bug.
SIGTERM unwinds like Ctrl-C (staging folders removed, a sweep's session recorded) and exits with 143.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence

from exodus.experiments.analyses.sweep_file import SweepError
from exodus.experiments.cli import commands
from exodus.experiments.core.metrics import MetricError
from exodus.experiments.core.outdir import OutputError
from exodus.experiments.core.targets import TargetsError
from exodus.model import ScenarioError
from exodus.model.population import ScaleError

USER_ERRORS: tuple[type[Exception], ...] = (
    ScenarioError,
    TargetsError,
    OutputError,
    MetricError,
    SweepError,
    ScaleError,
)
# Errors of the system around a run that a user can fix: a file or folder that cannot be read or written (OSError),
# a file that is not text. Reported in one line, like the above, naming the file.
SYSTEM_ERRORS: tuple[type[Exception], ...] = (OSError, UnicodeDecodeError)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill PID`, a scheduler's stop, a CI timeout), raised where the program is: it unwinds as Ctrl-C
    does, so a staging folder is removed and a sweep records its session, instead of dying mid-write."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


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
    previous = (
        signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() else None
    )
    try:
        return int(args.handler(args))
    except USER_ERRORS as err:
        print(f"exodus {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except SYSTEM_ERRORS as err:
        print(f"exodus {args.command}: error: {describe(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as err:
        what = "terminated" if isinstance(err, Terminated) else "interrupted"
        print(f"exodus {args.command}: {what}; nothing was written", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(err, Terminated) else EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def describe(err: BaseException) -> str:
    """One line for an error of the system: the file it is about and what went wrong."""
    if isinstance(err, OSError):
        files = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
        what = err.strerror or str(err) or type(err).__name__
        return f"{files}: {what}" if files else what
    if isinstance(err, UnicodeDecodeError):
        return f"a file is not text in {err.encoding} (byte {err.start}: {err.reason})"
    return f"{type(err).__name__}: {err}"


if __name__ == "__main__":
    sys.exit(main())

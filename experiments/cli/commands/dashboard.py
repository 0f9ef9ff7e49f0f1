"""`exodus dashboard`: serve the dashboard in the browser (`solara run app.py`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import exodus

APP = Path(exodus.__file__).resolve().parent.parent / "app.py"  # the repository's app.py, in a clone
MODULE = "exodus.experiments.dashboard.app"  # the same page, in an installed package without the clone


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the dashboard in the browser (solara run app.py)",
        description="Serve the Mesa SolaraViz dashboard: the chosen scenario and policy levers against the "
        "baseline with the same seed, at scale 0.05. Runs `solara run app.py`; open the address it prints.",
    )
    parser.add_argument("--host", default="localhost", help="address to listen on (default localhost)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 for a free one)")
    parser.add_argument("--open", action="store_true", help="open a browser on the page")
    parser.set_defaults(handler=handle)


def command(args: argparse.Namespace) -> list[str]:
    """The `solara run` command line for `args`."""
    app = str(APP) if APP.exists() else MODULE
    cmd = [sys.executable, "-m", "solara", "run", app, "--host", args.host, "--port", str(args.port)]
    return [*cmd, "--open" if args.open else "--no-open"]


def handle(args: argparse.Namespace) -> int:
    cmd = command(args)
    sys.stdout.flush()
    os.execv(cmd[0], cmd)  # solara replaces this process: one process to stop, and signals reach the server
    return 0  # not reached

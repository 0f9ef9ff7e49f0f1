"""Command-line options shared by the subcommands that run scenarios.

run, batch, sweep and calibrate all take a scenario, a seed, a scale and
`--set` overrides; declaring them once keeps their spelling and meaning the same.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from exodus.model import DEFAULT_SCENARIO
from exodus.model.streams import SEED_MAX, check_seed


def literal(text: str) -> Any:
    """A TOML literal (`2.0`, `true`, `"a"`, `[1, 2]`, `2022-09-21`), else JSON (`null`), else the text itself."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def assignment(text: str) -> tuple[str, Any]:
    """`key=value` from `--set`, the key a dotted scenario path."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value (such as behaviour.hazard.alarm=2.0), got {text!r}")
    return key, literal(value.strip())


def positive_int(text: str) -> int:
    """A whole number of at least 1 (seeds, workers)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def counted(text: str) -> int:
    """A whole number of at least 0 (0: none)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return value


def seed32(text: str) -> int:
    """A seed of numpy's legacy generator (the calibration's ABC): 0..2**32-1."""
    value = counted(text)
    if value > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {2**32 - 1} (2**32 - 1), got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0 (scales)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number above 0, got {text!r}")
    return value


def seed(text: str) -> int:
    """A seed: a whole number in the range the random streams use, 0..2**64-1."""
    try:
        return check_seed(int(text))
    except ValueError:
        expected = f"expected a whole number from 0 to {SEED_MAX} (2**64 - 1)"
        raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scenario",
        nargs="?",
        type=Path,
        default=DEFAULT_SCENARIO,
        help="scenario TOML file (default: scenarios/baseline.toml)",
    )
    parser.add_argument("--scale", type=positive_float, default=1.0, help="share of the agents to simulate (default 1)")
    add_set_option(parser, "override a scenario field, e.g. --set behaviour.hazard.alarm=2.0")


def add_set_option(parser: argparse.ArgumentParser, what: str) -> None:
    """`--set KEY=VALUE`, repeatable; `what` says what it overrides."""
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        type=assignment,
        action="append",
        default=[],
        help=f"{what} (repeatable; value as TOML literal)",
    )


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The `--set` pairs as a dict; a key set twice keeps its last value."""
    return dict(args.overrides)

"""Where a run came from: code version, library versions, clock.

Recorded beside every result (`run.json`, `batch.json`, `sweep.json`,
`sensitivity.json`, ...) by `record` and `write_record`, so that a result can be
traced to the code and the environment that made it, and a difference between
two runs explained.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import platform
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from exodus.experiments.core.outdir import write_atomic

PACKAGE = "exodus-relocation"
REPO = Path(__file__).resolve().parents[2]  # the checkout (or, installed, the folder holding exodus/model)
# What makes the numbers: a change elsewhere (tests, notebooks, output folders) does not make a result dirty,
# so a calibration writing its log inside the checkout still records a clean commit.
SOURCES = ("exodus", "model", "experiments", "scenarios", "pyproject.toml")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def package_version() -> str:
    """The installed version; from pyproject.toml when run from a source tree that is not installed."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        with (REPO / "pyproject.toml").open("rb") as fh:
            return f"{tomllib.load(fh)['project']['version']} (source tree, not installed)"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def versions() -> dict[str, str]:
    return {
        "package": package_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _git(*args: str, repo: Path) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(repo: Path = REPO) -> dict[str, Any]:
    """Commit of the checkout and whether its SOURCES have uncommitted changes (`dirty`: the commit alone
    does not reproduce the result)."""
    commit = _git("rev-parse", "HEAD", repo=repo)
    if commit is None:
        return {"commit": "unknown", "dirty": None}
    status = _git("status", "--porcelain", "--", *SOURCES, repo=repo)
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def record(kind: str, started: str, elapsed: float, **fields: Any) -> dict[str, Any]:
    """The provenance record of a result folder: its kind, what made it (`fields`, in order), the versions, the
    git state and the times. `elapsed`: seconds since `started`; `fields` may hold `versions` to add to them."""
    extra = fields.pop("versions", {})
    return {
        "kind": kind,
        **fields,
        "versions": versions() | extra,
        "git": git_state(),
        "started": started,
        "finished": utc_now(),
        "elapsed_seconds": round(elapsed, 3),
    }


def write_record(path: Path, data: dict[str, Any], tmp_dir: Path | None = None) -> None:
    """Write a provenance record beside the results (`record_json`), whole or not at all (a sweep rewrites its
    record as it goes; `tmp_dir` as for `write_atomic`)."""
    write_atomic(path, record_json(data), tmp_dir)


def record_json(record: dict[str, Any]) -> str:
    """A provenance record as the JSON file beside the results: indented, UTF-8 kept, dates as text."""
    return json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n"


def code_digest() -> str:
    """SHA-256 of the code that makes results (the model, the metrics, the targets): results made by different
    code do not belong in one sweep or one calibration log, and `git` does not see an uncommitted edit between
    two sessions."""
    digest = hashlib.sha256()
    files = [
        *sorted(p for p in (REPO / "model").glob("*.py") if p.name != "reference.py"),  # the reference makes no results
        REPO / "experiments" / "core" / "metrics.py",
        REPO / "experiments" / "core" / "targets.py",
    ]
    for path in files:
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()

"""Killing `exodus run`, `batch`, `sweep` and `calibrate` (issue 10): SIGKILL or SIGTERM at any moment leaves the
output absent or complete, and the next run of the same command leaves nothing half-written behind.

Each command runs as a subprocess with a tiny budget (scale 0.001, a month or two) and is killed at a chosen moment:
early (while it imports and checks its inputs), when its staging folder or its first result appears, or after a
delay drawn at random (seeded: the same moments every time). Then:

- run, batch: the output folder is absent, or the previous complete one, or a complete new one (run.json, or
  batch.json, and every table its record lists, with the checksums it records); after the next run no hidden
  `.NAME.*` staging folder or lock file is left beside it, and its tables equal those of an unkilled run;
- sweep, calibrate: the folder resumes: the same command again completes it, with the same results as an unkilled
  run (runs.csv and every series; the calibrated scenario, the report and the evaluation log's content).

The signal goes to the command's own process only, as `kill PID` sends it; its worker processes must then end by
themselves (pool.py), which is checked too: nothing of the command's process group outlives it for long.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exodus.model.scenario import read_raw

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "scenarios" / "baseline.toml"
INPUTS = REPO / "scenarios" / "baseline_inputs.toml"
RUN_TABLES = ("daily.csv", "jobs.csv", "queues.csv", "firms.csv", "tax.csv")
KILL, TERM = signal.SIGKILL, signal.SIGTERM


# -- processes ----------------------------------------------------------------------------------------------------
def exodus(*args: str) -> list[str]:
    return [sys.executable, "-m", "exodus", *args]


def start(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    # a session of its own: its workers are in its process group, which the test watches die out
    return subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def finish(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def kill_when(proc: subprocess.Popen[bytes], sig: signal.Signals, ready: Callable[[], bool], timeout: float) -> bool:
    """Send `sig` to the process once `ready()` holds (or `timeout` passes); False if it ended first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.002)
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, sig)
    return True


def reap(proc: subprocess.Popen[bytes], sig: signal.Signals) -> str:
    """Wait for the killed process and for its workers (its process group) to be gone; its stderr. SIGKILL ends it
    at once; SIGTERM unwinds it as Ctrl-C does (status 143, or 130 for a sweep, which says how to resume), unless
    it came before the command set its handler (Python's start) or after it finished."""
    _, err = proc.communicate(timeout=60)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"processes of the killed command {proc.args} still run 15 s after it ended")
    text = err.decode(errors="replace")
    assert "Traceback" not in text, text
    allowed = {0, -signal.SIGKILL} if sig == KILL else {0, -signal.SIGTERM, 128 + signal.SIGTERM, 130}
    assert proc.returncode in allowed, (proc.returncode, text)
    return text


def handled(proc: subprocess.Popen[bytes]) -> bool:
    """Did the command see SIGTERM and unwind (rather than die at once, or finish)?"""
    return proc.returncode in (128 + signal.SIGTERM, 130)


def staged(parent: Path, name: str) -> Callable[[], bool]:
    return lambda: any(p.name.startswith(f".{name}.") and p.name.endswith(".partial") for p in parent.iterdir())


def after(seconds: float) -> Callable[[], bool]:
    deadline = time.monotonic() + seconds
    return lambda: time.monotonic() >= deadline


def moment(kind: str, seed: str, parent: Path, name: str, typical: float) -> Callable[[], bool]:
    """When to kill: `early` (0-0.5 s: imports, checks), `staging` (its staging folder appears), `first` (its
    first result: a sweep's done file, a line of a calibration's log), or `random` (in the run's typical time)."""
    rng = random.Random(seed)
    if kind == "early":
        return after(rng.uniform(0.0, 0.5))
    if kind == "staging":
        return staged(parent, name)
    if kind == "first":
        out = parent / name
        return lambda: (
            any((out / "done").glob("*.json"))
            or ((out / "evaluations.jsonl").is_file() and (out / "evaluations.jsonl").stat().st_size > 0)
        )
    return after(rng.uniform(0.3, typical))


def no_leftovers(parent: Path, name: str) -> None:
    """Nothing hidden beside the output: no staging folder (`.NAME.*.partial`, `.NAME.*.old`), no lock file."""
    left = sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))
    assert not left, left


# -- what a complete output is --------------------------------------------------------------------------------------
def assert_complete_run(folder: Path, plot: bool = True) -> dict[str, Any]:
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert sorted(record["outputs"]) == sorted(RUN_TABLES)
    for table, digest in record["outputs"].items():
        assert hashlib.sha256((folder / table).read_bytes()).hexdigest() == digest, table
    assert (folder / "outflow.png").is_file() == plot
    return record


def assert_complete_batch(folder: Path) -> None:
    record = json.loads((folder / "batch.json").read_text(encoding="utf-8"))
    assert record["runs"], record
    for run in record["runs"]:
        assert_complete_run(folder / run["folder"], plot=False)
    for scenario in record["scenarios"]:
        assert (folder / scenario["name"] / "ensemble.csv").is_file()


def tables(folder: Path, names: tuple[str, ...] = RUN_TABLES) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in names}


# -- exodus run ----------------------------------------------------------------------------------------------------
RUN = ["--scale", "0.002", "--set", "scenario.days=60", "--quiet"]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], float]:
    folder = tmp_path_factory.mktemp("reference-run")
    clock = time.monotonic()
    finish(exodus("run", str(BASELINE), "--out", "out", *RUN), folder)
    return tables(folder / "out"), time.monotonic() - clock


@pytest.mark.parametrize(
    ("sig", "when", "previous"),
    [(KILL, "staging", True), (TERM, "staging", False), (KILL, "early", False), (TERM, "random", True)],
    ids=["KILL-staging-over-a-result", "TERM-staging", "KILL-early", "TERM-random-over-a-result"],
)
def test_a_killed_run_leaves_its_folder_absent_or_complete(
    tmp_path: Path, reference_run: tuple[dict[str, bytes], float], sig: signal.Signals, when: str, previous: bool
) -> None:
    reference, typical = reference_run
    argv = exodus("run", str(BASELINE), "--out", "out", *RUN)
    if previous:  # a result of another seed is there already: it is replaced whole or kept whole
        finish(exodus("run", str(BASELINE), "--out", "out", *RUN, "--seed", "1"), tmp_path)
        before = assert_complete_run(tmp_path / "out")
    proc = start(argv, tmp_path)
    killed = kill_when(proc, sig, moment(when, f"run-{sig}-{when}", tmp_path, "out", typical), timeout=60)
    assert killed or when == "random"
    reap(proc, sig)
    partial = staged(tmp_path, "out")()
    assert not (handled(proc) and partial), "SIGTERM unwinds: its staging folder is removed at once"
    assert partial or when != "staging" or sig != KILL, "killed while staging: the staging folder is left"
    if (tmp_path / "out").exists():
        record = assert_complete_run(tmp_path / "out")
        assert record["seed"] == 0 or (previous and record == before)
    elif previous:  # killed between the swap's two renames: the previous result waits aside, whole
        (old,) = [p for p in tmp_path.iterdir() if p.name.startswith(".out.") and p.name.endswith(".old")]
        assert assert_complete_run(old) == before
    finish(argv, tmp_path)
    no_leftovers(tmp_path, "out")
    assert tables(tmp_path / "out") == reference


# -- exodus batch --------------------------------------------------------------------------------------------------
BATCH = ["--seeds", "2", "--scale", "0.001", "--set", "scenario.days=30", "--workers", "2", "--quiet"]
BATCH_TABLES = ("ensemble.csv", "seed0/daily.csv", "seed1/daily.csv")


@pytest.fixture(scope="module")
def reference_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], float]:
    folder = tmp_path_factory.mktemp("reference-batch")
    clock = time.monotonic()
    finish(exodus("batch", str(BASELINE), "--out", "out", *BATCH), folder)
    return tables(folder / "out" / "baseline", BATCH_TABLES), time.monotonic() - clock


@pytest.mark.parametrize(
    ("sig", "when"), [(KILL, "staging"), (TERM, "random"), (KILL, "random")], ids=["KILL-staging", "TERM", "KILL"]
)
def test_a_killed_batch_leaves_its_folder_absent_or_complete(
    tmp_path: Path, reference_batch: tuple[dict[str, bytes], float], sig: signal.Signals, when: str
) -> None:
    reference, typical = reference_batch
    argv = exodus("batch", str(BASELINE), "--out", "out", *BATCH)
    proc = start(argv, tmp_path)
    killed = kill_when(proc, sig, moment(when, f"batch-{sig}-{when}", tmp_path, "out", typical), timeout=60)
    assert killed or when == "random"
    reap(proc, sig)
    assert not (handled(proc) and staged(tmp_path, "out")()), "SIGTERM unwinds: its staging folder is removed"
    if (tmp_path / "out").exists():
        assert_complete_batch(tmp_path / "out")
    finish(argv, tmp_path)
    no_leftovers(tmp_path, "out")
    assert_complete_batch(tmp_path / "out")
    assert tables(tmp_path / "out" / "baseline", BATCH_TABLES) == reference


# -- exodus sweep --------------------------------------------------------------------------------------------------
SWEEP = f"""
[sweep]
name = "kill"
scenario = "{BASELINE.as_posix()}"
seeds = 2
scale = 0.001
days = 30
metrics = ["cumulative_departures:all:2022-03-20", "stock_abroad:it:2022-03-20"]

[design]
method = "lhs"
samples = 3
seed = 1

[[parameter]]
path = "behaviour.hazard.alarm"
low = 1.5
high = 4.5
"""


def sweep_results(out: Path) -> dict[str, bytes]:
    files = {"runs.csv": (out / "runs.csv").read_bytes()}
    return files | {f"series/{p.name}": p.read_bytes() for p in sorted((out / "series").glob("*.parquet"))}


@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], float]:
    folder = tmp_path_factory.mktemp("reference-sweep")
    (folder / "kill.toml").write_text(SWEEP, encoding="utf-8")
    clock = time.monotonic()
    finish(exodus("sweep", "kill.toml", "--out", "out", "--workers", "2", "--quiet"), folder)
    return sweep_results(folder / "out"), time.monotonic() - clock


@pytest.mark.parametrize(
    ("sig", "when"),
    [(KILL, "first"), (TERM, "first"), (KILL, "random")],
    ids=["KILL-first-run", "TERM-first-run", "KILL-random"],
)
def test_a_killed_sweep_resumes_to_the_results_of_an_unkilled_one(
    tmp_path: Path, reference_sweep: tuple[dict[str, bytes], float], sig: signal.Signals, when: str
) -> None:
    reference, typical = reference_sweep
    (tmp_path / "kill.toml").write_text(SWEEP, encoding="utf-8")
    argv = exodus("sweep", "kill.toml", "--out", "out", "--workers", "2", "--quiet")
    proc = start(argv, tmp_path)
    killed = kill_when(proc, sig, moment(when, f"sweep-{sig}-{when}", tmp_path, "out", typical), timeout=60)
    assert killed or when == "random"
    reap(proc, sig)
    if handled(proc):  # the session is recorded as stopped, not left "running"
        sessions = json.loads((tmp_path / "out" / "sweep.json").read_text(encoding="utf-8"))["sessions"]
        assert sessions[-1]["outcome"] == "stopped: Terminated", sessions[-1]
    out = tmp_path / "out"
    for done in (out / "done").glob("*.json") if out.exists() else []:  # each finished run whole
        record = json.loads(done.read_text(encoding="utf-8"))
        assert record["status"] == "ok", record
        assert (out / "series" / f"{done.stem}.parquet").is_file()
    finish(argv, tmp_path)
    assert sweep_results(out) == reference
    assert json.loads((out / "sweep.json").read_text(encoding="utf-8"))["complete"]
    assert not any((out / ".tmp").iterdir())
    no_leftovers(tmp_path, "out")


# -- exodus calibrate ------------------------------------------------------------------------------------------------
TARGETS = [
    ["id", "segment", "measure", "date_start", "date_end", "value", "low", "high", "weight", "source"],
    ["it_march", "it", "gross_departures", "2022-02-24", "2022-03-22", "70000", "50000", "70000", "1", "test"],
    ["all_march", "all", "gross_departures", "2022-03-01", "2022-03-20", "300000", "200000", "400000", "1", "test"],
]
CALIBRATE = [
    *("--seeds", "1", "--scale", "0.001", "--popsize", "1", "--maxiter", "1", "--polish", "3"),
    *("--abc-population", "0", "--draws", "1", "--check-seeds", "1", "--check-scale", "0.001"),
    *("--workers", "1", "--quiet"),
]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)


def calibration_problem(folder: Path) -> Path:
    """The inputs with one free parameter, fitted to two figures of the first month."""
    raw = read_raw(INPUTS)
    raw.pop("free_parameters", None)
    raw["scenario"].pop("targets", None)
    base = folder / "base.toml"
    base.write_text("".join(f"{key} = {_toml(value)}\n" for key, value in raw.items()), encoding="utf-8")
    with (folder / "targets.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(TARGETS)
    problem = folder / "problem.toml"
    problem.write_text(
        '[scenario]\nextends = "base.toml"\nname = "kill"\ndays = 30\ntargets = "targets.csv"\n\n'
        '[free_parameters."behaviour.hazard.base_it"]\nlow = 1e-5\nhigh = 2e-4\nlog = true\n',
        encoding="utf-8",
    )
    return problem


def calibration_results(out: Path) -> dict[str, Any]:
    """What a calibration gives: the calibrated scenario, the report, and every evaluation's result (the log's lines
    in any order: a resumed calibration appends what the killed one had not logged)."""
    log = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines() if line.strip()]
    evaluations = {r["key"]: (r.get("loss"), r.get("values")) for r in log}
    return {
        "calibrated.toml": (out / "calibrated.toml").read_text(encoding="utf-8"),
        "fit.md": (out / "fit.md").read_text(encoding="utf-8").replace(str(out.parent), "<folder>"),
        "fit.png": (out / "fit.png").is_file(),
        "evaluations": evaluations,
    }


@pytest.fixture(scope="module")
def reference_calibration(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], float]:
    folder = tmp_path_factory.mktemp("reference-calibration")
    problem = calibration_problem(folder)
    clock = time.monotonic()
    finish(exodus("calibrate", str(problem), "--out", "out", *CALIBRATE), folder)
    return calibration_results(folder / "out"), time.monotonic() - clock


@pytest.mark.parametrize(("sig", "when"), [(KILL, "first"), (TERM, "random")], ids=["KILL-first-evaluation", "TERM"])
def test_a_killed_calibration_resumes_to_the_results_of_an_unkilled_one(
    tmp_path: Path, reference_calibration: tuple[dict[str, Any], float], sig: signal.Signals, when: str
) -> None:
    reference, typical = reference_calibration
    problem = calibration_problem(tmp_path)
    argv = exodus("calibrate", str(problem), "--out", "out", *CALIBRATE)
    proc = start(argv, tmp_path)
    killed = kill_when(proc, sig, moment(when, f"calibrate-{sig}-{when}", tmp_path, "out", typical), timeout=60)
    assert killed or when == "random"
    reap(proc, sig)
    finish(argv, tmp_path)
    assert calibration_results(tmp_path / "out") == reference
    no_leftovers(tmp_path, "out")

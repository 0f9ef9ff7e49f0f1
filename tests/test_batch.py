"""`exodus batch`: per-run folders as `exodus run` writes them, and an ensemble summary that is their statistics.

Small runs (scale 0.002, 90 days): the whole module takes a few seconds.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from exodus.experiments.analyses.run import run_scenario
from exodus.experiments.cli.main import main
from exodus.experiments.core.tables import DAILY_COLUMNS, read_daily

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = [REPO / "scenarios" / "baseline.toml", REPO / "scenarios" / "no_mobilisation.toml"]
NAMES = ["baseline", "no_mobilisation"]
SEEDS = 3
DAYS = 90
SMALL = ["--scale", "0.002", "--set", f"scenario.days={DAYS}", "--quiet"]


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("batch") / "out"
    args = ["batch", *map(str, SCENARIOS), "--seeds", str(SEEDS), "--out", str(out), "--workers", "2", *SMALL]
    assert main(args) == 0
    return out


def test_batch_writes_each_run_like_exodus_run(batch_dir: Path) -> None:
    for name in NAMES:
        for seed in range(SEEDS):
            run = batch_dir / name / f"seed{seed}"
            for file in ("daily.csv", "jobs.csv", "tax.csv", "run.json"):
                assert (run / file).stat().st_size > 0, run / file
            assert not (run / "outflow.png").exists()  # plots are off by default
            record = json.loads((run / "run.json").read_text())
            assert (record["scenario_name"], record["seed"], record["scale"]) == (name, seed, 0.002)
            assert record["days"] == DAYS
    assert sorted(p.name for p in batch_dir.parent.iterdir()) == ["out"]  # no staging folder left behind


def test_batch_json_records_provenance(batch_dir: Path) -> None:
    record = json.loads((batch_dir / "batch.json").read_text())
    assert [s["name"] for s in record["scenarios"]] == NAMES
    assert all(len(s["digest"]) == 64 for s in record["scenarios"])
    assert record["seeds"] == list(range(SEEDS))
    assert record["scale"] == 0.002
    assert record["overrides"] == {"scenario.days": DAYS}
    assert len(record["runs"]) == len(NAMES) * SEEDS
    assert {"versions", "git", "started", "finished", "elapsed_seconds"} <= set(record)


def test_same_seed_in_a_batch_and_alone_gives_the_same_run(batch_dir: Path, tmp_path: Path) -> None:
    alone = run_scenario(
        SCENARIOS[1], seed=2, scale=0.002, out=tmp_path / "alone", progress=False, plot=False, **{"scenario.days": DAYS}
    )
    assert (alone / "daily.csv").read_bytes() == (batch_dir / NAMES[1] / "seed2" / "daily.csv").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_summary_is_the_statistics_of_the_runs(batch_dir: Path, name: str) -> None:
    runs = [read_daily(batch_dir / name / f"seed{seed}" / "daily.csv") for seed in range(SEEDS)]
    dates = [str(d) for d in runs[0].dates]
    values: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for run in runs:
        for quantity in DAILY_COLUMNS:
            array = run.columns[quantity]
            for t, date in enumerate(dates):
                for j, loc in enumerate(run.locations):
                    for s, seg in enumerate(run.segments):
                        values[date, loc, seg, quantity].append(float(array[t, j, s]))
                    values[date, loc, "all", quantity].append(float(array[t, j].sum()))
    with (batch_dir / name / "ensemble.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(values) == DAYS * len(runs[0].locations) * 3 * len(DAILY_COLUMNS)
    for row in rows:
        per_run = values[row["date"], row["location"], row["segment"], row["quantity"]]
        assert float(row["mean"]) == pytest.approx(np.mean(per_run), abs=1e-3), row
        assert float(row["median"]) == pytest.approx(np.median(per_run), abs=1e-3), row
        low, high = np.percentile(per_run, [5, 95])
        assert float(row["p05"]) == pytest.approx(low, abs=1e-3) and float(row["p95"]) == pytest.approx(high, abs=1e-3)


def test_batch_refuses_a_folder_that_holds_something_else(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["batch", str(SCENARIOS[0]), "--seeds", "1", "--out", str(out), *SMALL]) == 2
    assert "does not hold a batch" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_bad_scenario_fails_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.toml"
    assert main(["batch", str(SCENARIOS[0]), str(missing), "--seeds", "1", "--out", str(out), *SMALL]) == 2
    assert "missing.toml" in capsys.readouterr().err
    assert not out.exists()

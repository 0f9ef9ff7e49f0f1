"""`exodus run`: the files a run writes, their consistency, reproducibility and errors.

Runs are small (scale 0.002, 240 days) so each takes a second or two.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from exodus.experiments.cli.main import main
from exodus.experiments.cli.options import literal
from exodus.model import load_scenario

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "scenarios" / "baseline.toml"
DAYS = 240
SMALL = ["--scale", "0.002", "--set", f"scenario.days={DAYS}", "--quiet"]
FILES = ("daily.csv", "jobs.csv", "queues.csv", "firms.csv", "tax.csv", "run.json", "outflow.png")


def exodus_run(out: Path, seed: int = 0, *extra: str) -> Path:
    assert main(["run", str(BASELINE), "--seed", str(seed), "--out", str(out), *SMALL, *extra]) == 0
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exodus_run(tmp_path_factory.mktemp("runs") / "baseline-seed0")


def test_run_writes_every_file_and_no_staging_left(run_dir: Path) -> None:
    for name in FILES:
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir / "outflow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in run_dir.parent.iterdir()] == [run_dir.name]  # the staging folder was renamed in


def test_stocks_add_up_to_population_and_are_never_negative(run_dir: Path) -> None:
    population = json.loads((run_dir / "run.json").read_text())["population"]
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with (run_dir / "daily.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            stock = int(row["stock"])
            assert stock >= 0, row
            totals[row["date"], row["segment"]] += stock
    assert len({date for date, _ in totals}) == DAYS
    assert {seg for _, seg in totals} == set(population)
    for (date, seg), total in totals.items():
        assert total == population[seg], (date, seg)


def test_same_seed_gives_byte_identical_daily_csv(run_dir: Path, tmp_path: Path) -> None:
    again = exodus_run(tmp_path / "again", 0)
    assert (again / "daily.csv").read_bytes() == (run_dir / "daily.csv").read_bytes()


def test_different_seed_gives_different_daily_csv(run_dir: Path, tmp_path: Path) -> None:
    other = exodus_run(tmp_path / "other", 1)
    assert (other / "daily.csv").read_bytes() != (run_dir / "daily.csv").read_bytes()


def test_run_json_records_scenario_code_and_environment(run_dir: Path) -> None:
    record = json.loads((run_dir / "run.json").read_text())
    required = {
        "scenario",
        "scenario_digest",
        "scenario_path",
        "seed",
        "scale",
        "population",
        "agents",
        "persons_per_agent",
        "versions",
        "git",
        "started",
        "finished",
    }
    assert required <= set(record) and record["kind"] == "run"
    assert record["scenario_digest"] == load_scenario(BASELINE, {"scenario.days": DAYS}).digest()
    assert record["scenario"]["scenario"]["days"] == DAYS
    assert record["scenario_path"] == str(BASELINE)
    assert (record["seed"], record["scale"]) == (0, 0.002)
    for seg, persons in record["population"].items():
        assert persons == record["agents"][seg] * record["persons_per_agent"][seg]
    assert set(record["versions"]) == {"package", "mesa", "numpy", "python"}
    assert set(record["git"]) == {"commit", "dirty"}
    assert dt.datetime.fromisoformat(record["started"]) <= dt.datetime.fromisoformat(record["finished"])


def test_bad_scenario_exits_2_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[scenario]\nname = "bad"\nextends = "{BASELINE}"\n\n[behaviour.hazard]\nalarm = "high"\n')
    out = tmp_path / "out"
    assert main(["run", str(bad), "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert "behaviour.hazard.alarm" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_existing_folder_that_is_not_a_run_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("somebody's work")
    assert main(["run", str(BASELINE), "--out", str(tmp_path), *SMALL]) == 2
    assert "not replacing" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_set_values_parse_as_toml_or_json_literals() -> None:
    assert literal("2.0") == 2.0
    assert literal("true") is True
    assert literal("[1, 2]") == [1, 2]
    assert literal("2022-09-21") == dt.date(2022, 9, 21)
    assert literal("null") is None
    assert literal("high") == "high"


def test_python_m_experiments_run_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exodus", "run", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--seed" in done.stdout and "--set" in done.stdout

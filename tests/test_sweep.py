"""`exodus sweep`: the smoke sweep, killed and resumed, on a loopback dask cluster, with a failing run.

Each smoke sweep is 8 runs of about a second. The reference sweep runs once
for the module; the others are compared with it byte for byte: `runs.csv`
holds no timings, so the same results give the same file however the sweep
was run.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from exodus.experiments.analyses.sweep_file import SweepError, load_sweep
from exodus.experiments.cli.main import main

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "experiments" / "data" / "sweeps" / "smoke.toml"
BASELINE = REPO / "scenarios" / "baseline.toml"


def sweep_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "exodus", "sweep", str(SMOKE), "--out", str(out), "--quiet", *extra]


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "runs.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def sessions(out: Path) -> list[dict]:
    return json.loads((out / "sweep.json").read_text())["sessions"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "reference"
    run_cli(sweep_command(out, "--workers", "2"))
    return out


def test_smoke_sweep_records_every_run(reference: Path) -> None:
    sweep = load_sweep(SMOKE)
    table = rows(reference)
    assert len(table) == len(sweep.runs) >= 8
    assert [r["run_id"] for r in table] == [r.run_id for r in sweep.runs]
    assert len({r["run_id"] for r in table}) == len(table)
    assert all(r["status"] == "ok" and r["error"] == "" for r in table)
    for row in table:
        for metric in sweep.metrics:
            assert float(row[metric]) >= 0
        for path in sweep.paths:
            assert float(row[path]) == sweep.runs[int(row["point"]) * 2].params[path]
    record = json.loads((reference / "sweep.json").read_text())
    assert record["complete"] and record["sweep_sha256"] == sweep.sha256
    assert [s["runs_run"] for s in record["sessions"]] == [len(sweep.runs)]
    # a provenance record as every result's: scenario, seeds, package version, git commit, times
    assert record["kind"] == "sweep" and record["scenario_digest"] and record["seeds"] == sweep.spec.sweep.seed_list
    assert record["versions"]["package"] and record["git"]["commit"]
    assert record["started"] == record["sessions"][-1]["started"] <= record["finished"]


def test_each_run_has_its_daily_series_in_parquet(reference: Path) -> None:
    sweep = load_sweep(SMOKE)
    days = sweep.spec.sweep.days
    for run in sweep.runs:
        table = pq.read_table(reference / "series" / f"{run.run_id}.parquet")
        names = set(table.column_names)
        assert {"run_id", "date", "location", "segment", "stock", "arrivals", "departures"} <= names
        assert table.num_rows == days * 13 * 2
        assert set(table.column("run_id").to_pylist()) == {run.run_id}
    row = next(r for r in rows(reference) if r["run_id"] == sweep.runs[0].run_id)
    table = pq.read_table(reference / "series" / f"{sweep.runs[0].run_id}.parquet").to_pydict()
    until = dt.date(2022, 12, 19)
    columns = zip(table["departures"], table["location"], table["date"], strict=True)
    left = sum(d for d, loc, date in columns if loc == "RU" and date <= until)
    assert left == float(row["cumulative_departures:all:2022-12-19"])  # the series and the metrics agree


def test_killed_sweep_resumes_to_the_same_results(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    total = len(load_sweep(SMOKE).runs)
    process = subprocess.Popen(
        sweep_command(out, "--workers", "2"),
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while len(list((out / "done").glob("*.json"))) < 2:
        assert process.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no run finished in time"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the sweep and its workers, mid-run
    process.wait()
    finished = len(list((out / "done").glob("*.json")))
    assert 2 <= finished < total

    run_cli(sweep_command(out, "--workers", "2"))
    assert (out / "runs.csv").read_bytes() == (reference / "runs.csv").read_bytes()
    first, second = sessions(out)
    assert second["runs_before"] == finished and second["runs_run"] == total - finished  # none run twice
    assert first["outcome"].startswith("ended without")
    for path in (reference / "series").glob("*.parquet"):
        assert pq.read_table(out / "series" / path.name).equals(pq.read_table(path)), path.name
    assert not list((out / ".tmp").iterdir())


def test_a_finished_sweep_started_again_runs_nothing(reference: Path) -> None:
    before = (reference / "runs.csv").read_bytes()
    assert main(["sweep", str(SMOKE), "--out", str(reference), "--workers", "2", "--quiet"]) == 0
    assert (reference / "runs.csv").read_bytes() == before
    assert sessions(reference)[-1]["runs_run"] == 0


def test_dask_cluster_gives_the_same_results_as_local_processes(reference: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        run_cli(sweep_command(out, "--scheduler", address))
    assert (out / "runs.csv").read_bytes() == (reference / "runs.csv").read_bytes()
    assert sessions(out)[0]["backend"].startswith("dask tcp://127.0.0.1:")


FAILING = """
[sweep]
name = "failing"
scenario = "{scenario}"
seeds = 1
scale = 0.002
days = 60
metrics = ["cumulative_departures:all:2022-04-01", "stock_abroad:it:2022-04-01"]

[[parameter]]
path = "behaviour.hazard.alarm"
values = [1.0, -1.0, 2.0]
"""


def test_a_failing_run_is_recorded_and_the_others_complete(tmp_path: Path) -> None:
    sweep_file = tmp_path / "failing.toml"
    sweep_file.write_text(FAILING.format(scenario=BASELINE.as_posix()))
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    table = rows(out)
    assert [r["status"] for r in table] == ["ok", "error", "ok"]
    bad = table[1]
    assert bad["run_id"] == "p0001-s0" and bad["behaviour.hazard.alarm"] == "-1.0"
    assert "behaviour.hazard.alarm" in bad["error"] and "greater than or equal to 0" in bad["error"]
    assert bad["cumulative_departures:all:2022-04-01"] == ""
    assert float(table[2]["cumulative_departures:all:2022-04-01"]) > 0
    assert not (out / "series" / "p0001-s0.parquet").exists()
    assert "Traceback" in json.loads((out / "done" / "p0001-s0.json").read_text())["traceback"]

    assert main(["sweep", str(sweep_file), "--out", str(out), "--quiet"]) == 0  # done: nothing to run
    assert sessions(out)[-1]["runs_run"] == 0
    assert main(["sweep", str(sweep_file), "--out", str(out), "--retry-errors", "--quiet"]) == 0
    assert sessions(out)[-1]["runs_run"] == 1
    assert rows(out) == table


def test_a_changed_sweep_file_is_refused_on_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep_file = tmp_path / "failing.toml"
    sweep_file.write_text(FAILING.format(scenario=BASELINE.as_posix()).replace("-1.0, ", ""))
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    sweep_file.write_text(sweep_file.read_text().replace("2.0]", "3.0]"))
    assert main(["sweep", str(sweep_file), "--out", str(out), "--quiet"]) == 2
    assert "different sweep file" in capsys.readouterr().err


def test_a_change_of_model_code_is_refused_on_resume_unless_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep_file = tmp_path / "failing.toml"
    sweep_file.write_text(FAILING.format(scenario=BASELINE.as_posix()).replace("-1.0, 2.0", "2.0"))
    out = tmp_path / "out"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    monkeypatch.setattr("exodus.experiments.analyses.sweep.code_digest", lambda: "edited")
    assert main(["sweep", str(sweep_file), "--out", str(out), "--quiet"]) == 2
    assert "model's code" in capsys.readouterr().err
    assert main(["sweep", str(sweep_file), "--out", str(out), "--quiet", "--accept-code-change"]) == 0
    record = json.loads((out / "sweep.json").read_text())
    assert record["code_changed"] is True and record["code_digest"] == "edited"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("seeds = 1", "seeds = 0"), "field sweep.seeds"),
        (('"stock_abroad:it:2022-04-01"', '"stock_abroad:xx:2022-04-01"'), "segment 'xx'"),
        (('"stock_abroad:it:2022-04-01"', '"stock_abroad:it:2024-04-01"'), "outside the run"),
        (("behaviour.hazard.alarm", "behaviour.hazard.alarmm"), "parameter[0].path"),
        (("values = [1.0, -1.0, 2.0]", "low = 1.0"), "expected values = [...] or both low and high"),
        (("[[parameter]]", '[design]\nmethod = "lhs"\nsamples = 3\n\n[[parameter]]'), "samples between low and high"),
    ],
)
def test_an_invalid_sweep_file_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture, change: tuple[str, str], message: str
) -> None:
    sweep_file = tmp_path / "bad.toml"
    text = FAILING.format(scenario=BASELINE.as_posix())
    assert change[0] in text
    sweep_file.write_text(text.replace(*change))
    assert main(["sweep", str(sweep_file), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(sweep_file) in err and message in err, err
    assert not (tmp_path / "out").exists()


def test_designs_are_deterministic_and_fill_their_bounds() -> None:
    sweep = load_sweep(SMOKE)
    assert load_sweep(SMOKE).points == sweep.points
    n = len(sweep.points)
    for p in sweep.spec.parameter:
        values = sorted(point[p.path] for point in sweep.points)
        assert p.low <= values[0] and values[-1] <= p.high
        strata = [int((v - p.low) / (p.high - p.low) * n) for v in values]
        assert strata == list(range(n))  # a Latin hypercube: one point in each of n slices of each parameter
    assert [r.run_id for r in sweep.runs[:3]] == ["p0000-s0", "p0000-s1", "p0001-s0"]


DESIGN = """
[sweep]
name = "designs"
scenario = "{scenario}"
seeds = [3, 5]
scale = 0.002
days = 60
metrics = ["cumulative_departures:all:2022-04-01"]

[design]
{design}

[[parameter]]
path = "behaviour.hazard.alarm"
low = 0.5
high = 8.0
log = true

[[parameter]]
path = "scenario.days"
low = 40
high = 60
integer = true
"""


@pytest.mark.parametrize(
    ("design", "points"),
    [
        ('method = "grid"', None),  # needs levels: an error, tested below
        ('method = "lhs"\nsamples = 5', 5),
        ('method = "sobol"\nsamples = 4', 4),
        ('method = "saltelli"\nsamples = 4', 4 * (2 + 2)),  # N (d + 2) without second-order indices
        ('method = "morris"\nsamples = 3', 3 * (2 + 1)),  # trajectories x (d + 1)
    ],
)
def test_sampled_designs_have_their_size_and_respect_bounds(tmp_path: Path, design: str, points: int | None) -> None:
    if "saltelli" in design or "morris" in design:
        pytest.importorskip("SALib")
    sweep_file = tmp_path / "designs.toml"
    sweep_file.write_text(DESIGN.format(scenario=BASELINE.as_posix(), design=design))
    if points is None:
        with pytest.raises(SweepError, match="a grid needs values"):
            load_sweep(sweep_file)
        return
    sweep = load_sweep(sweep_file)
    assert len(sweep.points) == points and len(sweep.runs) == 2 * points
    assert [r.seed for r in sweep.runs[:2]] == [3, 5]
    for point in sweep.points:
        assert 0.5 <= point["behaviour.hazard.alarm"] <= 8.0
        assert isinstance(point["scenario.days"], int) and 40 <= point["scenario.days"] <= 60
    assert sweep.unit is not None and len(sweep.unit) == points


def test_a_grid_is_the_product_of_levels_and_values(tmp_path: Path) -> None:
    sweep_file = tmp_path / "grid.toml"
    text = DESIGN.format(scenario=BASELINE.as_posix(), design='method = "grid"')
    text = text.replace("log = true", "log = true\nlevels = 3").replace("low = 40\nhigh = 60", "values = [40, 60]")
    sweep_file.write_text(text.replace("integer = true", ""))
    sweep = load_sweep(sweep_file)
    alarms = [p["behaviour.hazard.alarm"] for p in sweep.points]
    assert alarms == pytest.approx([0.5, 0.5, 2.0, 2.0, 8.0, 8.0])  # geometric levels; first parameter slowest
    assert [p["scenario.days"] for p in sweep.points] == [40, 60] * 3

"""Calibration recovers known parameters, reproduces itself, and reads targets strictly."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from exodus.experiments.analyses.calibration.calibrate import Calibration, EvaluationLog, ensemble, loss
from exodus.experiments.core.targets import Target, TargetsError, load_targets

BASE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline_inputs.toml"
TRUTH = {"behaviour.hazard.base_it": 6e-5, "policy.invasion.level": 1.6}  # inside the inputs' bounds
WINDOWS = [("first_month", "2022-02-24", "2022-03-22"), ("april", "2022-04-01", "2022-04-30")]
SEEDS, SCALE, DAYS = (0, 1), 0.005, 66
FEW_OTHERS = {"population.other.persons": 8_000_000}  # IT targets only: keep the other segment small
HEADER = ["id", "segment", "measure", "date_start", "date_end", "value", "low", "high", "weight", "source"]
TOLERANCE = 0.15  # relative error allowed on each recovered parameter


def _synthetic(tmp_path: Path) -> Path:
    """A scenario whose targets are the model's own output at TRUTH (+-3%), for IT workers."""
    proto = [
        Target(i, "it", "gross_departures", dt.date.fromisoformat(a), dt.date.fromisoformat(b), 1, 1, 1, 1, "synthetic")
        for i, a, b in WINDOWS
    ]
    values = ensemble(BASE, {**TRUTH, **FEW_OTHERS, "scenario.days": DAYS}, SEEDS, SCALE, proto)
    with (tmp_path / "targets.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i, a, b in WINDOWS:
            v = float(np.mean(values[i]))
            writer.writerow([i, "it", "gross_departures", a, b, v, 0.97 * v, 1.03 * v, 1, "synthetic"])
    scenario = tmp_path / "synthetic.toml"
    scenario.write_text(
        f'[scenario]\nextends = "{BASE}"\nname = "synthetic"\ndays = {DAYS}\ntargets = "targets.csv"\n'
        f"[population.other]\npersons = {FEW_OTHERS['population.other.persons']}\n"
    )
    return scenario


def _fit(scenario: Path, out: Path, workers: int, popsize: int = 5, maxiter: int = 12) -> tuple[dict, float]:
    with Calibration(scenario, out, seeds=SEEDS, scale=SCALE, workers=workers, only=list(TRUTH)) as cal:
        x, value = cal.fit(seed=3, popsize=popsize, maxiter=maxiter)
        return cal.overrides(x), value


def test_calibration_recovers_known_parameters(tmp_path: Path) -> None:
    scenario = _synthetic(tmp_path)
    fitted, value = _fit(scenario, tmp_path / "fit", workers=2)
    for path, true in TRUTH.items():
        assert fitted[path] == pytest.approx(true, rel=TOLERANCE), (path, fitted[path], true)
    assert value < 0.01


def test_calibration_reproduces_and_resumes(tmp_path: Path) -> None:
    """The same seed gives the same parameters bit for bit, on 2 processes or 1, fresh or resumed."""
    scenario = _synthetic(tmp_path)
    fitted, value = _fit(scenario, tmp_path / "first", workers=2, popsize=3, maxiter=3)
    again, value_again = _fit(scenario, tmp_path / "second", workers=1, popsize=3, maxiter=3)
    assert again == fitted and value_again == value
    log = tmp_path / "first" / "evaluations.jsonl"
    lines = log.read_text().count("\n")
    resumed, _ = _fit(scenario, tmp_path / "first", workers=1, popsize=3, maxiter=3)
    assert resumed == fitted
    assert log.read_text().count("\n") == lines  # nothing ran again


def test_a_line_cut_by_a_kill_is_run_again(tmp_path: Path) -> None:
    log = EvaluationLog(tmp_path / "evaluations.jsonl")
    log.add({"key": "fit:1.0", "loss": 0.5})
    with (tmp_path / "evaluations.jsonl").open("a") as fh:
        fh.write('{"key": "fit:2.0", "lo')  # killed mid-write
    again = EvaluationLog(tmp_path / "evaluations.jsonl")
    assert set(again.records) == {"fit:1.0"}
    assert json.loads((tmp_path / "evaluations.jsonl").read_text().splitlines()[0])["loss"] == 0.5


def test_loss_is_zero_inside_ranges_and_grows_outside() -> None:
    day = dt.date(2022, 3, 1)
    target = Target("t", "all", "gross_departures", day, day, 100.0, 80.0, 120.0, 1.0, "s")
    assert loss([target], {"t": [100.0]}) == 0.0
    inside = loss([target], {"t": [115.0]})
    outside = loss([target], {"t": [150.0]})
    assert 0 < inside < 0.001 < outside
    assert loss([target], {"t": [200.0]}) > outside


def test_loss_pulls_toward_the_middle_of_the_range_not_an_edge_value() -> None:
    """A figure reported as "more than 260,000" (range 260-400k): the fit should not hug 260k."""
    day = dt.date(2022, 9, 21)
    target = Target("t", "all", "gross_departures", day, day, 260.0, 260.0, 400.0, 1.0, "s")
    assert loss([target], {"t": [330.0]}) < loss([target], {"t": [265.0]}) < loss([target], {"t": [250.0]})


def test_targets_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "t.csv"
    header = "id,segment,measure,date_start,date_end,value,low,high,weight,source\n"
    bad.write_text(header + "x,it,gross_departures,2022-03-01,2022-03-05,10,20,30,1,s\n")
    with pytest.raises(TargetsError, match=r"t\.csv, line 2: fields low/value/high"):
        load_targets(bad)
    bad.write_text(header + "x,tech,gross_departures,2022-03-01,2022-03-05,10,5,30,1,s\n")
    with pytest.raises(TargetsError, match=r"line 2: field segment: expected one of"):
        load_targets(bad)
    bad.write_text(header + "x,it,gross_departures,March,2022-03-05,10,5,30,1,s\n")
    with pytest.raises(TargetsError, match=r"field date_start: expected a date"):
        load_targets(bad)
    bad.write_text("id,segment\n")
    with pytest.raises(TargetsError, match=r"missing column"):
        load_targets(bad)
    bad.write_text(header + "x,it,gross_departures,2021-03-01,2022-03-05,10,5,30,1,s\n")
    with pytest.raises(TargetsError, match=r"expected within the run"):
        load_targets(bad, dt.date(2022, 2, 24), 730)


def test_calibrate_writes_report_figure_and_an_installable_scenario(tmp_path: Path) -> None:
    """The whole pipeline at a tiny budget: every target gets a row, the fitted file loads and runs. The evolution
    stops at its first population (maxiter 0: one population of evaluations of all the inputs' free parameters,
    not two); its generations are tested above, on two parameters."""
    from exodus.experiments.analyses.calibration.run import calibrate
    from exodus.model import load_scenario

    scenario = _synthetic(tmp_path)
    installed = tmp_path / "installed" / "fitted.toml"
    installed.parent.mkdir()
    out = tmp_path / "cal"
    result = calibrate(
        scenario,
        out,
        seeds=2,
        scale=SCALE,
        popsize=1,
        maxiter=0,
        polish=4,
        abc_population=4,
        abc_generations=1,
        draws=2,
        check_seeds=2,
        check_scale=2 * SCALE,
        workers=1,
        install=installed,
        progress=False,
    )
    report = (out / "fit.md").read_text()
    for name, *_ in WINDOWS:
        assert report.count(f"| `{name}` |") == 2  # the targets table and the scale table
    assert "Averaged relative difference" in report and "seed noise" in report
    assert (out / "fit.png").stat().st_size > 10_000
    for path in (result, installed):  # both load, extend the input, and carry the fitted values
        fitted = load_scenario(path)
        assert fitted.scenario.name == "synthetic"
        assert fitted.calibration["scale"] == SCALE
        bounds = fitted.free_parameters["behaviour.hazard.base_it"]  # recovery itself is tested above
        assert bounds.low <= fitted.behaviour.hazard.base_it <= bounds.high
        assert fitted.behaviour.hazard.base_it != load_scenario(BASE).behaviour.hazard.base_it  # a fitted value
        assert (path.parent / fitted.scenario.targets).resolve() == (tmp_path / "targets.csv").resolve()


def test_a_log_from_another_problem_is_refused(tmp_path: Path) -> None:
    """Logged evaluations belong to their scenario, targets and code: a changed targets file cannot reuse them."""
    from exodus.model.scenario import ScenarioError

    scenario = _synthetic(tmp_path)
    Calibration(scenario, tmp_path / "cal", seeds=SEEDS, scale=SCALE, workers=1, only=list(TRUTH))
    targets = tmp_path / "targets.csv"
    targets.write_text(targets.read_text().replace(",1,synthetic", ",0.5,synthetic"))
    with pytest.raises(ScenarioError, match="targets differ"):
        Calibration(scenario, tmp_path / "cal", seeds=SEEDS, scale=SCALE, workers=1, only=list(TRUTH))


def test_abc_asked_for_more_generations_goes_on_from_its_last(tmp_path: Path) -> None:
    import pyabc

    scenario = _synthetic(tmp_path)
    with Calibration(scenario, tmp_path / "cal", seeds=SEEDS, scale=SCALE, workers=1, only=list(TRUTH)) as cal:
        cal.abc(population=4, generations=1)
        cal.abc(population=4, generations=2)
    history = pyabc.History(f"sqlite:///{tmp_path / 'cal' / 'abc.db'}")
    assert len(history.all_runs()) == 1  # one run, continued
    history.id = 1
    assert history.max_t == 1  # two generations: t = 0, 1


def test_the_evolution_starts_from_the_input_scenario(tmp_path: Path) -> None:
    """The input's own values join the first population (clipped into the bounds), so the fit can only improve
    on the scenario it starts from."""
    from conftest import SCENARIOS

    from exodus.model.scenario import get_path

    cal = Calibration(SCENARIOS / "baseline_inputs.toml", tmp_path / "fit", seeds=(0,), workers=1)
    raw = cal.scenario.as_dict()
    for p, x in zip(cal.params, cal.start(), strict=True):
        assert p.value(x) == pytest.approx(min(max(get_path(raw, p.path), p.low), p.high))


def test_two_calibrations_cannot_write_one_folder(tmp_path: Path) -> None:
    """The evaluation log has one writer: a second calibration into the same folder stops at once."""
    import subprocess
    import sys

    from conftest import SCENARIOS

    from exodus.experiments.core.outdir import exclusive

    out = tmp_path / "fit"
    with exclusive(tmp_path / ".fit.lock", "held by the test"):
        done = subprocess.run(
            [sys.executable, "-m", "exodus", "calibrate", str(SCENARIOS / "baseline_inputs.toml"), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert "another calibration is writing to it" in done.stderr
    assert not out.exists()

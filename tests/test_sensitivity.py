"""`exodus sensitivity`: design files, Sobol and Morris indices, the files written.

One tiny design (experiments/data/sensitivity/tiny.toml: two parameters, 44 short runs at scale
0.002) is run once for the module. Its two parameters are the level of the partial
mobilisation and the level of the penalty tax, an event the baseline has disabled: with
common random numbers the second cannot change any output, so its indices are exactly zero.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from exodus.experiments.analyses.sensitivity import SensitivityError, load_design, run_sensitivity
from exodus.experiments.cli.main import main

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "experiments" / "data" / "sensitivity" / "tiny.toml"
EXAMPLE = REPO / "experiments" / "data" / "sensitivity" / "example.toml"
WEEK = "departures:all:2022-09-21:2022-09-28"
MOB, PEN = "policy.partial_mobilisation.level", "policy.penalty_tax.level"


@pytest.fixture(scope="module")
def result_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sensitivity(TINY, tmp_path_factory.mktemp("sens") / "tiny", workers=2, progress=False)


@pytest.fixture(scope="module")
def indices(result_dir: Path) -> dict[tuple[str, str, str, str], tuple[float, float]]:
    with (result_dir / "indices.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["method", "output", "parameter", "index", "value", "conf"]

    def number(text: str) -> float:
        return float(text) if text else float("nan")

    return {
        (r["method"], r["output"], r["parameter"], r["index"]): (number(r["value"]), number(r["conf"])) for r in rows
    }


def test_files_and_provenance(result_dir: Path) -> None:
    for name in ("indices.csv", "design.csv", "sensitivity.png", "sensitivity.svg", "sensitivity.json"):
        assert (result_dir / name).stat().st_size > 0, name
    assert (result_dir / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((result_dir / "sensitivity.json").read_text())
    assert record["kind"] == "sensitivity"
    assert record["git"]["commit"] and record["versions"]["SALib"] and record["versions"]["mesa"]
    assert record["seeds"].startswith("common")
    assert record["design_points"] == {"sobol": 8 * (2 + 2), "morris": 4 * (2 + 1)}
    assert not [p.name for p in result_dir.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_indices_have_the_right_structure(indices: dict) -> None:
    design = load_design(TINY)
    expected = {
        (method, output, p.path, index)
        for output in design.outputs
        for p in design.parameters
        for method, names in (("sobol", ("S1", "ST")), ("morris", ("mu_star", "mu", "sigma")))
        for index in names
    }
    assert set(indices) == expected
    for (method, _, _, index), (value, conf) in indices.items():
        assert np.isfinite(value)
        if index in ("S1", "ST", "mu_star"):
            assert np.isfinite(conf) and conf >= 0
        if index in ("ST", "mu_star", "sigma"):
            assert value >= -1e-9, (method, index, value)


def test_design_csv_has_every_run(result_dir: Path) -> None:
    with (result_dir / "design.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    design = load_design(TINY)
    assert list(rows[0]) == ["method", "point", "seed", MOB, PEN, *design.outputs]
    assert len(rows) == 8 * 4 + 4 * 3  # one seed per point
    for row in rows:
        assert 0.3 <= float(row[MOB]) <= 2.0 and 0.0 <= float(row[PEN]) <= 0.5
        assert row["seed"] == "0"
    # the week's departures grow with the mobilisation level (same seed everywhere)
    sobol = sorted((float(r[MOB]), float(r[WEEK])) for r in rows if r["method"] == "sobol")
    low, high = np.mean([y for _, y in sobol[:8]]), np.mean([y for _, y in sobol[-8:]])
    assert high > 2 * low


def test_sobol_a_parameter_that_cannot_act_has_zero_index(indices: dict) -> None:
    for output in load_design(TINY).outputs:
        mob_st = indices["sobol", output, MOB, "ST"][0]
        assert mob_st > 0.5, output
        for index in ("S1", "ST"):
            assert abs(indices["sobol", output, PEN, index][0]) <= 0.01 * mob_st, (output, index)


def test_morris_a_parameter_that_cannot_act_has_zero_effect(indices: dict) -> None:
    for output in load_design(TINY).outputs:
        assert indices["morris", output, MOB, "mu_star"][0] > 0
        assert indices["morris", output, PEN, "mu_star"][0] == 0.0
        assert indices["morris", output, PEN, "sigma"][0] == 0.0


def test_example_design_is_valid() -> None:
    design = load_design(EXAMPLE)
    assert len(design.parameters) >= 4 and set(design.settings.methods) == {"sobol", "morris"}
    assert design.days <= 730


def test_seed_modes() -> None:
    design = load_design(TINY)
    assert design.seeds(0) == design.seeds(5) == [0]
    noisy = dataclasses.replace(design, spec=_with(design.spec, seed_mode="noise", seeds=2))
    assert noisy.seeds(0) == [0, 1] and noisy.seeds(3) == [6, 7]


def _with(spec, **settings):  # type: ignore[no-untyped-def]
    return spec.model_copy(update={"sensitivity": spec.sensitivity.model_copy(update=settings)})


def test_log_and_integer_parameters() -> None:
    from exodus.experiments.analyses.parameters import Bounded

    log = Bounded(path="a.b", low=1e-4, high=1e-2, log=True, label="a")
    assert log.bounds == [-4.0, -2.0] and log.value(-3.0) == pytest.approx(1e-3)
    whole = Bounded(path="a.c", low=30, high=365, integer=True, label="c")
    assert whole.value(44.6) == 45 and isinstance(whole.value(44.6), int)


BAD = {
    "unknown path": ('[parameters."behaviour.hazard.nonsense"]\nlow = 0.0\nhigh = 1.0\n', "parameters.behaviour"),
    "bounds": ('[parameters."behaviour.hazard.alarm"]\nlow = 2.0\nhigh = 1.0\n', "must be above low"),
    "not numeric": ('[parameters."policy.invasion.kind"]\nlow = 0.0\nhigh = 1.0\n', "expected a numeric field"),
    "invalid value": ('[parameters."behaviour.hazard.alarm"]\nlow = -1.0\nhigh = 1.0\n', "not a valid value"),
}


def _spec(tmp_path: Path, body: str, outputs: str = '["cumulative_departures:all:2022-12-31"]', n: int = 8) -> Path:
    path = tmp_path / "design.toml"
    scenario = (REPO / "scenarios" / "baseline.toml").as_posix()
    path.write_text(f'[sensitivity]\nscenario = "{scenario}"\noutputs = {outputs}\n\n[sobol]\nn = {n}\n\n{body}')
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_parameters_name_file_and_field(tmp_path: Path, case: str) -> None:
    body, expected = BAD[case]
    path = _spec(tmp_path, body)
    with pytest.raises(SensitivityError) as err:
        load_design(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_bad_settings_name_file_and_field(tmp_path: Path) -> None:
    ok = '[parameters."behaviour.hazard.alarm"]\nlow = 1.0\nhigh = 2.0\n'
    with pytest.raises(SensitivityError, match=r"field sobol\.n: .*power of 2"):
        load_design(_spec(tmp_path, ok, n=12))
    with pytest.raises(SensitivityError, match=r"field sensitivity\.outputs: .*unknown kind"):
        load_design(_spec(tmp_path, ok, outputs='["nonsense:all"]'))
    with pytest.raises(SensitivityError, match=r"field sensitivity\.outputs: .*horizon"):
        load_design(_spec(tmp_path, ok, outputs='["cumulative_departures:all:2030-01-01"]'))
    with pytest.raises(SensitivityError, match=r"field sensitivity\.outputs: location 'XX'"):
        load_design(_spec(tmp_path, ok, outputs='["stock:XX:all:2022-06-30"]'))
    with pytest.raises(SensitivityError, match=r"field parameters: "):
        load_design(_spec(tmp_path, ""))


def test_cli_reports_a_bad_design_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _spec(tmp_path, BAD["bounds"][0])
    assert main(["sensitivity", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("exodus sensitivity: error:") and "parameters.behaviour.hazard.alarm" in err
    assert not (tmp_path / "out").exists()

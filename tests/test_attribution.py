"""`exodus attribute`: Shapley values, the driver definitions, and the attribution of the baseline.

The attribution of the baseline with all six drivers runs once for the module: 64 combinations,
of which 32 are distinct scenarios (the penalty tax is already off in the baseline), over two
seeds, to 29 September 2022 at scale 0.002.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from exodus.experiments.analyses.attribution import (
    OTHER,
    TOTAL,
    Attribution,
    AttributionError,
    attribute,
    load_drivers,
    shapley,
    switched_off,
    write_attribution,
)
from exodus.experiments.cli.main import main
from exodus.experiments.core.runner import Job, run
from exodus.model import load_scenario

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
SCALE = 0.002
UNTIL = "2022-09-29"
DEPARTURES = "cumulative_departures:all"


# Shapley values on games with known answers ------------------------------------------------------
def _game(k: int, value) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([value({i for i in range(k) if on >> i & 1}) for on in range(1 << k)], dtype=float)


def test_shapley_of_an_additive_game_is_each_players_effect() -> None:
    effects = [3.0, -2.0, 0.0, 7.5]
    phi = shapley(_game(4, lambda s: 10 + sum(effects[i] for i in s)))
    assert np.allclose(phi, effects)


def test_shapley_splits_an_interaction_equally_and_ignores_a_null_player() -> None:
    phi = shapley(_game(3, lambda s: 6.0 if {0, 1} <= s else 0.0))
    assert np.allclose(phi, [3.0, 3.0, 0.0])
    assert phi[2] == 0.0


def test_shapley_agrees_with_the_permutation_definition_and_is_efficient() -> None:
    rng = np.random.default_rng(1)
    k = 4
    values = rng.normal(size=(1 << k, 3, 5))
    phi = shapley(values)
    expected = np.zeros_like(phi)
    for order in itertools.permutations(range(k)):
        on = 0
        for i in order:
            expected[i] += values[on | 1 << i] - values[on]
            on |= 1 << i
    assert np.allclose(phi, expected / math.factorial(k))
    assert np.allclose(phi.sum(axis=0) + values[0], values[-1], rtol=0, atol=1e-12)


# driver definitions ----------------------------------------------------------------------------
def test_drivers_file_has_the_six_drivers() -> None:
    names = [d.name for d in load_drivers()]
    assert names == [
        "mobilisation",
        "sanctions",
        "ru_it_incentives",
        "destination_incentives",
        "entry_rules",
        "penalty_tax",
    ]


@pytest.mark.parametrize("driver", [d for d in load_drivers() if d.counterfactual], ids=lambda d: d.name)
def test_driver_switches_off_what_its_counterfactual_scenario_does(driver) -> None:  # type: ignore[no-untyped-def]
    switched = load_scenario(BASELINE, driver.off).as_dict()
    counterfactual = load_scenario(SCENARIOS / driver.counterfactual).as_dict()
    switched.pop("scenario"), counterfactual.pop("scenario")  # name and description differ
    assert switched == counterfactual


def test_every_driver_changes_the_penalty_tax_scenario() -> None:
    base = load_scenario(SCENARIOS / "penalty_tax.toml").digest()
    for driver in load_drivers():
        assert load_scenario(SCENARIOS / "penalty_tax.toml", driver.off).digest() != base, driver.name


def test_driver_choice_errors() -> None:
    with pytest.raises(AttributionError, match="no driver"):
        load_drivers(names=["mobilisation", "weather"])
    clash = load_drivers(names=["mobilisation"])[0]
    other = clash.__class__("again", "again", "", {"policy.partial_mobilisation.enabled": True})
    with pytest.raises(AttributionError, match="different values"):
        switched_off([clash, other], 0)


# the baseline, all drivers ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def baseline() -> Attribution:
    return attribute(BASELINE, seeds=[0, 1], scale=SCALE, until=UNTIL, workers=2)


def test_runs_each_distinct_scenario_once(baseline: Attribution) -> None:
    assert baseline.values.shape[:2] == (64, 2)
    assert len(set(baseline.digests)) == 32
    assert baseline.unique_runs() == 64


def test_efficiency_holds_exactly_per_seed(baseline: Attribution) -> None:
    phi = baseline.phi
    assert np.allclose(phi.sum(axis=0) + baseline.other, baseline.total, rtol=1e-12, atol=1e-6)
    assert baseline.total[..., baseline.measure(DEPARTURES)].max() > 0


def test_a_driver_already_off_contributes_exactly_nothing(baseline: Attribution) -> None:
    assert np.all(baseline.phi[[d.name for d in baseline.drivers].index("penalty_tax")] == 0.0)


def test_mobilisation_is_the_largest_driver_of_the_mobilisation_week(baseline: Attribution) -> None:
    m = baseline.measure(DEPARTURES)
    first, last = baseline.day("2022-09-20"), baseline.day("2022-09-28")
    week = {name: part[:, last, m] - part[:, first, m] for name, part in baseline.parts().items()}
    drivers = [d.name for d in baseline.drivers]
    assert np.all(week["mobilisation"] > 0)
    for seed in range(len(baseline.seeds)):
        contributions = {name: week[name][seed] for name in drivers}
        assert max(contributions, key=contributions.get) == "mobilisation", contributions
    # and before the announcement it did nothing
    assert np.all(baseline.parts()["mobilisation"][:, first, m] == 0.0)


def test_written_folder(baseline: Attribution, tmp_path: Path) -> None:
    out = write_attribution(baseline, tmp_path / "attribution", at="2022-09-28")
    for name in ("attribution.csv", "attribution.png", "attribution.svg", "attribution.json"):
        assert (out / name).stat().st_size > 0, name
    with (out / "attribution.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["date", "measure", "driver", "mean", "p05", "p95"]
    parts = [d.name for d in baseline.drivers] + [OTHER, TOTAL]
    assert len(rows) == baseline.days * len(baseline.measures) * len(parts)
    day = {(r["measure"], r["driver"]): r for r in rows if r["date"] == "2022-09-28"}
    for measure in baseline.measures:
        summed = sum(float(day[measure, name]["mean"]) for name in parts[:-1])
        assert summed == pytest.approx(float(day[measure, TOTAL]["mean"]), abs=0.1 * len(parts))
        for name in parts:
            row = day[measure, name]
            assert float(row["p05"]) <= float(row["mean"]) + 0.1 and float(row["mean"]) <= float(row["p95"]) + 0.1
    record = json.loads((out / "attribution.json").read_text())
    assert record["combinations"] == 64 and record["distinct_scenarios"] == 32 and record["seeds"] == [0, 1]
    assert record["drivers"][0]["switched_off_by"] == {
        "policy.partial_mobilisation.enabled": False,
        "policy.mobilisation_in_force.enabled": False,
    }
    assert record["git"]["commit"] and record["versions"]["mesa"]


# one driver: the attribution is the difference of two scenarios ------------------------------------
def test_mobilisation_alone_is_baseline_minus_no_mobilisation() -> None:
    result = attribute(BASELINE, load_drivers(names=["mobilisation"]), seeds=[3], scale=SCALE, until="2022-10-10")
    days = result.days
    runs = {
        name: run(Job(str(SCENARIOS / f"{name}.toml"), (), 3, SCALE, days)) for name in ("baseline", "no_mobilisation")
    }
    per_agent = runs["baseline"].workers.persons_per_agent
    for m, measure in enumerate(result.measures):
        if measure.startswith("cumulative_departures"):
            segs = [0, 1] if measure.endswith(":all") else [0]
            series = {
                n: np.cumsum((r.tally.departures[:, 0, segs] * per_agent[segs]).sum(axis=1)) for n, r in runs.items()
            }
        else:
            j = runs["baseline"].codes.index(measure.rsplit(":", 1)[1])
            series = {n: np.cumsum((r.tally.arrivals[:, j, :] * per_agent).sum(axis=1)) for n, r in runs.items()}
        assert np.array_equal(result.phi[0, 0, :, m], series["baseline"] - series["no_mobilisation"]), measure
        assert np.array_equal(result.other[0, :, m], series["no_mobilisation"]), measure
    assert result.phi[0, 0, -1, 0] > 0


# the command line -----------------------------------------------------------------------------------
def test_cli_writes_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "attr"
    args = ["attribute", str(BASELINE), "--out", str(out), "--seeds", "1", "--scale", str(SCALE)]
    args += ["--until", "2022-03-20", "--drivers", "sanctions,ru_it_incentives", "--workers", "1", "--quiet"]
    assert main(args) == 0
    record = json.loads((out / "attribution.json").read_text())
    assert [d["name"] for d in record["drivers"]] == ["sanctions", "ru_it_incentives"]
    assert record["bar_chart_date"] == "2022-03-20" and record["days"] == 25
    assert (out / "attribution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--drivers", "weather"], "no driver(s) weather"),
        (["--until", "2030-01-01"], "--until 2030-01-01"),
        (["--until", "2022-03-10", "--at", "2022-04-01"], "--at 2022-04-01"),
    ],
)
def test_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str) -> None:
    out = tmp_path / "attr"
    assert main(["attribute", str(BASELINE), "--out", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("exodus attribute: error:") and message in err, err
    assert not out.exists()

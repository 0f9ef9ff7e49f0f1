"""The model behaves as Mesa users expect: seeds, batch_run, DataCollector, SolaraViz.

`rng=None` is a fresh seed (recorded as `model.seed`), an int reproduces the
run; `mesa.batch_run` over iterations gives different runs and over a list of
seeds the same runs twice; the DataCollector's columns are in persons; and
Mesa's own SolaraViz parameter check accepts the constructor.
"""

from __future__ import annotations

import inspect

import mesa
import pytest
from conftest import SCENARIOS

from exodus.model import RelocationModel
from exodus.model.outputs import TAX_COLLECTED, TAX_TERMS
from exodus.model.population import JOB_STATUS

SMALL = {"scenario": str(SCENARIOS / "baseline.toml"), "scale": 0.005, "scenario.days": 40}


def test_rng_none_is_a_fresh_seed_recorded_on_the_model() -> None:
    a = RelocationModel(rng=None, scale=0.001, **{"scenario.days": 1})
    b = RelocationModel(rng=None, scale=0.001, **{"scenario.days": 1})
    assert a.seed != b.seed
    assert RelocationModel(rng=5, scale=0.001, **{"scenario.days": 1}).seed == 5


def test_batch_run_iterations_differ_and_the_same_rng_list_reproduces() -> None:
    fresh = mesa.batch_run(RelocationModel, SMALL, iterations=2, max_steps=40, display_progress=False)
    assert len(fresh) == 2
    assert fresh[0]["seed"] != fresh[1]["seed"]
    outcome = [{k: v for k, v in row.items() if k not in ("RunId", "iteration", "seed")} for row in fresh]
    assert outcome[0] != outcome[1]

    def with_seeds(seeds: list[int]) -> list[dict]:
        if "rng" in inspect.signature(mesa.batch_run).parameters:  # Mesa >= 3.5: batch_run's own argument
            return mesa.batch_run(RelocationModel, SMALL, rng=seeds, max_steps=40, display_progress=False)
        return mesa.batch_run(RelocationModel, {**SMALL, "rng": seeds}, max_steps=40, display_progress=False)

    seeded = [with_seeds([3, 4]) for _ in range(2)]
    assert seeded[0] == seeded[1]
    assert [row["seed"] for row in seeded[0]] == [3, 4]
    assert seeded[0][0]["left_russia_it"] != seeded[0][1]["left_russia_it"]


def test_datacollector_has_dates_destinations_jobs_and_tax_in_persons() -> None:
    model = RelocationModel(SMALL["scenario"], rng=2, scale=0.005, **{"scenario.days": 40}).run()
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 40
    assert frame["date"].iloc[0] == "2022-02-24"
    assert frame["date"].iloc[-1] == model.dates()[-1]
    stocks = frame[[f"stock_{code}" for code in model.codes]].sum(axis=1)
    assert (stocks == sum(model.population().values())).all()  # persons, every day
    abroad = frame[[f"stock_{code}" for code in model.codes[1:]]].sum(axis=1)
    assert (abroad == frame["abroad_it"] + frame["abroad_other"]).all()
    jobs = frame[[f"jobs_{status}" for status in JOB_STATUS[1:]]].sum(axis=1)
    assert (jobs == abroad).all()
    cumulative = frame["departures"].cumsum()
    assert (cumulative == frame["left_russia_it"] + frame["left_russia_other"]).all()
    assert frame["departures"].sum() > 0
    assert frame[[f"arrivals_{code}" for code in model.codes[1:]]].to_numpy().sum() == (
        frame["departures"].sum() + frame["onward"].sum()
    )
    taxes = frame[[f"tax_{term}_usd" for term in TAX_TERMS[TAX_COLLECTED]]].sum(axis=1)
    assert (taxes > frame["tax_abroad_usd"]).all() and (frame["tax_abroad_usd"] > 0).all()


def test_solaraviz_parameter_check_accepts_the_model() -> None:
    solara_viz = pytest.importorskip("mesa.visualization.solara_viz")
    check = solara_viz._check_model_params  # what SolaraViz's ModelCreator runs on the model class
    check(RelocationModel.__init__, {"scale": 0.05, "rng": 0, "behaviour__hazard__alarm": 1.0})

    class Overrides(mesa.Model):  # the constructor's old signature, which SolaraViz refused
        def __init__(self, scenario: str = "", **overrides: object) -> None:
            super().__init__()

    if "model_or_func" not in inspect.signature(check).parameters:  # Mesa < 3.5 accepts `**kwargs` only
        with pytest.raises(ValueError, match="Missing required model parameter: overrides"):
            check(Overrides.__init__, {"scale": 0.05})
    assert "kwargs" in inspect.signature(RelocationModel.__init__).parameters

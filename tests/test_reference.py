"""The vectorised decision rule against its slow one-object-per-worker reference.

Both engines see the same model state and, through the counter-based
streams, the same random numbers, so they must agree method by method
(to float32 rounding) and, over whole runs, exactly: the daily departures
of a run are the same array whichever engine decided. Exact agreement is
the strongest form of "same expected outflow": per segment the cumulative
departures from Russia differ by 0 in every seed, so their mean difference
is 0 with a standard error of 0.

The last tests pin the cases where the vectorised rules once deviated from
the description (nowhere to go, no pay on arrival, no paying job): both
engines now follow the description there too.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exodus.model import RelocationModel, load_scenario
from exodus.model.decision import Market, Rules, State
from exodus.model.locations import HOME
from exodus.model.population import IT, NEVER, NO_WORK, OTHER, REMOTE_RU
from exodus.model.reference import ReferenceRules
from exodus.model.streams import Stream

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SCALE = 0.002  # 2,000 IT agents, 2,000 others
RUN_SCALE = 0.001
RUN_DAYS = 250  # to 2022-11-01: the first wave, the mobilisation and its end
RTOL = 1e-5  # the vectorised hazards are float32

# (scenario, date the rules are compared on, overrides)
CASES = {
    "first_wave": ("baseline", "2022-03-01", {}),
    "mobilisation": ("baseline", "2022-09-22", {}),
    "transit": ("baseline", "2022-03-10", {"behaviour.hazard.transit": 2.0}),
    "penalty_tax": ("penalty_tax", "2022-09-22", {"policy.penalty_tax.date": "2022-06-01"}),
}


def build(scenario: str = "baseline", *, seed: int = 3, scale: float = SCALE, **overrides: Any) -> RelocationModel:
    return RelocationModel(SCENARIOS / f"{scenario}.toml", rng=seed, scale=scale, **overrides)


@cache
def stepped(case: str) -> RelocationModel:
    """The model of a case, run with the vectorised rules up to the morning of its date (do not mutate)."""
    scenario, date, overrides = CASES[case]
    day = load_scenario(SCENARIOS / f"{scenario}.toml").day_of(dt.date.fromisoformat(date))
    model = build(scenario, **{"scenario.days": day + 1}, **overrides)
    while model.day < day:
        model.step()
    return model


def market_of(model: RelocationModel) -> Market:
    """Today's market, as the next step would see it (recomputing it has no other effect)."""
    return model._market(model.day)


def everyone(model: RelocationModel) -> np.ndarray:
    return np.arange(len(model.workers))


def abroad(model: RelocationModel) -> np.ndarray:
    idx = np.flatnonzero(model.workers.location != HOME)
    assert len(idx) > 0, "the comparison needs workers abroad"
    return idx


def stopped_at_exit(model: RelocationModel) -> np.ndarray:
    """Every other man of military age turned back at the border: both branches of the exit check."""
    return model.workers.military_age & (everyone(model) % 2 == 0)


def engines(model: RelocationModel, reference: type[ReferenceRules] = ReferenceRules) -> tuple[Rules, ReferenceRules]:
    return Rules(State.of(model)), reference(State.of(model))


# method by method, on a model's state ------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_market_counters_match_the_workers(case: str) -> None:
    """The circle shares and stocks both engines read are what the workers' locations say."""
    model = stepped(case)
    w, market = model.workers, market_of(model)
    n_loc = len(model.locations)
    at = np.zeros((len(model.circle_size), n_loc))
    np.add.at(at, (w.circle, w.location.astype(int)), 1)
    np.testing.assert_allclose(market.circle_share, at / at.sum(axis=1, keepdims=True))
    stock = np.zeros_like(model.stock)
    np.add.at(stock, (w.location.astype(int), w.segment), 1)
    np.testing.assert_array_equal(model.stock, stock)


@pytest.mark.parametrize("case", CASES)
def test_hazards_agree(case: str) -> None:
    model = stepped(case)
    market, (fast, slow) = market_of(model), engines(model)
    home = fast.home_hazard(market)
    assert (home > 0).sum() > len(home) // 2
    np.testing.assert_allclose(home, slow.home_hazard(market), rtol=RTOL, atol=0)
    out = abroad(model)
    np.testing.assert_allclose(fast.abroad_hazard(out, market), slow.abroad_hazard(out, market), rtol=RTOL, atol=0)
    np.testing.assert_allclose(fast.savings_now(out, market), slow.savings_now(out, market), rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_reach_agrees(case: str) -> None:
    model = stepped(case)
    market, (fast, slow), idx = market_of(model), engines(model), everyone(model)
    stopped = stopped_at_exit(model)
    ok = fast.feasible(idx, market, stopped)
    np.testing.assert_array_equal(ok, slow.feasible(idx, market, stopped))
    assert not ok[stopped & (model.workers.location == HOME)][:, HOME + 1 :].any()


@pytest.mark.parametrize("case", CASES)
def test_jobs_and_incomes_agree(case: str) -> None:
    model = stepped(case)
    market, (fast, slow), idx = market_of(model), engines(model), everyone(model)
    dest = np.broadcast_to(np.arange(len(model.locations))[None, :], (len(idx), len(model.locations)))
    (fast_job, fast_pay), (slow_job, slow_pay) = (
        fast.job_options(idx, dest, market),
        slow.job_options(idx, dest, market),
    )
    np.testing.assert_array_equal(fast_job, slow_job)
    np.testing.assert_allclose(fast_pay, slow_pay, rtol=1e-12)
    np.testing.assert_allclose(fast.home_income(idx, market), slow.home_income(idx, market), rtol=1e-12)
    out = abroad(model)
    w = model.workers
    here, job = w.location[out], w.job[out]
    np.testing.assert_allclose(fast.job_income(out, here, job, market), slow.job_income(out, here, job, market))
    for where in range(1, len(model.locations)):  # the job taken on arrival, with and without a local offer
        dest_one = np.full(len(idx), where)
        found = (idx % 2).astype(bool)
        taken = fast.take_job(idx, dest_one, found, market), slow.take_job(idx, dest_one, found, market)
        np.testing.assert_array_equal(*taken)


@pytest.mark.parametrize("case", CASES)
def test_utilities_agree(case: str) -> None:
    model = stepped(case)
    market, (fast, slow), idx = market_of(model), engines(model), everyone(model)
    fast_v, slow_v = fast.utilities(idx, market), slow.utilities(idx, market)
    reachable = fast.feasible(idx, market, np.zeros(len(idx), dtype=bool))
    assert np.isfinite(fast_v[reachable]).all()
    np.testing.assert_allclose(fast_v[reachable], slow_v[reachable], rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(fast_v, slow_v, rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_choices_agree(case: str) -> None:
    model = stepped(case)
    market, (fast, slow), idx = market_of(model), engines(model), everyone(model)
    noise = Stream(model.seed, "choice").gumbel(idx, model.day, len(model.locations))
    stopped = stopped_at_exit(model)
    chosen = fast.choose(idx, market, stopped, noise)
    np.testing.assert_array_equal(chosen, slow.choose(idx, market, stopped, noise))
    assert (chosen != model.workers.location).sum() > 0


# whole runs ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scenario", "seed", "overrides"),
    [
        ("baseline", 1, {}),
        ("baseline", 2, {}),
        ("baseline", 3, {}),
        ("baseline", 5, {"behaviour.hazard.transit": 2.0, "locations.TR.permit_days": 365}),
        ("penalty_tax", 4, {"policy.penalty_tax.date": "2022-06-01"}),
    ],
)
def test_whole_runs_are_identical(scenario: str, seed: int, overrides: dict[str, Any]) -> None:
    """Same seed, either engine: the same departures, stocks and jobs on every day."""
    runs = [
        build(scenario, seed=seed, scale=RUN_SCALE, rules=rules, **{"scenario.days": RUN_DAYS}, **overrides).run()
        for rules in (Rules, ReferenceRules)
    ]
    fast, slow = (run.tally for run in runs)
    assert fast.departures[:, HOME, IT].sum() > 50 and fast.departures[:, HOME, OTHER].sum() > 0
    np.testing.assert_array_equal(fast.departures, slow.departures)
    np.testing.assert_array_equal(fast.stock, slow.stock)
    np.testing.assert_array_equal(fast.jobs, slow.jobs)
    np.testing.assert_array_equal(runs[0].left, runs[1].left)


# where the vectorised rules once deviated from the description -------------------
def put_abroad(model: RelocationModel, i: int, code: str, *, job: int, income: float, deadline: int = NEVER) -> None:
    w = model.workers
    w.location[i], w.job[i], w.income[i], w.deadline[i] = model.codes.index(code), job, income, deadline
    w.since[i], w.savings[i] = model.day, 2000.0


def test_nowhere_to_go_means_staying() -> None:
    """Montenegro past a 30-day stay, its routes through Belgrade shut: no flight home (airspace closed) and no
    route on; they overstay."""
    no_hub = {f"routes.{r}.enabled": False for r in ("ME-RU-air-via-RS", "ME-RS-air")}
    model = build(scale=0.0005, **{"scenario.days": 10}, **no_hub)
    for _ in range(5):
        model.step()
    market = market_of(model)
    me = model.codes.index("ME")
    assert market.route[me, HOME] < 0
    i = int(np.flatnonzero(model.workers.segment == IT)[0])
    put_abroad(model, i, "ME", job=NO_WORK, income=0.0, deadline=model.day - 1)
    idx, noise = np.array([i]), np.zeros((1, len(model.locations)))
    fast, slow = engines(model)
    assert slow.choose(idx, market, np.zeros(1, dtype=bool), noise)[0] == me
    np.testing.assert_array_equal(fast.choose(idx, market, np.zeros(1, dtype=bool), noise), [me])


def test_no_pay_on_arrival_is_no_pay_lost() -> None:
    model = build(scale=0.0005, **{"scenario.days": 10})
    market = market_of(model)
    i = int(np.flatnonzero(model.workers.segment == OTHER)[0])
    put_abroad(model, i, "GE", job=NO_WORK, income=0.0)
    fast, slow = engines(model)
    idx = np.array([i])
    np.testing.assert_allclose(fast.abroad_hazard(idx, market), slow.abroad_hazard(idx, market), rtol=RTOL)


def test_no_paying_job_is_no_work() -> None:
    """Latent: no place in the baseline has job_finding 0, so no run above reaches this."""
    model = build(scale=0.0005, **{"scenario.days": 10, "locations.KG.job_finding": 0.0})
    market, (fast, slow) = market_of(model), engines(model)
    idx = np.flatnonzero(~model.workers.remote)[:5]
    dest = np.full((len(idx), 1), model.codes.index("KG"))
    assert (slow.job_options(idx, dest, market)[0] == NO_WORK).all()
    jobs = fast.job_options(idx, dest, market)[0]
    assert not (jobs == REMOTE_RU).any()
    np.testing.assert_array_equal(jobs, NO_WORK)

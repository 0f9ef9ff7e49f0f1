"""What holds in every run: conservation of workers, no negative counts, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS, Run, simulate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exodus.model import RelocationModel
from exodus.model.locations import HOME
from exodus.model.population import AT_HOME, SEGMENTS

TALLIES = ("stock", "arrivals", "departures", "onward", "queue", "jobs", "firm_relocations", "tax", "fare")


def check_invariants(model: RelocationModel) -> None:
    """Every accounting identity of the tallies, and the state they end in."""
    t, w = model.tally, model.workers
    agents = np.bincount(w.segment, minlength=len(SEGMENTS))
    # workers are neither created nor lost: stocks over locations are the segment's agents every day
    assert (t.stock.sum(axis=1) == agents).all()
    for name in TALLIES:
        assert (getattr(t, name) >= 0).all(), f"negative {name}"
    assert (t.fare >= 1.0).all() and (t.fare <= model.behaviour.airfares.max_multiplier).all()
    # stocks change by arrivals less departures; every departure arrives somewhere
    start = np.zeros_like(t.stock[0])
    start[HOME] = agents
    previous = np.concatenate([start[None], t.stock[:-1]])
    assert (t.stock - previous == t.arrivals - t.departures).all()
    assert (t.arrivals.sum(axis=1) == t.departures.sum(axis=1)).all()
    assert (t.onward <= t.departures).all() and (t.onward[:, HOME] == 0).all()
    # job status: everybody has one; at home means in Russia
    assert (t.jobs.sum(axis=2) == agents).all()
    assert (t.jobs[:, :, AT_HOME] == t.stock[:, HOME, :]).all()
    # the last day's tallies describe the final state
    where = np.zeros_like(t.stock[-1])
    np.add.at(where, (w.location.astype(int), w.segment), 1)
    assert (where == t.stock[-1]).all()
    queued = w.queued >= 0
    assert (w.location[queued] == HOME).all()
    weights = w.persons_per_agent[w.segment[queued]]
    assert (np.bincount(w.queued[queued], weights=weights, minlength=len(model.routes)) == t.queue[-1]).all()
    assert t.firm_relocations.sum() == (model.firms.location != HOME).sum()


@pytest.fixture(scope="module", params=[None, 0.003], ids=["scale-0.02", "scale-0.003"])
def run(request: pytest.FixtureRequest) -> Run:
    return simulate() if request.param is None else simulate(scale=request.param)


def test_tallies_add_up(run: Run) -> None:
    check_invariants(run.model)


def test_persons_add_up_to_the_population(run: Run) -> None:
    persons = run.tally.stock[-1].sum(axis=0) * run.workers.persons_per_agent
    for s, seg in enumerate(SEGMENTS):
        spec = run.model.scenario.population[seg]
        assert abs(persons[s] - spec.persons) <= run.workers.persons_per_agent[s]
    assert dict(zip(SEGMENTS, persons.tolist(), strict=True)) == run.model.population()


def test_queue_drains_when_an_agent_outweighs_the_capacity() -> None:
    """An agent standing for more persons than a border's daily capacity must not block its queue for good."""
    run = simulate(scale=0.003)
    routes = run.model.routes
    assert run.workers.persons_per_agent[1] > routes.capacity.max()
    border = routes.capacity > 0  # a route with a consular check (Israel) has no capacity: its wait is its own
    queued = run.workers.queued
    assert (queued < 0).sum() + np.isin(queued, np.flatnonzero(~border)).sum() == len(queued)
    assert (run.tally.queue[-1, border] == 0).all()


def tallies(model: RelocationModel) -> dict[str, np.ndarray]:
    return {name: getattr(model.tally, name) for name in TALLIES}


def small_run(seed: int) -> RelocationModel:
    return RelocationModel(SCENARIOS / "baseline.toml", rng=seed, scale=0.003, **{"scenario.days": 225}).run()


def test_same_seed_same_run_other_seed_other_run() -> None:
    first, again, other = small_run(3), small_run(3), small_run(4)
    a, b, c = tallies(first), tallies(again), tallies(other)
    for name in TALLIES:
        assert np.array_equal(a[name], b[name]), name
    assert np.array_equal(first.workers.location, again.workers.location)
    assert not np.array_equal(a["departures"], c["departures"])


# Mobilisation moved to March so that a short run has queues, fares and the whole decision rule at work.
EARLY_MOBILISATION = {
    "policy.partial_mobilisation.date": "2022-03-20",
    "policy.partial_mobilisation.until": "2022-04-20",
    "policy.it_mobilisation_exemption.date": "2022-03-22",
    "scenario.days": 60,
}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    alarm=st.floats(0.0, 5.0),
    mobilisation=st.floats(0.0, 8.0),
    contacts=st.floats(0.0, 6.0),
    income=st.floats(0.0, 3.0),
    travel_cost=st.floats(0.0, 5.0),
    elasticity=st.floats(0.0, 3.0),
    follow=st.floats(0.0, 1.0),
    capacity=st.floats(50.0, 30_000.0),
)
def test_invariants_hold_for_any_valid_weights(
    seed: int,
    alarm: float,
    mobilisation: float,
    contacts: float,
    income: float,
    travel_cost: float,
    elasticity: float,
    follow: float,
    capacity: float,
) -> None:
    overrides = {
        "behaviour.hazard.alarm": alarm,
        "behaviour.hazard.mobilisation": mobilisation,
        "behaviour.hazard.contacts": contacts,
        "behaviour.utility.income": income,
        "behaviour.utility.travel_cost": travel_cost,
        "behaviour.airfares.elasticity": elasticity,
        "firms.follow_probability": follow,
        "routes.RU-GE-land.capacity_per_day": capacity,
        "routes.RU-KZ-land.capacity_per_day": capacity,
    }
    model = RelocationModel(SCENARIOS / "baseline.toml", rng=seed, scale=0.002, **EARLY_MOBILISATION, **overrides)
    check_invariants(model.run())

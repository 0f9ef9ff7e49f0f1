"""The fused loops of `model/kernels.py` against the numpy expressions they replaced, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exodus.model import RelocationModel, kernels
from exodus.model.decision import Rules
from exodus.model.locations import HOME
from exodus.model.population import FOREIGN, JOB_STATUS, NO_WORK, REMOTE_RU

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

N, N_LOC, N_CIRCLES = 5_000, 14, 300


def test_home_clocks_are_the_numpy_sum_and_comparison() -> None:
    rng = np.random.default_rng(0)
    location = np.where(rng.random(N) < 0.7, HOME, rng.integers(1, N_LOC, N)).astype(np.int8)
    queued = np.where(rng.random(N) < 0.05, rng.integers(0, 9, N), -1).astype(np.int16)
    propensity = rng.lognormal(-6, 2, N).astype(np.float32)
    circle = np.sort(rng.integers(0, N_CIRCLES, N)).astype(np.int32)
    circle_term = np.exp(rng.normal(0, 1, N_CIRCLES)).astype(np.float32)
    risk_class = rng.integers(0, 6, N).astype(np.int8)
    class_term = np.exp(rng.normal(0, 2, 6)).astype(np.float32)
    clock = rng.exponential(1.0, N).astype(np.float32)
    threshold = rng.exponential(1.0, N).astype(np.float32)
    threshold[:50] = clock[:50]  # ties: a clock equal to its threshold has passed it

    propensity_home = np.where((location == HOME) & (queued < 0), propensity, np.float32(0.0))
    expected_clock = clock + propensity_home * circle_term[circle] * class_term[risk_class]
    expected = np.flatnonzero(expected_clock >= threshold)
    passed = kernels.home_clocks(
        location, queued, propensity, circle, circle_term, risk_class, class_term, clock, threshold
    )
    assert clock.tobytes() == expected_clock.tobytes()
    assert np.array_equal(passed, expected)


def test_abroad_drive_is_the_numpy_expression() -> None:
    rng = np.random.default_rng(1)
    location = rng.integers(0, N_LOC, N).astype(np.int8)
    job = rng.integers(0, len(JOB_STATUS), N).astype(np.int8)
    wage = rng.lognormal(7, 1, N).astype(np.float32)
    segment = rng.integers(0, 2, N).astype(np.int8)
    income = np.where(rng.random(N) < 0.1, 0.0, rng.lognormal(7, 1, N)).astype(np.float32)
    income[:20] = 0.5  # under a dollar: the divisor is one
    savings = rng.normal(2_000, 3_000, N).astype(np.float32)
    since = rng.integers(0, 200, N).astype(np.int32)
    arrived = np.minimum(since, rng.integers(0, 200, N)).astype(np.int32)
    factor = np.array([1.0, 0.6])
    tax_it = rng.uniform(0, 0.3, N_LOC)
    wage_local = rng.lognormal(7.5, 0.5, N_LOC)
    stepping = rng.random(N_LOC) < 0.3
    col = rng.lognormal(7, 0.3, N_LOC)
    day, penalty, grey, tax, money, alarm, transit, transit_days = 210, 0.3, 0.2, 0.13, 1.7, 0.4, -0.8, 30.0
    idx = np.sort(rng.choice(N, N // 2, replace=False)).astype(np.int64)

    loc = location[idx]
    w64 = wage[idx].astype(np.float64)
    pay = np.zeros((len(JOB_STATUS), len(idx)))
    pay[1] = w64 * (1.0 - penalty)
    pay[5] = w64 * (1.0 - grey)
    pay[3] = w64 * (1.0 - tax_it[loc]) / (1.0 - tax)
    pay[2] = wage_local[loc] * factor[segment[idx]] * (1.0 - tax_it[loc])
    net = pay[job[idx], np.arange(len(idx))]
    strain = np.clip((col[loc] - net) / col[loc], 0.0, 1.0)
    came_with = income[idx]
    fallen = np.where(came_with > 0, np.clip(1.0 - net / np.maximum(came_with, 1.0), 0.0, 1.0), 0.0)
    broke = savings[idx] + (income[idx] - col[loc]) * (day - since[idx]) / 30.0 <= 0
    in_transit = stepping[loc] & (day - arrived[idx] < transit_days)
    expected = money * (strain + fallen + broke) + alarm + transit * in_transit

    drive = kernels.abroad_drive(
        idx,
        location,
        job,
        wage,
        segment,
        income,
        savings,
        since,
        arrived,
        factor,
        tax_it,
        wage_local,
        stepping,
        col,
        day,
        penalty,
        grey,
        tax,
        money,
        alarm,
        transit,
        transit_days,
    )
    assert drive.tobytes() == expected.tobytes()


def test_away_and_abroad_clocks_are_the_numpy_selection() -> None:
    rng = np.random.default_rng(2)
    location = np.where(rng.random(N) < 0.8, HOME, rng.integers(1, N_LOC, N)).astype(np.int8)
    abroad = kernels.away(location)
    assert np.array_equal(abroad, np.flatnonzero(location != HOME))
    hazard = rng.exponential(0.01, len(abroad)).astype(np.float32)
    clock = rng.exponential(1.0, N).astype(np.float32)
    threshold = rng.exponential(1.0, N).astype(np.float32)
    deadline = rng.integers(0, 400, N).astype(np.int32)
    day = 200
    expected_clock = clock.copy()
    expected_clock[abroad] += hazard
    expected = abroad[(expected_clock[abroad] >= threshold[abroad]) | (deadline[abroad] <= day)]
    assert np.array_equal(kernels.abroad_clocks(abroad, hazard, clock, threshold, deadline, day), expected)
    assert clock.tobytes() == expected_clock.tobytes()
    assert len(kernels.away(np.zeros(10, dtype=np.int8))) == 0


@pytest.mark.parametrize("scenario", ["baseline", "penalty_tax"])
def test_job_options_are_the_numpy_table(scenario: str) -> None:
    """The fused job_options against pay_by_job, best_paid and jobs_open, the numpy statement it replaced."""
    overrides = {"scenario.days": 130, "policy.penalty_tax.date": "2022-04-01"} if scenario == "penalty_tax" else {}
    model = RelocationModel(SCENARIOS / f"{scenario}.toml", rng=4, scale=0.002, **overrides)
    for _ in range(120):
        model.step()
    rules, market = model.rules, model._market(model.day)
    idx = np.arange(len(model.workers))
    dest = np.broadcast_to(np.arange(len(model.locations))[None, :], (len(idx), len(model.locations)))
    pay = rules.pay_by_job(idx, dest, market)
    pay[FOREIGN] *= model.locations.job_finding[dest]
    status, income = rules.best_paid(pay, rules.jobs_open(idx, dest, True, market))
    status = np.where(income > 0, status, NO_WORK)
    fast_status, fast_income = rules.job_options(idx, dest, market)
    assert fast_income.tobytes() == income.tobytes()
    assert np.array_equal(fast_status, status)


def test_union_is_numpys():
    rng = np.random.default_rng(7)
    for n, m in [(0, 0), (0, 5), (5, 0), (100, 40), (1000, 1000)]:
        a = np.unique(rng.integers(0, 2 * max(n, 1), n)).astype(np.int64)
        b = np.unique(rng.integers(0, 2 * max(m, 1), m)).astype(np.int64)
        for x, y in [(a, b), (b, a), (a, a)]:
            got, want = kernels.union(x, y), np.union1d(x, y)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    unsorted = np.array([5, 1, 3, 3], dtype=np.int64)
    assert kernels.union(unsorted, np.array([2], dtype=np.int64)).tolist() == [1, 2, 3, 5]


class EagerRules(Rules):
    """The home clocks stepped for every worker every day (`kernels.home_clocks`), as before they were lazy."""

    def home_clocks(self, market):  # type: ignore[no-untyped-def]
        w = self.workers
        circle_term, class_term = self.home_terms(market)
        args = (w.location, w.queued, self.propensity, w.circle, circle_term, self.risk_class, class_term)
        return kernels.home_clocks(*args, w.clock, w.threshold)


@pytest.mark.parametrize(
    ("scenario", "overrides"),
    [
        ("baseline", {}),
        ("border_closure", {}),
        ("penalty_tax", {"policy.penalty_tax.date": "2022-06-01"}),
    ],
)
def test_lazy_home_clocks_are_the_daily_ones(scenario: str, overrides: dict) -> None:
    """Every clock bit for bit the daily sums, on every tenth day (those at home brought up to date first), and the
    same runs: land-border queues, turned back, firms' offers and returns all tell the lazy clocks."""
    models = [
        RelocationModel(SCENARIOS / f"{scenario}.toml", rng=2, scale=0.01, rules=rules, **overrides)
        for rules in (Rules, EagerRules)
    ]
    lazy, eager = models
    for day in range(lazy.scenario.days):
        for model in models:
            model.step()
        if day % 10 == 9 or day == lazy.scenario.days - 1:
            lazy.rules.sync_clocks()
            assert lazy.workers.clock.tobytes() == eager.workers.clock.tobytes(), day
            assert lazy.workers.threshold.tobytes() == eager.workers.threshold.tobytes(), day
    np.testing.assert_array_equal(lazy.tally.departures, eager.tally.departures)
    assert lazy.tally.departures[:, HOME].sum() > 0 and lazy.tally.queue.sum() > 0


def test_stream_draws_are_the_streams() -> None:
    from exodus.model.streams import Stream

    agents = np.concatenate([np.arange(1000), np.array([2**31, 2**40 + 7, 2**62])]).astype(np.int64)
    for seed, name, counter in [(0, "visa", 0), (1, "visa", 729), (2**64 - 1, "job.search", 12345)]:
        stream = Stream(seed, name)
        got = kernels.uniforms(stream.key, agents, counter)
        assert got.tobytes() == stream.uniform(agents, counter).tobytes()


def test_visas_granted_are_the_numpy_selection() -> None:
    from exodus.model.streams import Stream

    rng = np.random.default_rng(3)
    abroad = np.sort(rng.choice(N, N // 3, replace=False)).astype(np.int64)
    passport, schengen = rng.random(N) < 0.7, rng.random(N) < 0.3
    segment = rng.integers(0, 2, N).astype(np.int8)
    rate = np.array([40.0, 25.0])  # high enough for many grants
    stream = Stream(5, "visa")
    for day in (0, 17, 400):
        seeking = abroad[passport[abroad] & ~schengen[abroad]]
        expected = seeking[stream.uniform(seeking, day) < rate[segment[seeking]] / 365.0]
        got = kernels.visas_granted(stream.key, abroad, passport, schengen, segment, rate, day)
        assert len(expected) > 10 and np.array_equal(got, expected)


def test_work_found_is_the_numpy_selection() -> None:
    from exodus.model.streams import Stream

    rng = np.random.default_rng(4)
    abroad = np.sort(rng.choice(N, N // 2, replace=False)).astype(np.int64)
    job = rng.integers(1, 6, N).astype(np.int8)
    location = rng.integers(1, N_LOC, N).astype(np.int8)
    job_finding = rng.random(N_LOC)
    stream = Stream(9, "job.search")
    for day, penalised, days in [(3, False, 10.0), (250, True, 3.0)]:
        looking = (job[abroad] == NO_WORK) | ((job[abroad] == REMOTE_RU) & penalised)
        idle = abroad[looking]
        expected = idle[stream.uniform(idle, day) < job_finding[location[idle]] / days]
        got = kernels.work_found(stream.key, abroad, job, location, job_finding, days, penalised, day)
        assert len(expected) > 10 and np.array_equal(got, expected)

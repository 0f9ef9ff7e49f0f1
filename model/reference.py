"""The decision rule again, slowly: one Python object per worker, one place at a time.

`ReferenceRules` answers the same questions as `model.decision.Rules` (same
methods, same arguments, same shapes), but worker by worker and place by
place, with scalar math written after the model description (the docstring
of `model/decision.py`), not after the vectorised code. Fed the same state
and the same random numbers, the two must agree; where they do not, one of
them has drifted from the description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from exodus.model.decision import DAYS_PER_MONTH, DIASPORA_UNIT, Market, Rules, State
from exodus.model.locations import ENTRY_KINDS, HOME
from exodus.model.population import FOREIGN, GREY, IT, NO_WORK, RELOCATED, REMOTE_RU


@dataclass(frozen=True)
class Place:
    """What a mover weighs about a location that does not change day to day."""

    index: int
    code: str
    entry: str  # one of ENTRY_KINDS
    refuses_russians: bool
    wage_local: float
    job_finding: float
    income_tax_it: float
    russian_language: float
    wary: bool
    it_incentive: float
    attraction: float
    stepping_stone: bool


@dataclass(frozen=True)
class Employer:
    """An IT worker's firm: where its office is, its sanctions exposure, its Russian IT accreditation."""

    location: int
    exposure: float
    accredited: bool


@dataclass
class Worker:
    """One worker as the rules see them today."""

    index: int
    it: bool
    local_wage_factor: float  # pay from a local employer, as a share of the local IT wage
    wage: float  # monthly net at home
    savings: float  # on arrival where they are (at home: what they have)
    income: float  # monthly, in the job they hold where they are
    location: int
    since: int  # day they arrived or last changed job
    arrived: int  # day they came to where they live
    job: int
    deadline: int  # last day +1 they may stay without residence
    queued: int  # route they wait at (a land border, a full flight, a check), -1 none
    remote: bool
    grey_ok: bool
    passport: bool
    schengen: bool
    reservist: bool
    deferrable: bool
    opposed: bool
    intention: bool
    permanent: bool
    risk_aversion: float
    family: int  # location of family ties, -1 none
    circle: int
    employer: Employer | None


@dataclass(frozen=True)
class Today:
    """Policy levers and market conditions of one day, as plain Python values.

    Every lever of the timeline is an attribute (`day.penalty_tax`, `day.entry_ban`): a number, or a list by
    location for the levers that act on places.
    """

    day: int
    levers: dict[str, Any]
    cost_of_living: list[float]
    russians: list[float]
    route: list[list[int]]
    trip_cost: list[list[float]]
    wait: list[list[float]]
    circle_share: list[list[float]]

    def __getattr__(self, name: str) -> Any:
        levers = self.__dict__.get("levers", {})
        if name not in levers:
            raise AttributeError(f"no lever {name!r} today")
        return levers[name]


# Worker fields read as they are from the model's arrays, in field order.
_COPIED = tuple(f.name for f in fields(Worker))[3:-1]


def clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


class ReferenceRules(Rules):
    """The decision rule, one worker and one place at a time (slow, for tests and benchmarks)."""

    def __init__(self, state: State) -> None:
        super().__init__(state)
        loc = state.locations
        self.places = [
            Place(
                index=j,
                code=loc.codes[j],
                entry=ENTRY_KINDS[int(loc.entry[j])],
                refuses_russians=bool(loc.closed[j]),
                wage_local=float(loc.wage_local[j]),
                job_finding=float(loc.job_finding[j]),
                income_tax_it=float(loc.income_tax_it[j]),
                russian_language=float(loc.russian_language[j]),
                wary=bool(loc.wary[j]),
                it_incentive=float(loc.it_incentive[j]),
                attraction=float(loc.attraction[j]),
                stepping_stone=bool(loc.stepping_stone[j]),
            )
            for j in range(len(loc))
        ]

    # reading the model's arrays ------------------------------------------------
    def workers_at(self, idx: np.ndarray) -> list[Worker]:
        """The workers `idx` as objects, read from the model's arrays as they are now."""
        w, firms = self.workers, self.firms
        idx = np.asarray(idx, dtype=np.int64)
        employers = [
            Employer(place, exposure, accredited)
            for place, exposure, accredited in zip(
                firms.location.tolist(), firms.exposure.tolist(), firms.accredited.tolist(), strict=True
            )
        ]
        factor = self.local_wage_factor.tolist()
        columns = [getattr(w, name)[idx].tolist() for name in ("segment", *_COPIED, "firm")]
        return [
            Worker(i, seg == IT, factor[seg], *copied, employer=employers[firm] if firm >= 0 else None)
            for i, (seg, *copied, firm) in zip(idx.tolist(), zip(*columns, strict=True), strict=True)
        ]

    def today(self, market: Market) -> Today:
        tl, t = self.timeline, market.day
        return Today(
            day=int(t),
            levers={name: lever[t].tolist() for name, lever in tl.levers.items()},
            cost_of_living=market.cost_of_living.tolist(),
            russians=np.asarray(market.russians, dtype=float).tolist(),
            route=market.route.tolist(),
            trip_cost=market.trip_cost.tolist(),
            wait=market.wait.tolist(),
            circle_share=market.circle_share.tolist(),
        )

    # 1. Hazard ---------------------------------------------------------------
    def call_up_risk(self, w: Worker, day: Today) -> float:
        """Reservists face the call-up; the IT deferment removes part of it for those eligible."""
        if not w.reservist:
            return 0.0
        return day.mobilisation * (1.0 - day.deferment if w.deferrable else 1.0)

    def hazard_at_home(self, w: Worker, day: Today) -> float:
        if w.location != HOME or w.queued >= 0:
            return 0.0  # abroad, or already waiting at a land border
        hz = self.behaviour.hazard
        base = hz.base_it if w.it else hz.base_other
        exposure = w.employer.exposure if w.employer is not None else 0.0
        circle_abroad = 1.0 - day.circle_share[w.circle][HOME]
        drive = (
            hz.alarm * day.alarm
            + hz.mobilisation * self.call_up_risk(w, day)
            + hz.repression * day.repression * w.opposed
            + hz.sanctions * exposure * day.sanctions
            + hz.contacts * circle_abroad
            + hz.intention * w.intention
            + hz.passport * w.passport
        )
        return base * math.exp(drive) * w.risk_aversion ** (-hz.risk_aversion)

    def hazard_abroad(self, w: Worker, day: Today) -> float:
        hz = self.behaviour.hazard
        net = self.pay(w, w.location, w.job, day)
        living = day.cost_of_living[w.location]
        strain = clamp01((living - net) / living)  # share of living costs the pay does not cover
        # the share of the pay they came with that is gone; none to lose if they came without
        fallen = clamp01(1.0 - net / w.income) if w.income > 0 else 0.0
        broke = 1.0 if self.savings_today(w, day) <= 0 else 0.0
        alarm = hz.alarm if hz.alarm_abroad is None else hz.alarm_abroad  # the news shakes those abroad too
        in_transit = self.places[w.location].stepping_stone and day.day - w.arrived < hz.transit_days
        drive = hz.money * (strain + fallen + broke) + alarm * day.alarm + (hz.transit if in_transit else 0.0)
        return hz.base_abroad * math.exp(drive)

    def savings_today(self, w: Worker, day: Today) -> float:
        """At home savings stay as they are; abroad they grow by pay less living costs since arrival."""
        if w.location == HOME:
            return w.savings
        return w.savings + (w.income - day.cost_of_living[w.location]) * (day.day - w.since) / DAYS_PER_MONTH

    # 2. Reach -----------------------------------------------------------------
    def may_enter(self, w: Worker, place: Place, day: Today) -> bool:
        if place.refuses_russians or day.entry_ban[place.index]:
            return False
        if place.entry == "internal_passport":
            return True
        if place.entry == "international_passport":
            return w.passport
        if place.entry == "visa":
            return w.schengen
        return False

    def can_be_there(self, w: Worker, place: Place, day: Today, stopped: bool) -> bool:
        """Can this worker be at `place` tomorrow?"""
        here, there = w.location, place.index
        if there == here:
            return here == HOME or w.deadline > day.day  # no stay past a visa-free limit
        if day.route[here][there] < 0:
            return False  # no route open today
        if there == HOME:
            return True  # citizens may always go home
        if here == HOME and stopped:
            return False  # turned back by the exit check
        return self.may_enter(w, place, day) and self.savings_today(w, day) >= day.trip_cost[here][there]

    def reachable(self, w: Worker, day: Today, stopped: bool) -> list[bool]:
        ok = [self.can_be_there(w, place, day, stopped) for place in self.places]
        if not any(ok):
            ok[w.location] = True  # nowhere to go: they overstay where they are
        return ok

    # 3. Utility ---------------------------------------------------------------
    def jobs_open(self, w: Worker, there: int, day: Today, found: bool) -> list[int]:
        """The jobs open to them at `there`, in order of preference on equal pay; a local one if `found`."""
        open_to = []
        if w.remote:
            open_to.append(REMOTE_RU)
        if found:
            open_to.append(FOREIGN)
        if w.employer is not None and w.employer.location == there and there != HOME:
            open_to.append(RELOCATED)
        open_to.append(NO_WORK)
        if w.remote and w.grey_ok and day.penalty_tax > 0:
            open_to.append(GREY)
        return open_to

    def best_job(self, w: Worker, there: int, day: Today) -> tuple[int, float]:
        """The best-paid job open to them at `there`, a local job at its expected pay (if they find one)."""
        finding = self.places[there].job_finding

        def expected(job: int) -> float:
            return self.pay(w, there, job, day) * (finding if job == FOREIGN else 1.0)

        options = [(job, expected(job)) for job in self.jobs_open(w, there, day, found=True)]
        status, income = max(options, key=lambda option: option[1])  # the first of equals
        if income <= 0:
            return NO_WORK, 0.0  # a job that pays nothing is no job
        return status, income

    def take_job(self, idx: np.ndarray, dest: np.ndarray, found: np.ndarray, market: Market) -> np.ndarray:
        day = self.today(market)
        workers = self.workers_at(idx)
        rows = zip(workers, dest.tolist(), found.tolist(), strict=True)
        return np.array([self.job_taken(w, there, f, day) for w, there, f in rows], dtype=np.int8)

    def job_taken(self, w: Worker, there: int, found: bool, day: Today) -> int:
        """The best-paid job open to them at `there`; a local one only if their search found one."""
        open_to = self.jobs_open(w, there, day, found)
        return max(open_to, key=lambda job: self.pay(w, there, job, day))  # the first of equals

    def pay(self, w: Worker, there: int, job: int, day: Today) -> float:
        """Monthly net pay abroad in a given job."""
        place, taxes = self.places[there], self.behaviour.taxes
        if job == REMOTE_RU:
            return w.wage * (1.0 - day.penalty_tax)
        if job == GREY:
            return w.wage * (1.0 - taxes.grey_discount)
        if job == RELOCATED:
            return w.wage * (1.0 - place.income_tax_it) / (1.0 - taxes.income_tax)
        if job == FOREIGN:
            return place.wage_local * w.local_wage_factor * (1.0 - place.income_tax_it)
        return 0.0

    def pay_at_home(self, w: Worker, day: Today) -> float:
        """The wage, less what sanctions on the employer cost."""
        exposure = w.employer.exposure if w.employer is not None else 0.0
        return w.wage * (1.0 - self.firms_spec.sanctions_income_loss * exposure * day.sanctions)

    def value(self, w: Worker, place: Place, day: Today) -> float:
        """Systematic utility of being at `place` tomorrow."""
        u = self.behaviour.utility
        there, here = place.index, w.location
        abroad = there != HOME
        income = self.best_job(w, there, day)[1] if abroad else self.pay_at_home(w, day)
        v = u.income * math.log(max(income, 50.0) / 1000.0)
        v -= u.cost_of_living * math.log(day.cost_of_living[there] / day.cost_of_living[HOME])
        v += u.language * place.russian_language
        if abroad:
            v += u.diaspora * math.log1p(day.russians[there] / DIASPORA_UNIT)
        if abroad:
            v += u.contacts * day.circle_share[w.circle][there]  # contacts already there
        if w.family == there:
            v += u.family
        if w.it:
            if abroad:
                v += u.incentives * (place.it_incentive + day.incentive[there])
            elif w.employer is not None and w.employer.accredited:
                v += u.incentives * day.it_tax_break
        if abroad and w.employer is not None and w.employer.location == there:
            v += u.relocated_firm
        if abroad:
            v += place.attraction
        if abroad and there == here:  # attachment to where they live grows with the days there
            v += u.settled * clamp01((day.day - w.arrived) / u.settle_days)
        if place.wary:
            v -= u.wary
        if place.entry == "visa":
            v -= u.visa_friction
        if there != here:
            savings = max(self.savings_today(w, day), 0.0)
            v -= u.switching + u.border_wait * day.wait[here][there]
            trip = day.trip_cost[here][there]
            if math.isfinite(trip):  # with no open route the place is out of reach anyway
                v -= u.travel_cost * trip / (savings + 100.0)
        if not abroad:
            v -= u.mobilisation * self.call_up_risk(w, day) * w.risk_aversion
            v -= u.repression * w.opposed * day.repression
            v += u.home
            if w.permanent:
                v -= u.permanent
        return v

    # 4. Choice ----------------------------------------------------------------
    def best_place(self, w: Worker, day: Today, stopped: bool, noise: list[float]) -> int:
        ok = self.reachable(w, day, stopped)
        scale = self.behaviour.utility.scale
        best, best_value, found = w.location, -math.inf, False  # `reachable` leaves one place at least
        for place in self.places:
            if not ok[place.index]:
                continue
            value = self.value(w, place, day) + scale * noise[place.index]
            if not found or value > best_value:
                best, best_value, found = place.index, value, True
        return best

    # the Rules interface ------------------------------------------------------
    def home_hazard(self, market: Market) -> np.ndarray:
        day = self.today(market)
        everyone = self.workers_at(np.arange(len(self.workers)))
        return np.array([self.hazard_at_home(w, day) for w in everyone], dtype=np.float32)

    def home_clocks(self, market: Market) -> np.ndarray:
        w = self.workers
        w.clock += self.home_hazard(market)
        return np.flatnonzero(w.clock >= w.threshold)

    def abroad_hazard(self, idx: np.ndarray, market: Market) -> np.ndarray:
        day = self.today(market)
        return np.array([self.hazard_abroad(w, day) for w in self.workers_at(idx)], dtype=np.float32)

    def savings_now(self, idx: np.ndarray, market: Market) -> np.ndarray:
        day = self.today(market)
        return np.array([self.savings_today(w, day) for w in self.workers_at(idx)], dtype=np.float64)

    def feasible(self, idx: np.ndarray, market: Market, exit_stopped: np.ndarray) -> np.ndarray:
        day = self.today(market)
        rows = [self.reachable(w, day, s) for w, s in zip(self.workers_at(idx), exit_stopped.tolist(), strict=True)]
        return np.array(rows, dtype=bool).reshape(len(idx), len(self.places))

    def job_options(self, idx: np.ndarray, dest: np.ndarray, market: Market) -> tuple[np.ndarray, np.ndarray]:
        day = self.today(market)
        dest = np.broadcast_to(dest, (len(idx), np.shape(dest)[-1]))
        status = np.empty(dest.shape, dtype=np.int8)
        income = np.empty(dest.shape, dtype=np.float64)
        for i, (w, places) in enumerate(zip(self.workers_at(idx), dest.tolist(), strict=True)):
            for k, there in enumerate(places):
                status[i, k], income[i, k] = self.best_job(w, there, day)
        return status, income

    def job_income(self, idx: np.ndarray, loc: np.ndarray, job: np.ndarray, market: Market) -> np.ndarray:
        day = self.today(market)
        workers = self.workers_at(idx)
        return np.array(
            [self.pay(w, there, j, day) for w, there, j in zip(workers, loc.tolist(), job.tolist(), strict=True)],
            dtype=np.float64,
        )

    def home_income(self, idx: np.ndarray, market: Market) -> np.ndarray:
        day = self.today(market)
        return np.array([self.pay_at_home(w, day) for w in self.workers_at(idx)], dtype=np.float64)

    def utilities(self, idx: np.ndarray, market: Market) -> np.ndarray:
        day = self.today(market)
        rows = [[self.value(w, place, day) for place in self.places] for w in self.workers_at(idx)]
        return np.array(rows, dtype=np.float64).reshape(len(idx), len(self.places))

    def choose(self, idx: np.ndarray, market: Market, exit_stopped: np.ndarray, noise: np.ndarray) -> np.ndarray:
        day = self.today(market)
        rows = zip(self.workers_at(idx), exit_stopped.tolist(), noise.tolist(), strict=True)
        return np.array([self.best_place(w, day, s, n) for w, s, n in rows], dtype=np.int64)

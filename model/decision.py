"""The decision rule, top to bottom: who considers moving, where they can
go, how they value each place, and what they choose.

1. Hazard. Each day a worker at home considers moving with a hazard raised
   by news shocks, their own mobilisation risk, repression risk for their
   stance, their employer's sanctions exposure, the share of their circle
   already abroad, a pre-war wish to leave and an international passport
   (those who travel abroad think of leaving); risk aversion lowers it.
   Abroad, the hazard of reconsidering rises when money runs short or the
   income that brought them falls (a penalty tax), and in the first weeks
   at a stepping stone, where many only pass through. A worker considers when
   the hazard accumulated since they last considered passes an exponential
   threshold of their own (an exact way to sample a time-varying hazard
   that keeps random numbers common across scenarios).
2. Reach. Only places they can actually get to: a route open today, entry
   rules met (internal or international passport, Schengen visa, entry
   bans), money for the trip at today's fares, exit checks for men of
   military age, and no stay past a visa-free limit.
3. Utility. Named terms weighted in the scenario (`behaviour.utility`):
   income after tax where they would be, cost of living, mobilisation and
   repression risk at home, travel cost and border wait, visa friction,
   language, diaspora and contacts already there, family, incentives.
4. Choice. Random utility (Gumbel noise): the best reachable place wins;
   the place they are in counts as staying.

5. Firms. IT firms exposed to sanctions relocate an office or the whole
   firm with a hazard of their exposure, international business and the
   pressure of sanctions and news; they choose where by incentives,
   banking, diaspora, stance and tax (random utility too).

`Rules` is vectorised over agents and reads only a `State`: the workers and
firms (arrays the model changes as it runs), the places, the policy levers
and the behaviour weights. The pay of every job status is one table
(`pay_by_job`) and who may hold which job one mask (`jobs_open`).
`model/reference.py` keeps a slow one-object-per-worker version of the same
rules; the tests check the two agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from exodus.model import kernels
from exodus.model.locations import ENTRY_KINDS, HOME, Locations
from exodus.model.policy import Timeline
from exodus.model.population import FOREIGN, GREY, IT, JOB_STATUS, NO_WORK, RELOCATED, REMOTE_RU, Firms, Workers
from exodus.model.scenario import Behaviour, FirmsSpec

if TYPE_CHECKING:
    from exodus.model.model import RelocationModel

VISA = ENTRY_KINDS.index("visa")
INTERNATIONAL = ENTRY_KINDS.index("international_passport")
DAYS_PER_MONTH = 30.0
DIASPORA_UNIT = 10_000.0  # persons: the diaspora term is log(1 + persons / unit)
# Job statuses abroad in order of preference on equal pay (the first of equals wins).
PREFERENCE = np.array([REMOTE_RU, FOREIGN, RELOCATED, NO_WORK, GREY], dtype=np.int8)


@dataclass(frozen=True)
class State:
    """What the rule reads: workers and firms (arrays the model changes in place as it runs), the places, the
    policy levers and the behaviour weights."""

    workers: Workers
    firms: Firms
    locations: Locations
    timeline: Timeline
    behaviour: Behaviour
    firms_spec: FirmsSpec
    local_wage_factor: np.ndarray  # [segment] pay from a local employer, as a share of the local IT wage

    @classmethod
    def of(cls, model: RelocationModel) -> State:
        return cls(
            model.workers,
            model.firms,
            model.locations,
            model.timeline,
            model.behaviour,
            model.scenario.firms,
            model.local_wage_factor,
        )


@dataclass
class Market:
    """What today looks like to a mover: fares, rents, routes, queues."""

    day: int
    fare: float  # multiplier on air fares out of Russia
    cost_of_living: np.ndarray  # [loc] monthly, after rents responded to newcomers
    russians: np.ndarray  # [loc] diaspora and newcomers, persons
    route: np.ndarray  # [origin, destination] best open route, -1 none
    trip_cost: np.ndarray  # [origin, destination] USD
    wait: np.ndarray  # [origin, destination] expected queue, days
    circle_share: np.ndarray  # [circle, loc] share of the circle in each location
    closed: np.ndarray  # [route] shut today (a closed land border, or an airspace closure on a flight)


class HomeClocks:
    """The clocks of the workers at home, brought up to date only when they may have reached their threshold (see
    the lazy kernels in `kernels.py`): each day adds today's factors to a running sum per group of circle and risk
    class and looks only at the groups where a clock may have passed, not at two million clocks."""

    CHUNK = 32  # members of a group looked at together

    def __init__(self, workers: Workers, propensity: np.ndarray, risk_class: np.ndarray, days: int) -> None:
        self.w, self.propensity, self.risk_class = workers, propensity, risk_class
        n_classes = 6  # 2 x mobilisation class + opposed (see Rules._set_up_static_terms)
        n_circles = int(workers.circle.max()) + 1
        group = workers.circle.astype(np.int64) * n_classes + risk_class
        self.group = group
        self.members = np.argsort(group, kind="stable")
        first_member = np.searchsorted(group[self.members], np.arange(n_circles * n_classes + 1))
        # each group's members in chunks of at most CHUNK, in index order
        chunks = -(-np.diff(first_member) // self.CHUNK)
        self.first_chunk = np.concatenate([[0], np.cumsum(chunks)])
        within = np.arange(self.first_chunk[-1]) - np.repeat(self.first_chunk[:-1], chunks)
        self.chunk_start = np.concatenate([np.repeat(first_member[:-1], chunks) + self.CHUNK * within, [len(group)]])
        self.chunk_group = np.repeat(np.arange(len(chunks)), chunks)
        self.chunk = np.empty(len(group), dtype=np.int64)  # a worker's chunk
        self.chunk[self.members] = np.searchsorted(self.chunk_start, np.arange(len(group)), side="right") - 1
        self.circle_terms = np.zeros((days, n_circles), dtype=np.float32)
        self.class_terms = np.zeros((days, n_classes), dtype=np.float32)
        self.total = np.zeros(n_circles * n_classes)  # B: sum of the daily factors' product, float64
        self.chunk_due = np.full(len(self.chunk_start) - 1, np.inf)  # at most the lowest `due` of its lazy
        n = len(workers)
        self.lazy = np.zeros(n, dtype=np.bool_)
        self.synced = np.full(n, -1, dtype=np.int32)  # clock exact as of this day
        self.due = np.full(n, np.inf)
        # float32 rounding of the daily sums: under 2^-23 of the threshold a day since the last exact value
        self.margin = max(1e-3, 4.0 * days * 2.0**-24)
        self.day = -1  # last day added
        self.pending: list[np.ndarray] = [np.arange(n, dtype=np.int64)]  # to (re)register before the next day

    def _register(self, day: int) -> None:
        if not self.pending:
            return
        idx = np.concatenate(self.pending).astype(np.int64, copy=False)  # twice is as once: no need to sort
        self.pending = []
        w = self.w
        kernels.lazy_register(
            idx,
            *(w.location, w.queued, self.propensity, self.group, self.chunk, w.clock, w.threshold),
            *(self.lazy, self.synced, self.due, self.chunk_due, self.total),
            day,
            self.margin,
        )

    def step(self, day: int, circle_term: np.ndarray, class_term: np.ndarray) -> np.ndarray:
        self._register(day)
        w = self.w
        passed = kernels.lazy_home_clocks(
            *(circle_term, class_term, self.circle_terms, self.class_terms),
            *(self.propensity, w.circle, self.risk_class, w.clock, w.threshold),
            *(self.lazy, self.synced, self.due, self.chunk_due, self.total),
            *(self.members, self.chunk_group, self.chunk_start),
            day,
            self.margin,
        )
        self.day = day
        return passed

    def changed(self, idx: np.ndarray) -> None:
        if len(idx):
            self.pending.append(np.asarray(idx))

    def sync(self) -> None:
        self._register(self.day + 1)  # clocks reset since the last day: exact already
        w = self.w
        args = (self.propensity, w.circle, self.risk_class, w.clock, self.lazy, self.synced)
        kernels.lazy_sync(self.circle_terms, self.class_terms, *args, self.day)


class Rules:
    """The decision rule, vectorised over the agents it is given."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.workers, self.firms, self.locations = state.workers, state.firms, state.locations
        self.timeline, self.behaviour, self.firms_spec = state.timeline, state.behaviour, state.firms_spec
        self.local_wage_factor = state.local_wage_factor
        self._set_up_static_terms()
        self._home_clocks: HomeClocks | None = None  # set up on the first day (see home_clocks)

    def _set_up_static_terms(self) -> None:
        """The parts of the home hazard that do not change day to day."""
        w, hz = self.workers, self.behaviour.hazard
        base = np.where(w.segment == IT, hz.base_it, hz.base_other)
        drive = hz.intention * w.intention + hz.passport * w.passport
        self.propensity = (base * np.exp(drive) * w.risk_aversion ** (-hz.risk_aversion)).astype(np.float32)
        # risk class: 2 x mobilisation class (0 not liable, 1 liable, 2 liable but deferrable) + opposed
        mob = np.where(w.reservist, np.where(w.deferrable, 2, 1), 0)
        self.risk_class = (2 * mob + w.opposed).astype(np.int8)
        self.circle_exposure = np.zeros(int(w.circle.max()) + 1)  # the sanctions exposure of a firm's staff
        it = w.segment == IT
        self.circle_exposure[w.circle[it]] = self.firms.exposure[w.firm[it]]

    def _employer(self, idx: np.ndarray, values: np.ndarray, none: object) -> np.ndarray:
        """A firm attribute for each worker's employer; `none` outside IT."""
        firm = self.workers.firm[idx]
        return np.where(firm >= 0, values[np.maximum(firm, 0)], none)

    # 1. Hazard ---------------------------------------------------------------
    def home_hazard(self, market: Market) -> np.ndarray:
        """Daily hazard of considering, for every worker (0 if abroad or queued).

        Factored as static propensity x circle term x class term, so the
        per-agent work each day is two gathers and two products.
        """
        w = self.workers
        circle_term, class_term = self.home_terms(market)
        at_home = (w.location == HOME) & (w.queued < 0)
        propensity = np.where(at_home, self.propensity, np.float32(0.0))
        return propensity * circle_term[w.circle] * class_term[self.risk_class]

    def home_clocks(self, market: Market) -> np.ndarray:
        """Add today's `home_hazard` to every worker's clock; return the workers whose clock has reached its
        threshold. Kept lazily (`HomeClocks`): bit for bit the daily sums of `kernels.home_clocks`, with the clocks
        of those at home in `workers.clock` up to date only after `sync_clocks()`. The model tells of every clock
        reset and every worker back from a queue (`clocks_changed`)."""
        if self._home_clocks is None:
            self._home_clocks = HomeClocks(self.workers, self.propensity, self.risk_class, len(self.timeline.alarm))
        circle_term, class_term = self.home_terms(market)
        return self._home_clocks.step(market.day, circle_term, class_term)

    def clocks_changed(self, idx: np.ndarray) -> None:
        """Workers whose clock was reset, or who left a queue at home, today (after `home_clocks`)."""
        if self._home_clocks is not None:
            self._home_clocks.changed(idx)

    def sync_clocks(self) -> None:
        """Bring `workers.clock` up to date for everyone at home (the lazy clocks), as of the last day stepped."""
        if self._home_clocks is not None:
            self._home_clocks.sync()

    def home_terms(self, market: Market) -> tuple[np.ndarray, np.ndarray]:
        """The day's factors of the home hazard: [circle] and [risk class], float32."""
        hz, tl, t = self.behaviour.hazard, self.timeline, market.day
        circle_term = np.exp(
            hz.contacts * (1.0 - market.circle_share[:, HOME]) + hz.sanctions * self.circle_exposure * tl.sanctions[t]
        )
        classes = np.arange(6)  # risk class = 2 x mobilisation class + opposed (see _set_up_static_terms)
        mobilisation = tl.mobilisation[t] * np.array([0.0, 1.0, 1.0 - tl.deferment[t]])
        class_term = np.exp(
            hz.alarm * tl.alarm[t]
            + hz.mobilisation * mobilisation[classes // 2]
            + hz.repression * tl.repression[t] * (classes % 2)
        ).astype(np.float32)
        return circle_term.astype(np.float32), class_term

    def abroad_hazard(self, idx: np.ndarray, market: Market) -> np.ndarray:
        """Daily hazard of reconsidering, for workers abroad."""
        hz, w, loc, t = self.behaviour.hazard, self.workers, self.locations, market.day
        alarm = hz.alarm if hz.alarm_abroad is None else hz.alarm_abroad
        # money: the share of living costs pay does not cover, the share of the pay they came with that is gone
        # (none to lose if they came without), savings run out; the news; the first weeks at a stepping stone.
        # One fused pass over `idx` (kernels.abroad_drive), bit for bit the numpy expression it replaced.
        drive = kernels.abroad_drive(
            np.asarray(idx, dtype=np.int64),
            *(w.location, w.job, w.wage, w.segment, w.income, w.savings, w.since, w.arrived),
            *(self.local_wage_factor, loc.income_tax_it, loc.wage_local, loc.stepping_stone, market.cost_of_living),
            int(t),
            float(self.timeline.penalty_tax[t]),
            *(self.behaviour.taxes.grey_discount, self.behaviour.taxes.income_tax, hz.money),
            float(alarm * self.timeline.alarm[t]),
            *(float(hz.transit), float(hz.transit_days)),
        )
        return hz.base_abroad * np.exp(drive)

    def savings_now(self, idx: np.ndarray, market: Market) -> np.ndarray:
        """Savings today: what they had on arrival plus pay less living costs since."""
        w = self.workers
        loc = w.location[idx]
        monthly = w.income[idx] - market.cost_of_living[loc]
        return w.savings[idx] + monthly * (market.day - w.since[idx]) / DAYS_PER_MONTH

    # 2. Reach -----------------------------------------------------------------
    def feasible(self, idx: np.ndarray, market: Market, exit_stopped: np.ndarray) -> np.ndarray:
        """[agent, location]: can this worker be there tomorrow?"""
        w, loc, tl, t = self.workers, self.locations, self.timeline, market.day
        here = w.location[idx].astype(int)
        n_loc = len(loc)
        route = market.route[here]  # [agent, loc]
        entry = loc.entry[None, :]
        allowed = (
            (entry < INTERNATIONAL)
            | ((entry == INTERNATIONAL) & w.passport[idx, None])
            | ((entry == VISA) & w.schengen[idx, None])
        )
        allowed &= ~loc.closed[None, :] & ~tl.entry_ban[t][None, :]
        savings = np.where(here == HOME, w.savings[idx], self.savings_now(idx, market))
        affordable = savings[:, None] >= market.trip_cost[here]
        ok = (route >= 0) & allowed & affordable
        ok[:, HOME] = route[:, HOME] >= 0  # citizens may always go home, if a route is open
        leaving_russia = (here == HOME)[:, None] & (np.arange(n_loc) != HOME)[None, :]
        ok &= ~(leaving_russia & exit_stopped[:, None])
        stay = np.arange(len(idx)), here
        ok[stay] = (here == HOME) | (w.deadline[idx] > t)
        ok[stay] |= ~ok.any(axis=1)  # nowhere reachable: they overstay where they are
        return ok

    # 3. Utility ---------------------------------------------------------------
    def pay_by_job(self, idx: np.ndarray, dest: np.ndarray, market: Market) -> np.ndarray:
        """[job status, *dest.shape]: monthly net pay abroad at `dest` ([agent] or [agent, place]) in each job
        status, open to them or not (0 at home and without work). The one table of pay by job status."""
        w, locs, tax = self.workers, self.locations, self.behaviour.taxes
        column = (slice(None),) + (None,) * (np.ndim(dest) - 1)  # a worker's values along their row of `dest`
        wage = w.wage[idx].astype(np.float64)[column]
        factor = self.local_wage_factor[w.segment[idx]][column]
        local_tax = locs.income_tax_it[dest]
        pay = np.zeros((len(JOB_STATUS), *np.shape(dest)))
        pay[REMOTE_RU] = wage * (1.0 - self.timeline.penalty_tax[market.day])
        pay[GREY] = wage * (1.0 - tax.grey_discount)
        pay[RELOCATED] = wage * (1.0 - local_tax) / (1.0 - tax.income_tax)
        pay[FOREIGN] = locs.wage_local[dest] * factor * (1.0 - local_tax)
        return pay

    def jobs_open(self, idx: np.ndarray, dest: np.ndarray, found: np.ndarray | bool, market: Market) -> np.ndarray:
        """[job status, *dest.shape]: the jobs open to them at `dest`; a local one if `found` (True: counted at
        its expected pay, see `job_options`)."""
        w = self.workers
        column = (slice(None),) + (None,) * (np.ndim(dest) - 1)
        remote = w.remote[idx][column]
        firm_loc = self._employer(idx, self.firms.location, HOME)[column]
        open_to = np.zeros((len(JOB_STATUS), *np.shape(dest)), dtype=bool)
        open_to[REMOTE_RU] = remote
        open_to[FOREIGN] = found
        open_to[RELOCATED] = (firm_loc == dest) & (dest != HOME)
        open_to[NO_WORK] = True
        open_to[GREY] = remote & w.grey_ok[idx][column] & (self.timeline.penalty_tax[market.day] > 0)
        return open_to

    @staticmethod
    def best_paid(pay: np.ndarray, open_to: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(status, pay) of the best-paid job open to them, the first in `PREFERENCE` of equals."""
        pay, open_to = pay[PREFERENCE], open_to[PREFERENCE]
        best = np.where(open_to, pay, -np.inf).argmax(axis=0)
        return PREFERENCE[best], np.take_along_axis(pay, best[None], axis=0)[0]

    def job_options(self, idx: np.ndarray, dest: np.ndarray, market: Market) -> tuple[np.ndarray, np.ndarray]:
        """Best job a worker could hold at `dest` [agent, loc]: (status, monthly net income), a local job at its
        expected pay (times the chance of finding one)."""
        w, locs, tax = self.workers, self.locations, self.behaviour.taxes
        # pay_by_job, the local job's pay times the chance of finding one, best_paid over jobs_open(found=True),
        # and a job that pays nothing is no job: one fused pass (kernels.job_options), bit for bit the same
        return kernels.job_options(
            np.asarray(idx, dtype=np.int64),
            np.asarray(dest, dtype=np.int64),
            *(w.wage, w.segment, w.remote, w.grey_ok, self._employer(idx, self.firms.location, HOME)),
            *(self.local_wage_factor, locs.income_tax_it, locs.wage_local, locs.job_finding),
            float(self.timeline.penalty_tax[market.day]),
            *(tax.grey_discount, tax.income_tax),
        )

    def take_job(self, idx: np.ndarray, dest: np.ndarray, found: np.ndarray, market: Market) -> np.ndarray:
        """The job a worker takes at `dest` (abroad): the best-paid open to them, a local one only if `found`."""
        return self.best_paid(self.pay_by_job(idx, dest, market), self.jobs_open(idx, dest, found, market))[0]

    def job_income(self, idx: np.ndarray, loc: np.ndarray, job: np.ndarray, market: Market) -> np.ndarray:
        """Monthly net income today of workers abroad in their current job."""
        return self.pay_by_job(idx, loc, market)[job, np.arange(len(idx))]

    def home_income(self, idx: np.ndarray, market: Market) -> np.ndarray:
        exposure = self._employer(idx, self.firms.exposure, 0.0)
        loss = self.firms_spec.sanctions_income_loss * exposure * self.timeline.sanctions[market.day]
        return self.workers.wage[idx] * (1.0 - loss)

    def utilities(self, idx: np.ndarray, market: Market) -> np.ndarray:
        """[agent, location]: systematic utility of being there tomorrow."""
        u, w, loc, tl, t = self.behaviour.utility, self.workers, self.locations, self.timeline, market.day
        n, n_loc = len(idx), len(loc)
        dest = np.broadcast_to(np.arange(n_loc)[None, :], (n, n_loc))
        here = w.location[idx].astype(int)
        abroad = dest != HOME
        _, income = self.job_options(idx, dest, market)
        income[:, HOME] = self.home_income(idx, market)
        is_it = (w.segment[idx] == IT)[:, None]
        accredited = self._employer(idx, self.firms.accredited, False)
        firm_loc = self._employer(idx, self.firms.location, HOME)
        incentive = np.where(abroad, loc.it_incentive[None, :] + tl.incentive[t][None, :], 0.0)
        incentive[:, HOME] = accredited * tl.it_tax_break[t]
        mobilisation = w.reservist[idx] * tl.mobilisation[t] * (1.0 - w.deferrable[idx] * tl.deferment[t])
        savings = np.where(here == HOME, w.savings[idx], self.savings_now(idx, market))
        moving = dest != here[:, None]
        trip = market.trip_cost[here]
        reachable = np.isfinite(trip)  # no open route: the place is masked out in `choose`
        circle = market.circle_share[w.circle[idx]]
        v = (
            u.income * np.log(np.maximum(income, 50.0) / 1000.0)
            - u.cost_of_living * np.log(market.cost_of_living / market.cost_of_living[HOME])[None, :]
            + u.language * loc.russian_language[None, :]
            + u.diaspora * np.where(abroad, np.log1p(market.russians / DIASPORA_UNIT)[None, :], 0.0)
            + u.contacts * np.where(abroad, circle, 0.0)  # contacts already there
            + u.family * (w.family[idx][:, None] == dest)
            + u.incentives * is_it * incentive
            + u.relocated_firm * ((firm_loc[:, None] == dest) & abroad)
            + np.where(abroad, loc.attraction[None, :], 0.0)
            - u.wary * loc.wary[None, :]
            - u.visa_friction * (loc.entry == VISA)[None, :]
            - moving
            * (
                u.switching
                + u.border_wait * market.wait[here]
                + u.travel_cost * np.where(reachable, trip, 0.0) / (np.maximum(savings, 0.0)[:, None] + 100.0)
            )
        )
        home_only = (
            -u.mobilisation * mobilisation * w.risk_aversion[idx]
            - u.repression * w.opposed[idx] * tl.repression[t]
            + u.home
            - u.permanent * w.permanent[idx]
        )
        v[:, HOME] += home_only
        stay = np.arange(n), here
        v[stay] += np.where(here != HOME, u.settled * self.settled(idx, market), 0.0)  # attachment where they live
        return v

    def settled(self, idx: np.ndarray, market: Market) -> np.ndarray:
        """How settled workers are where they live: 0 on arrival, 1 after `settle_days` (abroad only)."""
        days = market.day - self.workers.arrived[idx]
        return np.clip(days / self.behaviour.utility.settle_days, 0.0, 1.0)

    # 4. Choice ----------------------------------------------------------------
    def choose(self, idx: np.ndarray, market: Market, exit_stopped: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Where each considering worker wants to be tomorrow."""
        scale = self.behaviour.utility.scale
        ok = self.feasible(idx, market, exit_stopped)
        # A worker with one reachable place goes there (most of those abroad whose stay has run out and who can
        # go nowhere: they overstay): its utility is finite, so the argmax over the row is that place whatever
        # the others' values. Utilities are computed only for the others, row by row as before.
        dest = ok.argmax(axis=1)
        several = np.flatnonzero(ok.sum(axis=1) > 1)
        if len(several):
            v = self.utilities(idx[several], market) + scale * noise[several]
            v[~ok[several]] = -np.inf
            dest[several] = v.argmax(axis=1)
        return dest

    # 5. Firms -----------------------------------------------------------------
    def firm_relocation_hazard(self, at_home: np.ndarray, market: Market) -> np.ndarray:
        """Daily hazard that the firms `at_home` (still in Russia) relocate."""
        firms, tl, t = self.firms, self.timeline, market.day
        pressure = tl.sanctions[t] + tl.alarm[t]
        if pressure <= 0 or self.firms_spec.relocation_hazard <= 0:
            return np.zeros(len(at_home))
        return self.firms_spec.relocation_hazard * firms.exposure[at_home] * firms.international[at_home] * pressure

    def firm_destinations(self, market: Market) -> np.ndarray:
        """[loc] systematic utility of a place for a relocating firm; -inf where it cannot go."""
        u, loc, tl, t = self.behaviour.utility, self.locations, self.timeline, market.day
        value = (
            u.incentives * (loc.it_incentive + tl.incentive[t])
            + u.banking * loc.banking
            + u.diaspora * np.log1p(market.russians / DIASPORA_UNIT)
            - u.wary * loc.wary
            + u.income * np.log(1.0 - loc.income_tax_it + 1e-9)
        )
        return np.where(loc.closed | tl.entry_ban[t] | (np.arange(len(loc)) == HOME), -np.inf, value)

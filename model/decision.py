"""The decision rule, top to bottom: who considers moving, where they can
go, how they value each place, and what they choose.

1. Hazard. Each day a worker at home considers moving with a hazard raised
   by news shocks, their own mobilisation risk, repression risk for their
   stance, their employer's sanctions exposure, the share of their circle
   already abroad and a pre-war wish to leave; risk aversion lowers it.
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

`Rules` is vectorised over agents. The tests keep a slow one-object-per-
worker version of the same rules and check the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from exodus.model.locations import ENTRY_KINDS, HOME
from exodus.model.population import FOREIGN, GREY, IT, JOB_STATUS, NO_WORK, RELOCATED, REMOTE_RU

if TYPE_CHECKING:
    from exodus.model.model import RelocationModel

VISA = ENTRY_KINDS.index("visa")
INTERNATIONAL = ENTRY_KINDS.index("international_passport")
DAYS_PER_MONTH = 30.0
DIASPORA_UNIT = 10_000.0  # persons: the diaspora term is log(1 + persons / unit)


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


class Rules:
    """The decision rule, vectorised over the agents it is given."""

    def __init__(self, model: RelocationModel) -> None:
        self.m = model

    # 1. Hazard ---------------------------------------------------------------
    def home_hazard(self, market: Market) -> np.ndarray:
        """Daily hazard of considering, for every worker (0 if abroad or queued).

        Factored as static propensity x circle term x class term, so the
        per-agent work each day is two gathers and two products.
        """
        m = self.m
        hz, tl, t = m.behaviour.hazard, m.timeline, market.day
        w = m.workers
        circle_term = np.exp(
            hz.contacts * (1.0 - market.circle_share[:, HOME]) + hz.sanctions * m.circle_exposure * tl.sanctions[t]
        )
        classes = np.arange(6)  # risk class = 2 x mobilisation class + opposed (see RelocationModel)
        mobilisation = tl.mobilisation[t] * np.array([0.0, 1.0, 1.0 - tl.deferment[t]])
        class_term = np.exp(
            hz.alarm * tl.alarm[t]
            + hz.mobilisation * mobilisation[classes // 2]
            + hz.repression * tl.repression[t] * (classes % 2)
        ).astype(np.float32)
        return m.propensity * circle_term.astype(np.float32)[w.circle] * class_term[m.risk_class]

    def abroad_hazard(self, idx: np.ndarray, market: Market) -> np.ndarray:
        """Daily hazard of reconsidering, for workers abroad."""
        m = self.m
        hz, w = m.behaviour.hazard, m.workers
        loc = w.location[idx]
        net = self.job_income(idx, loc, w.job[idx], market)
        col = market.cost_of_living[loc]
        strain = np.clip((col - net) / col, 0.0, 1.0)  # share of living costs pay does not cover
        came_with = w.income[idx]
        lost = np.clip(1.0 - net / np.maximum(came_with, 1.0), 0.0, 1.0)
        fallen = np.where(came_with > 0, lost, 0.0)  # pay lost since arrival (none to lose if they came without)
        broke = self.savings_now(idx, market) <= 0
        alarm = hz.alarm if hz.alarm_abroad is None else hz.alarm_abroad
        transit = m.locations.stepping_stone[loc] & (market.day - w.arrived[idx] < hz.transit_days)
        drive = hz.money * (strain + fallen + broke) + alarm * m.timeline.alarm[market.day] + hz.transit * transit
        return hz.base_abroad * np.exp(drive)

    def savings_now(self, idx: np.ndarray, market: Market) -> np.ndarray:
        """Savings today: what they had on arrival plus pay less living costs since."""
        w = self.m.workers
        loc = w.location[idx]
        monthly = w.income[idx] - market.cost_of_living[loc]
        return w.savings[idx] + monthly * (market.day - w.since[idx]) / DAYS_PER_MONTH

    # 2. Reach -----------------------------------------------------------------
    def feasible(self, idx: np.ndarray, market: Market, exit_stopped: np.ndarray) -> np.ndarray:
        """[agent, location]: can this worker be there tomorrow?"""
        m = self.m
        w, loc, tl, t = m.workers, m.locations, m.timeline, market.day
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
    def job_options(self, idx: np.ndarray, dest: np.ndarray, market: Market) -> tuple[np.ndarray, np.ndarray]:
        """Best job a worker could hold at `dest` [agent, loc]: (status, monthly net income)."""
        m = self.m
        w, loc, tl, t = m.workers, m.locations, m.timeline, market.day
        tax = m.behaviour.taxes
        wage = w.wage[idx][:, None].astype(np.float64)
        penalty = tl.penalty_tax[t]
        remote_ok = w.remote[idx][:, None] & np.ones_like(dest, dtype=bool)
        remote = np.where(remote_ok, wage * (1.0 - penalty), 0.0)
        grey = np.where(remote_ok & w.grey_ok[idx][:, None] & (penalty > 0), wage * (1.0 - tax.grey_discount), 0.0)
        factor = m.local_wage_factor[w.segment[idx]][:, None]
        foreign = loc.wage_local[dest] * factor * (1.0 - loc.income_tax_it[dest]) * loc.job_finding[dest]
        firm = w.firm[idx]
        firm_loc = np.where(firm >= 0, m.firms.location[np.maximum(firm, 0)], HOME)[:, None]
        relocated = np.where(
            (firm_loc == dest) & (dest != HOME), wage * (1.0 - loc.income_tax_it[dest]) / (1.0 - tax.income_tax), 0.0
        )
        floor = np.full_like(foreign, 0.0)
        options = np.stack([remote, foreign, relocated, floor, grey])
        codes = np.array([REMOTE_RU, FOREIGN, RELOCATED, NO_WORK, GREY], dtype=np.int8)
        best = options.argmax(axis=0)
        income = np.take_along_axis(options, best[None], axis=0)[0]
        return np.where(income > 0, codes[best], NO_WORK), income  # a job that pays nothing is no job

    def take_job(self, idx: np.ndarray, dest: np.ndarray, found: np.ndarray, market: Market) -> np.ndarray:
        """The job a worker takes at `dest` (abroad): the best-paid open to them, a local one only if `found`."""
        m = self.m
        w, t = m.workers, market.day
        firm = w.firm[idx]
        firm_loc = np.where(firm >= 0, m.firms.location[np.maximum(firm, 0)], HOME)
        remote = w.remote[idx]
        codes = np.array([REMOTE_RU, FOREIGN, RELOCATED, NO_WORK, GREY], dtype=np.int8)  # preference on equal pay
        open_to = np.stack(
            [
                remote,
                found,
                (firm_loc == dest) & (dest != HOME),
                np.ones(len(idx), dtype=bool),
                remote & w.grey_ok[idx] & (m.timeline.penalty_tax[t] > 0),
            ]
        )
        pay = self.pay_by_job(idx, dest, market)[codes]
        best = np.where(open_to, pay, -np.inf).argmax(axis=0)
        return codes[best]

    def pay_by_job(self, idx: np.ndarray, loc: np.ndarray, market: Market) -> np.ndarray:
        """[job status, agent]: monthly net pay abroad at `loc` in each job status (0 at home, without work)."""
        m = self.m
        w, locs, tl, t = m.workers, m.locations, m.timeline, market.day
        tax = m.behaviour.taxes
        wage = w.wage[idx].astype(np.float64)
        factor = m.local_wage_factor[w.segment[idx]]
        local_tax = locs.income_tax_it[loc]
        pay = np.zeros((len(JOB_STATUS), len(idx)))
        pay[REMOTE_RU] = wage * (1.0 - tl.penalty_tax[t])
        pay[GREY] = wage * (1.0 - tax.grey_discount)
        pay[RELOCATED] = wage * (1.0 - local_tax) / (1.0 - tax.income_tax)
        pay[FOREIGN] = locs.wage_local[loc] * factor * (1.0 - local_tax)
        return pay

    def job_income(self, idx: np.ndarray, loc: np.ndarray, job: np.ndarray, market: Market) -> np.ndarray:
        """Monthly net income today of workers abroad in their current job."""
        return self.pay_by_job(idx, loc, market)[job, np.arange(len(idx))]

    def home_income(self, idx: np.ndarray, market: Market) -> np.ndarray:
        m = self.m
        w = m.workers
        firm = w.firm[idx]
        exposure = np.where(firm >= 0, m.firms.exposure[np.maximum(firm, 0)], 0.0)
        loss = m.firms_spec.sanctions_income_loss * exposure * m.timeline.sanctions[market.day]
        return w.wage[idx] * (1.0 - loss)

    def utilities(self, idx: np.ndarray, market: Market) -> np.ndarray:
        """[agent, location]: systematic utility of being there tomorrow."""
        m = self.m
        u, w, loc, tl, t = m.behaviour.utility, m.workers, m.locations, m.timeline, market.day
        n, n_loc = len(idx), len(loc)
        dest = np.broadcast_to(np.arange(n_loc)[None, :], (n, n_loc))
        here = w.location[idx].astype(int)
        abroad = dest != HOME
        _, income = self.job_options(idx, dest, market)
        income[:, HOME] = self.home_income(idx, market)
        is_it = (w.segment[idx] == IT)[:, None]
        firm = w.firm[idx]
        accredited = np.where(firm >= 0, m.firms.accredited[np.maximum(firm, 0)], False)
        firm_loc = np.where(firm >= 0, m.firms.location[np.maximum(firm, 0)], HOME)
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
        days = market.day - self.m.workers.arrived[idx]
        return np.clip(days / self.m.behaviour.utility.settle_days, 0.0, 1.0)

    # 4. Choice ----------------------------------------------------------------
    def choose(self, idx: np.ndarray, market: Market, exit_stopped: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Where each considering worker wants to be tomorrow."""
        scale = self.m.behaviour.utility.scale
        v = self.utilities(idx, market) + scale * noise
        v[~self.feasible(idx, market, exit_stopped)] = -np.inf
        return v.argmax(axis=1)

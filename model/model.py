"""RelocationModel: the Mesa model, a function of (scenario, seed).

`__init__` builds the world (locations, routes, policy timeline, firms,
workers) and `step()` advances it one day, calling its parts in a fixed
order: markets, firms, decisions at home, border queues, decisions abroad,
records. Workers and firms are arrays (see `population.py`); the decision
rule is in `decision.py`.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from exodus.model import kernels
from exodus.model.decision import DAYS_PER_MONTH, Market, Rules, State
from exodus.model.locations import AIR, HOME, LAND, build_locations, build_routes
from exodus.model.outputs import TAX_COLLECTED, TAX_TERMS, Tally, TaxTerm
from exodus.model.policy import compile_timeline
from exodus.model.population import (
    AT_HOME,
    FOREIGN,
    GREY,
    IT,
    JOB_STATUS,
    NEVER,
    NO_WORK,
    RELOCATED,
    REMOTE_RU,
    SEGMENTS,
    build_population,
)
from exodus.model.scenario import Scenario, load_scenario
from exodus.model.streams import Stream, check_seed

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"


def fresh_seed(rng: Any = None) -> int:
    """The run's seed: `rng` itself if an int, else drawn (from the OS when None, Mesa's meaning of it)."""
    if rng is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    return check_seed(rng)


class RelocationModel(mesa.Model):
    """Russian tech workers and others deciding, day by day, where to live.

    Parameters: a scenario (path or loaded), the seed (`rng`: an int
    reproduces a run exactly; None, Mesa's meaning, draws a fresh seed from
    the operating system, recorded as `model.seed`), the scale (1.0: full
    scale; 0.01: a hundredth of the agents, each standing for a hundred
    times the persons) and keyword overrides of scenario fields by dotted
    path (`behaviour.hazard.alarm=2.0`, or with `__`), so `mesa.batch_run`
    can sweep them. The keyword catch-all is named `kwargs` because Mesa's
    SolaraViz accepts a `**` parameter only under that name.

    `datacollector` records, each day and in persons (not agents): the date,
    the stock at each location (`stock_RU`, `stock_GE`, ...), arrivals at
    each destination, departures from and returns to Russia, onward moves,
    persons abroad by job status (`jobs_remote_ru`, ...), and Russia's tax
    terms in USD a day (`tax_income_tax_usd`, ...; `tax_abroad_usd` is the
    part paid or lost by people abroad).
    """

    # mesa >= 3.5 has a `Model.scenario` property whose setter writes `scenario.model = self`, which our
    # frozen Scenario refuses: ours shadows it.
    @property
    def scenario(self) -> Scenario:
        return self._scenario_spec

    @scenario.setter
    def scenario(self, value: Any) -> None:
        if isinstance(value, Scenario):
            self._scenario_spec = value
        else:
            self._mesa_scenario = value

    def __init__(
        self,
        scenario: str | Path | Scenario = DEFAULT_SCENARIO,
        *,
        rng: int | np.random.Generator | None = None,
        scale: float = 1.0,
        rules: type[Rules] = Rules,
        **kwargs: Any,
    ) -> None:
        seed = fresh_seed(rng)
        super().__init__(rng=seed)
        if isinstance(scenario, Scenario):
            if kwargs:
                from exodus.model.scenario import set_path, validate

                raw = scenario.as_dict()
                for key, value in kwargs.items():
                    set_path(raw, key, value)
                scenario = validate(raw, f"{scenario.scenario.name} with overrides")
        else:
            scenario = load_scenario(scenario, kwargs)
        self.scenario = scenario
        self.seed = seed
        self.scale = scale
        self.behaviour = scenario.behaviour
        self.local_wage_factor = np.array([scenario.population[s].local_wage_factor for s in SEGMENTS])
        self.visa_rate = np.array([scenario.population[s].visa_abroad_per_year for s in SEGMENTS])
        self.locations = build_locations(scenario)
        self.codes = self.locations.codes
        self.routes = build_routes(scenario, self.codes)
        self.timeline = compile_timeline(scenario, self.codes)
        self.workers, self.firms = build_population(scenario, scale, seed, self.codes)
        self.rules = rules(State.of(self))
        self.day = 0
        self.running = True
        self._streams = {
            name: Stream(seed, name)
            for name in (
                "consider",
                "choice",
                "exit",
                "job",
                "residence",
                "permit",
                "visa",
                "processing",
                "job.search",
                "firms.relocate",
                "firms.choice",
                "firms.offer",
            )
        }
        self.workers.threshold[:] = self._streams["consider"].exponential(np.arange(len(self.workers)), 0)
        self.firm_start = np.concatenate([[0], np.cumsum(self.firms.size)])  # a firm's staff: its range of workers
        self._set_up_counters()
        self.tally = Tally(scenario.days, len(self.locations), len(self.routes))
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())

    # set-up ----------------------------------------------------------------
    def _set_up_counters(self) -> None:
        w = self.workers
        n_loc = len(self.locations)
        self.stock = np.zeros((n_loc, len(SEGMENTS)), dtype=np.int64)
        self.residents = np.zeros((n_loc, len(SEGMENTS)), dtype=np.int64)  # abroad with residence, by place
        self.stock[HOME] = np.bincount(w.segment, minlength=len(SEGMENTS))
        n_circles = int(w.circle.max()) + 1
        self.circle_size = np.bincount(w.circle, minlength=n_circles).astype(np.float64)
        self.circle_at = np.zeros((n_circles, n_loc), dtype=np.int64)
        self.circle_at[:, HOME] = self.circle_size.astype(np.int64)
        self.left = np.zeros(len(SEGMENTS), dtype=np.int64)  # cumulative departures from Russia, agents
        self.queues: list[deque[np.ndarray]] = [deque() for _ in range(len(self.routes))]
        self._border_credit = np.zeros(len(self.routes))  # persons of capacity saved up by a waiting queue
        self.fare = 1.0
        self._air_demand = 0.0
        # gross monthly wages by segment and job status, persons-weighted: the tax base
        self.job_wage = np.zeros((len(SEGMENTS), len(JOB_STATUS)))
        gross = w.wage / (1.0 - self.behaviour.taxes.income_tax)
        np.add.at(self.job_wage, (w.segment, AT_HOME), gross * w.persons_per_agent[w.segment])
        self.job_count = np.zeros((len(SEGMENTS), len(JOB_STATUS)), dtype=np.int64)
        self.job_count[:, AT_HOME] = self.stock[HOME]

    # reporters ---------------------------------------------------------------
    def _reporters(self) -> dict[str, Any]:
        """The DataCollector's columns: yesterday's records (collected after the day), in persons and USD."""
        reporters: dict[str, Any] = {
            "date": lambda m: m.scenario.date(m.day - 1).isoformat(),
            "abroad_it": lambda m: m.persons_abroad(IT),
            "abroad_other": lambda m: m.persons_abroad(1),
            "left_russia_it": lambda m: m.persons_left(IT),
            "left_russia_other": lambda m: m.persons_left(1),
            "seed": lambda m: m.seed,
            "air_fare_multiplier": lambda m: m.fare,
            "departures": lambda m: m._persons_today(m.tally.departures, HOME),
            "returns": lambda m: m._persons_today(m.tally.arrivals, HOME),
            "onward": lambda m: int(sum(m._persons_today(m.tally.onward, j) for j in range(1, len(m.codes)))),
        }
        for j, code in enumerate(self.codes):
            reporters[f"stock_{code}"] = lambda m, j=j: m._persons_today(m.tally.stock, j)
        for j, code in enumerate(self.codes[1:], start=1):
            reporters[f"arrivals_{code}"] = lambda m, j=j: m._persons_today(m.tally.arrivals, j)
        for k, status in enumerate(JOB_STATUS[1:], start=1):
            reporters[f"jobs_{status}"] = lambda m, k=k: int(
                m.tally.jobs[m.day - 1, :, k] @ m.workers.persons_per_agent
            )
        for term, name in zip(TaxTerm, TAX_TERMS, strict=True):
            reporters[f"tax_{name}_usd"] = lambda m, k=term: float(m.tally.tax[m.day - 1, :, k].sum())
        reporters["tax_abroad_usd"] = lambda m: float(m.tally.tax_abroad[m.day - 1, :, TAX_COLLECTED].sum())
        return reporters

    def _persons_today(self, table: np.ndarray, j: int) -> int:
        """Persons at location `j` in yesterday's row of a [day, location, segment] tally of agents."""
        return int(table[self.day - 1, j] @ self.workers.persons_per_agent)

    def persons_abroad(self, segment: int) -> int:
        return int(self.stock[1:, segment].sum() * self.workers.persons_per_agent[segment])

    def persons_left(self, segment: int) -> int:
        return int(self.left[segment] * self.workers.persons_per_agent[segment])

    def population(self) -> dict[str, int]:
        """Persons simulated per segment (agents x persons per agent)."""
        counts = np.bincount(self.workers.segment, minlength=len(SEGMENTS))
        return {seg: int(counts[s] * self.workers.persons_per_agent[s]) for s, seg in enumerate(SEGMENTS)}

    # one day -----------------------------------------------------------------
    def step(self) -> None:
        t = self.day
        market = self._market(t)
        offered = self._firms_relocate(t, market)
        self._apply_new_stay_limits(t)
        self._decide_at_home(t, market, offered)
        self._cross_borders(t, market)
        self._decide_abroad(t, market, offered)
        self._record(t)
        self.day += 1
        self.datacollector.collect(self)
        if self.day >= self.scenario.days:
            self.running = False

    def run(self, progress: Any | None = None) -> RelocationModel:
        """Run to the horizon; `progress(n)` is told of each finished day."""
        while self.running:
            self.step()
            if progress is not None:
                progress(1)
        return self

    # markets -------------------------------------------------------------------
    def _market(self, t: int) -> Market:
        """Fares from yesterday's demand for seats, rents from newcomers, open routes and queues."""
        loc, routes, tl = self.locations, self.routes, self.timeline
        air = self.behaviour.airfares
        if air.elasticity > 0 and self._air_demand > air.seats_per_day:
            self.fare = min(air.max_multiplier, (self._air_demand / air.seats_per_day) ** air.elasticity)
        else:
            self.fare = 1.0
        self.tally.fare[t] = self.fare
        persons = self.stock @ self.workers.persons_per_agent
        cost = loc.cost_of_living * (
            1.0 + loc.rent_elasticity * np.where(np.arange(len(loc)) == HOME, 0.0, persons / loc.housing_capacity)
        )
        n = len(loc)
        route = np.full((n, n), -1)
        trip = np.full((n, n), np.inf)
        wait = np.zeros((n, n))
        vot = self.behaviour.utility.value_of_time_usd
        # every route at once; of an origin and destination's open routes the cheapest in money and time wins, the
        # first of equals (as a loop over the routes keeping the strictly cheaper one would pick)
        o, d, mode = routes.origin, routes.destination, routes.mode
        by_air, by_land = mode == AIR, mode == LAND
        # An airspace closure bars Russian aircraft, which fly only to and from Russia: it closes a flight there at
        # the far end, or at the hub of a connection (a foreign carrier flies on from there).
        far = np.where(routes.via >= 0, routes.via, np.where(o == HOME, d, o))
        russian = by_air & ((o == HOME) | (d == HOME))
        shut = (russian & (tl.airspace_closed[t, far] | tl.airspace_closed[t, HOME])) | (
            by_land & (tl.border_closed[t, d] | tl.border_closed[t, o])
        )
        price = routes.cost * np.where(by_air & (o == HOME), self.fare, 1.0)
        waiting = np.array([self._queue_persons(r) if queue else 0.0 for r, queue in enumerate(self.queues)])
        limited = routes.capacity > 0
        queue_days = np.zeros(len(routes))
        queue_days[limited] = waiting[limited] / routes.capacity[limited]
        generalised = price + vot * (routes.days + queue_days)
        open_ = np.flatnonzero(~shut)
        pair = o[open_] * n + d[open_]
        ranked = open_[np.lexsort((open_, generalised[open_], pair))]
        _, first = np.unique(o[ranked] * n + d[ranked], return_index=True)
        r = ranked[first]
        route[o[r], d[r]], trip[o[r], d[r]], wait[o[r], d[r]] = r, price[r], queue_days[r]
        diagonal = np.arange(n)
        route[diagonal, diagonal], trip[diagonal, diagonal] = n, 0.0  # staying put: no route needed
        circle_share = self.circle_at / self.circle_size[:, None]
        return Market(t, self.fare, cost, loc.diaspora + persons, route, trip, wait, circle_share, shut)

    def _queue_persons(self, r: int) -> float:
        per_agent = self.workers.persons_per_agent
        return float(sum(per_agent[self.workers.segment[q]].sum() for q in self.queues[r]))

    # firms ---------------------------------------------------------------------
    def _firms_relocate(self, t: int, market: Market) -> np.ndarray:
        """Firms exposed to sanctions move an office or the whole firm; returns workers offered to follow."""
        firms, spec = self.firms, self.scenario.firms
        at_home = np.flatnonzero(firms.location == HOME)
        hazard = self.rules.firm_relocation_hazard(at_home, market)
        if len(at_home) == 0 or not hazard.any():
            return np.empty(0, dtype=np.int64)
        moving = at_home[self._streams["firms.relocate"].uniform(at_home, t) < hazard]
        if len(moving) == 0:
            return np.empty(0, dtype=np.int64)
        value = self.rules.firm_destinations(market)
        noise = self._streams["firms.choice"].gumbel(moving, t, len(self.locations))
        dest = (value[None, :] + noise).argmax(axis=1)
        firms.location[moving] = dest
        firms.relocated_on[moving] = t
        firms.whole[moving] = self._streams["firms.choice"].uniform(moving, t + 100_000) < spec.whole_firm_share
        np.add.at(self.tally.firm_relocations[t], dest, 1)
        staff = np.concatenate([np.arange(self.firm_start[f], self.firm_start[f + 1]) for f in moving])
        share = np.where(firms.whole[self.workers.firm[staff]], 1.0, spec.office_share)
        offered = self._streams["firms.offer"].uniform(staff, t) < share * spec.follow_probability
        return staff[offered]

    # decisions -----------------------------------------------------------------
    def _reset_clocks(self, idx: np.ndarray) -> None:
        w = self.workers
        w.considered[idx] += 1
        w.clock[idx] = 0.0
        w.threshold[idx] = self._streams["consider"].exponential(idx, w.considered[idx])
        self.rules.clocks_changed(idx)

    def _exit_stopped(self, idx: np.ndarray, t: int) -> np.ndarray:
        level = self.timeline.exit_ban_military_age[t]
        if level <= 0:
            return np.zeros(len(idx), dtype=bool)
        return self.workers.military_age[idx] & (self._streams["exit"].uniform(idx, t) < level)

    def _decide_at_home(self, t: int, market: Market, offered: np.ndarray) -> None:
        w = self.workers
        self._air_demand = 0.0
        considering = self.rules.home_clocks(market)  # today's hazard added to the clocks: those that passed
        offered = offered[(w.location[offered] == HOME) & (w.queued[offered] < 0)]
        considering = kernels.union(considering, offered)
        if len(considering) == 0:
            return
        self._reset_clocks(considering)
        exit_stopped = self._exit_stopped(considering, t)
        noise = self._streams["choice"].gumbel(considering, t, len(self.locations))
        dest = self.rules.choose(considering, market, exit_stopped, noise)
        leaving = dest != HOME
        idx, dest = considering[leaving], dest[leaving]
        route = market.route[HOME, dest]
        checked = self.routes.processing[route] > 0
        queued = (self.routes.capacity[route] > 0) | checked  # a border's daily crossings, or a flight's seats
        for r in np.unique(route[queued]):
            joiners = idx[queued & (route == r)]
            self.queues[r].append(joiners)
            w.queued[joiners] = r
        if checked.any():  # the check takes its own time for each of them
            wait = self._streams["processing"].exponential(idx[checked], t) * self.routes.processing[route[checked]]
            w.ready[idx[checked]] = t + 1 + np.floor(wait).astype(np.int32)
        flying = ~queued
        booking = ~checked & (self.routes.mode[route] == AIR)  # today's demand for seats, flown today or later
        self._air_demand = float(w.persons_per_agent[w.segment[idx[booking]]].sum())
        self._move(idx[flying], dest[flying], t, market)

    def _cross_borders(self, t: int, market: Market) -> None:
        """Each land border lets through its daily capacity, and each flight route its seats, first come first served
        (those without a seat today fly on a later day); on a route with a check, those whose check has cleared leave.
        A route shut today (a closed border, an airspace closure) turns its queue back."""
        w, routes = self.workers, self.routes
        tl = self.timeline
        for r, queue in enumerate(self.queues):
            dest = routes.destination[r]
            shut = tl.entry_ban[t, dest] or market.closed[r]
            if queue and shut:
                turned_back = np.concatenate(list(queue))  # the border shut on them: they stay home
                queue.clear()
                w.queued[turned_back] = -1
                self.rules.clocks_changed(turned_back)
            leaving = self._checks_cleared(r, t) if routes.processing[r] > 0 else self._let_through(r)
            if len(leaving):
                w.queued[leaving] = -1
                self.rules.clocks_changed(leaving)
                leaving = leaving[~self._exit_stopped(leaving, t)]  # those stopped stay home
                self._move(leaving, np.full(len(leaving), dest), t, market)
            self.tally.queue[t, r] = round(self._queue_persons(r))

    def _let_through(self, r: int) -> np.ndarray:
        """Today's crossers at land border or flight route `r`, taken from the head of its queue."""
        w, queue = self.workers, self.queues[r]
        # Unused capacity carries over while people wait, so an agent standing for more persons
        # than a day's capacity crosses after enough days instead of blocking the queue.
        room = self.routes.capacity[r] + self._border_credit[r]
        crossing: list[np.ndarray] = []
        while queue and room > 0:
            head = queue[0]
            persons = np.cumsum(w.persons_per_agent[w.segment[head]])
            take = int(np.searchsorted(persons, room, side="right"))
            if take == 0:
                break
            crossing.append(head[:take])
            room -= persons[take - 1]
            if take < len(head):
                queue[0] = head[take:]
            else:
                queue.popleft()
        self._border_credit[r] = room if queue else 0.0
        return np.concatenate(crossing) if crossing else np.empty(0, dtype=np.int64)

    def _checks_cleared(self, r: int, t: int) -> np.ndarray:
        """Those on route `r` whose check has cleared by today; the others wait on."""
        queue = self.queues[r]
        if not queue:
            return np.empty(0, dtype=np.int64)
        waiting = np.concatenate(list(queue))
        queue.clear()
        cleared = self.workers.ready[waiting] <= t
        if not cleared.all():
            queue.append(waiting[~cleared])
        return waiting[cleared]

    def _decide_abroad(self, t: int, market: Market, offered: np.ndarray) -> None:
        w = self.workers
        abroad = kernels.away(w.location)  # np.flatnonzero(w.location != HOME), in one pass
        if len(abroad) == 0:
            return
        hazard = self.rules.abroad_hazard(abroad, market).astype(np.float32)  # added to the clocks below
        self._apply_for_permits(abroad, t)
        visa = self._obtain_visas(abroad, t)
        self._search_for_work(abroad, t, market)
        # A visa-free stay running out forces the question; running out of money raises its hazard (the
        # `broke` term of abroad_hazard) but does not force it daily: a worker re-drawing the choice every
        # day is sure to pick home by chance within weeks (measured: most returns outside IT, issue 8).
        considering = kernels.abroad_clocks(abroad, hazard, w.clock, w.threshold, w.deadline, t)  # passed or forced
        offered = offered[w.location[offered] != HOME]
        considering = kernels.union(kernels.union(considering, offered), visa)
        if len(considering) == 0:
            return
        self._reset_clocks(considering)
        noise = self._streams["choice"].gumbel(considering, t, len(self.locations))
        no_exit = np.zeros(len(considering), dtype=bool)
        dest = self.rules.choose(considering, market, no_exit, noise)
        here = w.location[considering]
        staying = dest == here
        self._rechoose_job(considering[staying], t, market)
        self._move(considering[~staying], dest[~staying], t, market)

    # state changes -------------------------------------------------------------
    def _assign_job(self, idx: np.ndarray, dest: np.ndarray, t: int, market: Market) -> np.ndarray:
        """Job status at `dest`: the best-paid open to them; a local job only if their search succeeds."""
        found = self._streams["job"].uniform(idx, t) < self.locations.job_finding[dest]
        jobs = self.rules.take_job(idx, dest, found, market)
        return np.where(dest == HOME, AT_HOME, jobs).astype(np.int8)

    def _set_job(self, idx: np.ndarray, jobs: np.ndarray) -> None:
        w = self.workers
        weight = w.persons_per_agent[w.segment[idx]]
        gross = w.wage[idx] / (1.0 - self.behaviour.taxes.income_tax) * weight
        np.add.at(self.job_wage, (w.segment[idx], w.job[idx]), -gross)
        np.add.at(self.job_count, (w.segment[idx], w.job[idx]), -1)
        w.job[idx] = jobs
        np.add.at(self.job_wage, (w.segment[idx], jobs), gross)
        np.add.at(self.job_count, (w.segment[idx], jobs), 1)

    def _rechoose_job(self, idx: np.ndarray, t: int, market: Market) -> None:
        """Staying abroad, a worker may still change job: the penalty-tax responses."""
        if len(idx) == 0:
            return
        w = self.workers
        here = w.location[idx].astype(int)
        new = self._assign_job(idx, here, t, market)
        better = self.rules.job_income(idx, here, new, market) > self.rules.job_income(idx, here, w.job[idx], market)
        changed = better & (new != w.job[idx])
        if changed.any():
            idx, new, here = idx[changed], new[changed], here[changed]
            savings = self.rules.savings_now(idx, market)
            self._set_job(idx, new)
            w.savings[idx] = savings
            w.since[idx] = t
            w.income[idx] = self.rules.job_income(idx, here, new, market)

    def _move(self, idx: np.ndarray, dest: np.ndarray, t: int, market: Market) -> None:
        """Move workers to `dest` today, updating every counter the move touches."""
        if len(idx) == 0:
            return
        w, loc = self.workers, self.locations
        origin = w.location[idx].astype(int)
        seg = w.segment[idx]
        # money: savings carried, less the trip
        savings = np.where(origin == HOME, w.savings[idx], self.rules.savings_now(idx, market))
        w.savings[idx] = savings - market.trip_cost[origin, dest]
        # counters
        np.add.at(self.stock, (origin, seg), -1)
        np.add.at(self.stock, (dest, seg), 1)
        np.add.at(self.tally.departures[t], (origin, seg), 1)
        np.add.at(self.tally.arrivals[t], (dest, seg), 1)
        onward = (origin != HOME) & (dest != HOME)
        np.add.at(self.tally.onward[t], (origin[onward], seg[onward]), 1)
        from_home = origin == HOME
        np.add.at(self.left, seg[from_home], 1)
        np.add.at(self.circle_at, (w.circle[idx], origin), -1)
        np.add.at(self.circle_at, (w.circle[idx], dest), 1)
        held = w.resident[idx] & (origin != HOME)  # residence abroad is left behind with the place
        np.add.at(self.residents, (origin[held], seg[held]), -1)
        # state
        w.location[idx] = dest
        w.since[idx] = t
        w.arrived[idx] = t
        self._set_job(idx, self._assign_job(idx, dest, t, market))
        w.income[idx] = np.where(dest == HOME, w.wage[idx], self.rules.job_income(idx, dest, w.job[idx], market))
        resident = self._streams["residence"].uniform(idx, t) < loc.residence_probability[dest]
        with_firm = w.job[idx] == RELOCATED
        w.resident[idx] = resident | with_firm
        limit = np.maximum(loc.stay_limit[dest], self.timeline.stay_limit[t, dest])
        term = np.where(resident & ~with_firm, loc.permit_days[dest], 0)  # a permit on arrival runs its term too
        deadline = np.where(~w.resident[idx] & (limit > 0), t + limit, np.where(term > 0, t + term, NEVER))
        w.deadline[idx] = np.where(dest != HOME, deadline, NEVER).astype(np.int32)
        held = w.resident[idx] & (dest != HOME)
        np.add.at(self.residents, (dest[held], seg[held]), 1)

    def _search_for_work(self, abroad: np.ndarray, t: int, market: Market) -> None:
        """Abroad, those without work and remote workers whose pay a penalty tax cuts look for a local or
        foreign employer: each day one in `job_search_days` of the place's job-finding chance finds one, taken
        if it pays more (before, a job was found on arrival, when reconsidering, or never)."""
        days = self.behaviour.hazard.job_search_days
        if days <= 0:
            return
        w = self.workers
        penalised = bool(self.timeline.penalty_tax[t] > 0)
        # those looking (without work, or remote under a penalty tax) whose draw falls below job_finding / days
        key, finding = self._streams["job.search"].key, self.locations.job_finding
        found = kernels.work_found(key, abroad, w.job, w.location, finding, float(days), penalised, t)
        here = w.location[found].astype(int)
        jobs = np.full(len(found), FOREIGN, dtype=np.int8)
        better = self.rules.job_income(found, here, jobs, market) > self.rules.job_income(
            found, here, w.job[found], market
        )
        found, here, jobs = found[better], here[better], jobs[better]
        if len(found) == 0:
            return
        w.savings[found] = self.rules.savings_now(found, market)
        self._set_job(found, jobs)
        w.since[found] = t
        w.income[found] = self.rules.job_income(found, here, jobs, market)

    def _apply_for_permits(self, abroad: np.ndarray, t: int) -> None:
        """On the day their visa-free stay or permit runs out, non-residents apply for a residence or work
        permit (Turkey's one-year permits, Serbia's temporary residence); those granted one may stay on, for
        the permit's term (`permit_days`, then they apply for its renewal, with the odds of
        `renewal_probability`) or for good. A `permit_refusals` policy turns away its share of both."""
        w, loc = self.workers, self.locations
        due = abroad[w.deadline[abroad] == t]  # residents hold a deadline only while their permit runs
        if len(due) == 0:
            return
        here = w.location[due]
        odds = np.where(w.resident[due], loc.renewal_probability[here], loc.permit_probability[here])
        odds = odds * (1.0 - self.timeline.permit_refusals[t, here])
        granted = self._streams["permit"].uniform(due, t) < odds
        change = granted.astype(np.int64) - w.resident[due]
        np.add.at(self.residents, (here, w.segment[due]), change)
        w.resident[due] = granted
        term = loc.permit_days[here]
        w.deadline[due] = np.where(~granted, t, np.where(term > 0, t + term, NEVER)).astype(np.int32)

    def _obtain_visas(self, abroad: np.ndarray, t: int) -> np.ndarray:
        """Abroad, workers with an international passport and no Schengen visa get one from a consulate in the
        host country (national work visas, Schengen visas issued in Tbilisi, Yerevan or Istanbul) at their
        segment's yearly rate; a visa is sought to move on, so those granted one reconsider today."""
        rate = self.visa_rate
        if not rate.any():
            return np.empty(0, dtype=np.int64)
        w = self.workers
        # those with a passport and no visa whose draw falls below rate[segment] / 365 today, in one pass
        granted = kernels.visas_granted(self._streams["visa"].key, abroad, w.passport, w.schengen, w.segment, rate, t)
        w.schengen[granted] = True
        return granted

    def _apply_new_stay_limits(self, t: int) -> None:
        """A stay limit that starts today sets a deadline for non-residents already there."""
        if t == 0:
            return
        changed = np.flatnonzero(self.timeline.stay_limit[t] != self.timeline.stay_limit[t - 1])
        w = self.workers
        for j in changed:
            limit = max(self.locations.stay_limit[j], self.timeline.stay_limit[t, j])
            there = np.flatnonzero((w.location == j) & ~w.resident)
            w.deadline[there] = t + int(limit) if limit > 0 else NEVER

    # records ------------------------------------------------------------------
    def _record(self, t: int) -> None:
        self.tally.stock[t] = self.stock
        self.tally.residents[t] = self.residents
        self.tally.jobs[t] = self.job_count
        taxes, tl = self.behaviour.taxes, self.timeline
        premiums = np.array([taxes.insurance_premiums_it, taxes.insurance_premiums_other])
        remote_rate = taxes.nonresident_income_tax if np.isnan(tl.remote_work_tax[t]) else tl.remote_work_tax[t]
        base = self.job_wage / DAYS_PER_MONTH  # gross wage per day, persons-weighted
        at_home, remote = base[:, AT_HOME], base[:, REMOTE_RU]
        full = taxes.income_tax + premiums
        abroad = self.tally.tax_abroad[t]  # paid (or lost) by people abroad; the rest by people at home
        abroad[:, TaxTerm.INCOME_TAX] = remote * remote_rate
        abroad[:, TaxTerm.INSURANCE_PREMIUMS] = remote * premiums
        # the penalty is taken from the pay the worker receives (after income tax; see Rules.pay_by_job),
        # so it is booked on that, not on the gross wage
        abroad[:, TaxTerm.PENALTY_TAX] = remote * (1.0 - taxes.income_tax) * tl.penalty_tax[t]
        abroad[:, TaxTerm.LOST_TO_GREY_PAY] = base[:, GREY] * full
        abroad[:, TaxTerm.LOST_TO_FOREIGN_EMPLOYERS] = (base[:, FOREIGN] + base[:, RELOCATED]) * full
        abroad[:, TaxTerm.LOST_TO_NO_WORK] = base[:, NO_WORK] * full
        self.tally.tax[t] = abroad
        self.tally.tax[t, :, TaxTerm.INCOME_TAX] += at_home * taxes.income_tax
        self.tally.tax[t, :, TaxTerm.INSURANCE_PREMIUMS] += at_home * premiums

    # results -------------------------------------------------------------------
    def dates(self) -> list[str]:
        return [self.scenario.date(t).isoformat() for t in range(self.scenario.days)]

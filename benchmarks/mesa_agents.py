"""The model as a Mesa user would write it: one `mesa.Agent` per worker, stepped with `shuffle_do`.

This is the yardstick the vectorised engine (`exodus.model.RelocationModel`)
is timed against in `bench.py`, so it does the same daily work per agent
with the same rules: the hazard clock (at home and abroad), considering when
the clock passes the agent's threshold (or a visa-free stay runs out), the
places they can reach, the utility of each and the random-utility choice,
then the move with its job, savings, residence and deadline, permits on the
deadline day and the daily job search abroad. The scalar formulas are those
of `model/reference.py` (the one-object-per-worker statement of the rules
the tests check the vectorised rules against), called on each agent's own
`Worker` record.

It is a benchmark, not a second model: its random numbers come from Mesa's
`model.random` (as a Mesa model's would), not the counter-based streams, so
its runs are not byte-identical to the vectorised engine's, and it leaves
out the parts that are not per-agent work: land-border queues (movers cross
at once), firm relocations (firms stay in Russia) and stay limits that start
while people are already abroad. Only Mesa 3 APIs: `Model(rng=...)`,
`model.agents.shuffle_do`, no `mesa.space`.
"""

from __future__ import annotations

import math
from pathlib import Path

import mesa
import numpy as np

from exodus.model import DEFAULT_SCENARIO, load_scenario
from exodus.model.decision import Market, State
from exodus.model.locations import AIR, HOME, LAND, build_locations, build_routes
from exodus.model.policy import compile_timeline
from exodus.model.population import AT_HOME, FOREIGN, NEVER, NO_WORK, RELOCATED, REMOTE_RU, SEGMENTS, build_population
from exodus.model.reference import ReferenceRules, Today, Worker
from exodus.model.scenario import Scenario


class WorkerAgent(mesa.Agent):
    """One worker: their state (a reference `Worker` record), hazard clock and threshold."""

    def __init__(self, model: MesaRelocationModel, worker: Worker, segment: int, military_age: bool) -> None:
        super().__init__(model)
        self.worker = worker
        self.segment = segment
        self.military_age = military_age
        self.clock = 0.0
        self.threshold = model.random.expovariate(1.0)

    def step(self) -> None:
        """One day: add today's hazard to the clock; consider moving once it passes the threshold."""
        model, w, day = self.model, self.worker, self.model.today
        rules = model.rules
        if w.location == HOME:
            self.clock += rules.hazard_at_home(w, day)
            if self.clock < self.threshold:
                return
            ban = day.exit_ban_military_age
            self.consider(day, self.military_age and ban > 0 and model.random.random() < ban)
            return
        self.clock += rules.hazard_abroad(w, day)
        if w.deadline == day.day:
            self.apply_for_permit(day)
        self.search_for_work(day)
        if self.clock >= self.threshold or w.deadline <= day.day:  # a visa-free stay running out forces it
            self.consider(day, False)

    def consider(self, day: Today, stopped: bool) -> None:
        """Choose the best reachable place (random utility); move there, or stay and maybe change job."""
        model, w = self.model, self.worker
        self.clock = 0.0
        self.threshold = model.random.expovariate(1.0)
        uniform = model.random.random
        noise = [-math.log(-math.log(1.0 - uniform())) for _ in model.rules.places]  # 1 - U: never 0
        dest = model.rules.best_place(w, day, stopped, noise)
        if dest != w.location:
            model.move(self, dest, day)
        elif w.location != HOME:
            self.rechoose_job(day)

    def take_job(self, there: int, day: Today) -> int:
        found = self.model.random.random() < self.model.rules.places[there].job_finding
        return self.model.rules.job_taken(self.worker, there, found, day)

    def rechoose_job(self, day: Today) -> None:
        """Staying abroad, a better-paid job open to them is taken."""
        rules, w = self.model.rules, self.worker
        new = self.take_job(w.location, day)
        if new != w.job and rules.pay(w, w.location, new, day) > rules.pay(w, w.location, w.job, day):
            self.set_job(new, day)

    def set_job(self, job: int, day: Today) -> None:
        rules, w = self.model.rules, self.worker
        w.savings = rules.savings_today(w, day)
        w.job, w.since = job, day.day
        w.income = rules.pay(w, w.location, job, day)

    def search_for_work(self, day: Today) -> None:
        """Without work (or paid less under a penalty tax), one in `job_search_days` of the chance a day."""
        model, w = self.model, self.worker
        days = model.behaviour.hazard.job_search_days
        if days <= 0 or not (w.job == NO_WORK or (w.job == REMOTE_RU and day.penalty_tax > 0)):
            return
        found = model.random.random() < model.rules.places[w.location].job_finding / days
        if found and model.rules.pay(w, w.location, FOREIGN, day) > model.rules.pay(w, w.location, w.job, day):
            self.set_job(FOREIGN, day)

    def apply_for_permit(self, day: Today) -> None:
        """On the deadline day a non-resident applies for a permit to stay on."""
        loc, w = self.model.locations, self.worker
        granted = self.model.random.random() < loc.permit_probability[w.location]
        term = int(loc.permit_days[w.location])
        w.deadline = day.day if not granted else (day.day + term if term > 0 else NEVER)


class MesaRelocationModel(mesa.Model):
    """The same world as `RelocationModel` (scenario, places, routes, policy timeline, population), with
    the workers as Mesa agents deciding one at a time."""

    def __init__(
        self, scenario: str | Path | Scenario = DEFAULT_SCENARIO, *, rng: int = 0, scale: float = 1.0, days: int = 0
    ) -> None:
        super().__init__(rng=rng)
        spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.scenario_spec = spec
        self.days = days or spec.days
        self.behaviour = spec.behaviour
        self.locations = build_locations(spec)
        self.routes = build_routes(spec, self.locations.codes)
        self.timeline = compile_timeline(spec, self.locations.codes)
        workers, firms = build_population(spec, scale, rng, self.locations.codes)
        factor = np.array([spec.population[s].local_wage_factor for s in SEGMENTS])
        state = State(workers, firms, self.locations, self.timeline, spec.behaviour, spec.firms, factor)
        self.rules = ReferenceRules(state)
        self.persons_per_agent = workers.persons_per_agent
        records = self.rules.workers_at(np.arange(len(workers)))
        for record, seg, military in zip(records, workers.segment.tolist(), workers.military_age.tolist(), strict=True):
            WorkerAgent(self, record, seg, military)
        n_loc = len(self.locations)
        self.stock = np.zeros((n_loc, len(SEGMENTS)), dtype=np.int64)
        self.stock[HOME] = np.bincount(workers.segment, minlength=len(SEGMENTS))
        self.circle_size = np.bincount(workers.circle).astype(np.float64)
        self.circle_at = np.zeros((len(self.circle_size), n_loc), dtype=np.int64)
        self.circle_at[:, HOME] = self.circle_size.astype(np.int64)
        self.departures = np.zeros((self.days, len(SEGMENTS)), dtype=np.int64)  # from Russia, agents a day
        self.air_demand = 0.0
        self.day = 0
        self.today = self.market(0)

    def market(self, t: int) -> Today:
        """Today as the agents see it: fares from yesterday's demand, rents, open routes, circles' shares."""
        loc, routes, tl, air = self.locations, self.routes, self.timeline, self.behaviour.airfares
        fare = 1.0
        if air.elasticity > 0 and self.air_demand > air.seats_per_day:
            fare = min(air.max_multiplier, (self.air_demand / air.seats_per_day) ** air.elasticity)
        persons = self.stock @ self.persons_per_agent
        newcomers = np.where(np.arange(len(loc)) == HOME, 0.0, persons / loc.housing_capacity)
        cost = loc.cost_of_living * (1.0 + loc.rent_elasticity * newcomers)
        n = len(loc)
        route, trip, best = np.full((n, n), -1), np.full((n, n), np.inf), np.full((n, n), np.inf)
        closed = np.zeros(len(routes), dtype=bool)
        vot = self.behaviour.utility.value_of_time_usd
        for r in range(len(routes)):
            o, d, mode = routes.origin[r], routes.destination[r], routes.mode[r]
            if (mode == AIR and (tl.airspace_closed[t, d] or tl.airspace_closed[t, o])) or (
                mode == LAND and (tl.border_closed[t, d] or tl.border_closed[t, o])
            ):
                closed[r] = True
                continue
            price = routes.cost[r] * (fare if (mode == AIR and o == HOME) else 1.0)
            if price + vot * routes.days[r] < best[o, d]:
                best[o, d], route[o, d], trip[o, d] = price + vot * routes.days[r], r, price
        diagonal = np.arange(n)
        route[diagonal, diagonal], trip[diagonal, diagonal] = n, 0.0
        share = self.circle_at / self.circle_size[:, None]
        wait = np.zeros((n, n))  # no land-border queues here
        self.air_demand = 0.0
        return self.rules.today(Market(t, fare, cost, loc.diaspora + persons, route, trip, wait, share, closed))

    def move(self, agent: WorkerAgent, dest: int, day: Today) -> None:
        """Move one agent today: savings less the trip, counters, job, residence and deadline."""
        w, rules, loc, t = agent.worker, self.rules, self.locations, day.day
        origin, seg = w.location, agent.segment
        savings = w.savings if origin == HOME else rules.savings_today(w, day)
        w.savings = savings - day.trip_cost[origin][dest]
        self.stock[origin, seg] -= 1
        self.stock[dest, seg] += 1
        self.circle_at[w.circle, origin] -= 1
        self.circle_at[w.circle, dest] += 1
        if origin == HOME:
            self.departures[t, seg] += 1
            if self.routes.mode[day.route[origin][dest]] == AIR:
                self.air_demand += float(self.persons_per_agent[seg])
        w.location, w.since, w.arrived = dest, t, t
        if dest == HOME:
            w.job, w.income, w.deadline = AT_HOME, w.wage, NEVER
            return
        w.job = agent.take_job(dest, day)
        w.income = rules.pay(w, dest, w.job, day)
        with_firm = w.job == RELOCATED  # their firm's office sees to their papers
        resident = self.random.random() < loc.residence_probability[dest] or with_firm
        limit = max(int(loc.stay_limit[dest]), int(self.timeline.stay_limit[t, dest]))
        term = int(loc.permit_days[dest])
        if not resident and limit > 0:
            w.deadline = t + limit
        else:
            w.deadline = t + term if resident and not with_firm and term > 0 else NEVER

    def step(self) -> None:
        self.today = self.market(self.day)
        self.agents.shuffle_do("step")
        self.day += 1
        self.running = self.day < self.days

    def departures_persons(self) -> int:
        """Departures from Russia so far, in persons."""
        return int((self.departures.sum(axis=0) * self.persons_per_agent).sum())

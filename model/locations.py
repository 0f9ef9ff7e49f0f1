"""Locations and the routes between them, as arrays indexed by location.

Russia is always index 0 (`HOME`); destinations follow in scenario order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exodus.model.scenario import Scenario

HOME = 0
ENTRY_KINDS = ("internal_passport", "international_passport", "visa", "closed")
AIR, LAND = 0, 1


@dataclass(frozen=True)
class Locations:
    codes: list[str]
    entry: np.ndarray  # index into ENTRY_KINDS
    cost_of_living: np.ndarray
    housing_capacity: np.ndarray
    rent_elasticity: np.ndarray
    wage_local: np.ndarray
    job_finding: np.ndarray
    income_tax_it: np.ndarray
    russian_language: np.ndarray
    diaspora: np.ndarray
    banking: np.ndarray
    wary: np.ndarray  # bool
    closed: np.ndarray  # bool: refuses Russians and their firms
    residence_probability: np.ndarray
    stay_limit: np.ndarray  # base visa-free stay, days (0: none)
    it_incentive: np.ndarray
    permit_probability: np.ndarray  # non-residents at the stay limit who get a permit
    permit_days: np.ndarray  # term of that permit, days (0: open-ended)
    renewal_probability: np.ndarray  # permit holders at the end of its term who get it renewed
    stepping_stone: np.ndarray  # bool: newcomers are in transit
    attraction: np.ndarray  # utility constant of the place

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class Routes:
    origin: np.ndarray
    destination: np.ndarray
    mode: np.ndarray  # AIR or LAND
    cost: np.ndarray  # USD one way at normal fares
    days: np.ndarray
    capacity: np.ndarray  # persons a day: a land border's crossings, a flight's seats (0: no limit)
    via: np.ndarray  # air: the hub of a connecting flight, -1 a direct one
    processing: np.ndarray  # mean days of a check before departure (0: none)
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)


def build_locations(scenario: Scenario) -> Locations:
    specs = scenario.locations
    codes = ["RU"] + [c for c in specs if c != "RU"]
    rows = [specs[c] for c in codes]

    def col(field: str, dtype: type = float) -> np.ndarray:
        return np.array([getattr(r, field) for r in rows], dtype=dtype)

    return Locations(
        codes=codes,
        entry=np.array([ENTRY_KINDS.index(r.entry) for r in rows]),
        cost_of_living=col("cost_of_living_usd"),
        housing_capacity=col("housing_capacity"),
        rent_elasticity=col("rent_elasticity"),
        wage_local=col("wage_local_usd"),
        job_finding=col("job_finding"),
        income_tax_it=col("income_tax_it"),
        russian_language=col("russian_language"),
        diaspora=col("diaspora_persons"),
        banking=col("banking"),
        wary=np.array([r.stance == "wary" for r in rows]),
        closed=np.array([r.stance == "closed" or r.entry == "closed" for r in rows]),
        residence_probability=col("residence_probability"),
        stay_limit=col("stay_limit_days"),
        it_incentive=col("it_incentive"),
        permit_probability=col("permit_probability"),
        permit_days=col("permit_days", int),
        renewal_probability=np.array(
            [r.permit_probability if r.renewal_probability is None else r.renewal_probability for r in rows]
        ),
        stepping_stone=col("stepping_stone", bool),
        attraction=col("attraction"),
    )


def build_routes(scenario: Scenario, codes: list[str]) -> Routes:
    live = {k: r for k, r in scenario.routes.items() if r.enabled}
    return Routes(
        origin=np.array([codes.index(r.origin) for r in live.values()], dtype=int),
        destination=np.array([codes.index(r.destination) for r in live.values()], dtype=int),
        mode=np.array([AIR if r.mode == "air" else LAND for r in live.values()], dtype=int),
        cost=np.array([r.cost_usd for r in live.values()]),
        days=np.array([r.days for r in live.values()]),
        capacity=np.array([r.capacity_per_day for r in live.values()]),
        processing=np.array([r.processing_days for r in live.values()]),
        via=np.array([codes.index(r.via) if r.via else -1 for r in live.values()], dtype=int),
        names=list(live),
    )

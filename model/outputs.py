"""What a run records each day, and how it is written as tables.

Counts are kept in agents while the model runs and turned into persons
(agents x persons per agent, a whole number) when written, so stocks over
all locations add up exactly to each segment's population.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from exodus.model.population import JOB_STATUS, SEGMENTS


class TaxTerm(IntEnum):
    """Russia's tax terms, the last axis of `Tally.tax`: index it by name (`tax[..., TaxTerm.PENALTY_TAX]`).

    What Russia collects comes first, then what it loses (taxes it would have had, were the workers paid at
    home), from `LOST_TO_GREY_PAY` on: a term added before it counts as collected, one after it as lost.
    """

    INCOME_TAX = 0
    INSURANCE_PREMIUMS = 1
    PENALTY_TAX = 2
    LOST_TO_GREY_PAY = 3
    LOST_TO_FOREIGN_EMPLOYERS = 4
    LOST_TO_NO_WORK = 5


TAX_TERMS = tuple(term.name.lower() for term in TaxTerm)  # the names in the tables and reporters
TAX_COLLECTED = slice(TaxTerm.INCOME_TAX, TaxTerm.LOST_TO_GREY_PAY)  # income tax, premiums and penalty tax
TAX_LOST = slice(TaxTerm.LOST_TO_GREY_PAY, len(TaxTerm))  # lost to grey pay, foreign employers and no work


@dataclass
class Tally:
    """Daily records, [day, location, segment] unless said otherwise."""

    days: int
    n_loc: int
    n_routes: int
    stock: np.ndarray = field(init=False)
    arrivals: np.ndarray = field(init=False)
    departures: np.ndarray = field(init=False)
    onward: np.ndarray = field(init=False)  # departures from a destination to another
    residents: np.ndarray = field(init=False)  # abroad with residence (a permit, citizenship, a firm's papers)
    queue: np.ndarray = field(init=False)  # [day, route] persons waiting at the end of the day
    jobs: np.ndarray = field(init=False)  # [day, segment, job status] agents (at_home included)
    firm_relocations: np.ndarray = field(init=False)  # [day, loc] firms
    tax: np.ndarray = field(init=False)  # [day, segment, term] USD, everyone
    tax_abroad: np.ndarray = field(init=False)  # [day, segment, term] USD, the part of people abroad
    fare: np.ndarray = field(init=False)  # [day] air fare multiplier

    def __post_init__(self) -> None:
        shape = (self.days, self.n_loc, len(SEGMENTS))
        self.stock = np.zeros(shape, dtype=np.int64)
        self.arrivals = np.zeros(shape, dtype=np.int64)
        self.departures = np.zeros(shape, dtype=np.int64)
        self.onward = np.zeros(shape, dtype=np.int64)
        self.residents = np.zeros(shape, dtype=np.int64)
        self.queue = np.zeros((self.days, self.n_routes), dtype=np.int64)
        self.jobs = np.zeros((self.days, len(SEGMENTS), len(JOB_STATUS)), dtype=np.int64)
        self.firm_relocations = np.zeros((self.days, self.n_loc), dtype=np.int64)
        self.tax = np.zeros((self.days, len(SEGMENTS), len(TAX_TERMS)))
        self.tax_abroad = np.zeros((self.days, len(SEGMENTS), len(TAX_TERMS)))
        self.fare = np.ones(self.days)


def _table(header: list[str], rows: list[list[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def daily_table(tally: Tally, dates: list[str], codes: list[str], per_agent: np.ndarray) -> str:
    """`daily.csv`: one row per date, location and segment, in persons."""
    header = ["date", "location", "segment", "stock", "arrivals", "departures", "returns", "onward", "residents"]
    rows: list[list[object]] = []
    for t, date in enumerate(dates):
        for j, code in enumerate(codes):
            for s, seg in enumerate(SEGMENTS):
                k = int(per_agent[s])
                returns = tally.arrivals[t, 0, s] if j == 0 else 0
                rows.append(
                    [
                        date,
                        code,
                        seg,
                        int(tally.stock[t, j, s]) * k,
                        int(tally.arrivals[t, j, s]) * k,
                        int(tally.departures[t, j, s]) * k,
                        int(returns) * k,
                        int(tally.onward[t, j, s]) * k,
                        int(tally.residents[t, j, s]) * k if j else 0,
                    ]
                )
    return _table(header, rows)


def jobs_table(tally: Tally, dates: list[str], per_agent: np.ndarray) -> str:
    header = ["date", "segment", *JOB_STATUS[1:]]
    rows = [
        [date, seg, *(int(x) * int(per_agent[s]) for x in tally.jobs[t, s, 1:])]
        for t, date in enumerate(dates)
        for s, seg in enumerate(SEGMENTS)
    ]
    return _table(header, rows)


def queues_table(tally: Tally, dates: list[str], route_names: list[str]) -> str:
    header = ["date", *route_names, "air_fare_multiplier"]
    rows = [[date, *(int(x) for x in tally.queue[t]), f"{tally.fare[t]:.4f}"] for t, date in enumerate(dates)]
    return _table(header, rows)


def firms_table(tally: Tally, dates: list[str], codes: list[str]) -> str:
    header = ["date", *codes[1:]]
    rows = [[date, *(int(x) for x in tally.firm_relocations[t, 1:])] for t, date in enumerate(dates)]
    return _table(header, rows)


RESIDENCE = ("home", "abroad")


def tax_table(tally: Tally, dates: list[str]) -> str:
    """`tax.csv`: one row per date, segment and where the taxpayer lives (`home`, `abroad`), USD a day."""
    header = ["date", "segment", "residence", *(f"{term}_usd" for term in TAX_TERMS)]
    home = tally.tax - tally.tax_abroad
    rows = [
        [date, seg, where, *(f"{x:.2f}" for x in part[t, s])]
        for t, date in enumerate(dates)
        for s, seg in enumerate(SEGMENTS)
        for where, part in zip(RESIDENCE, (home, tally.tax_abroad), strict=True)
    ]
    return _table(header, rows)

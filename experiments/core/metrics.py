"""Summary metrics of one run, by name: what batches, sweeps and sensitivity record.

A metric is a function of a finished model returning one number. Names
carry their arguments, so a sweep file can ask for
`cumulative_departures:it:2022-12-31` or `stock:GE:all:2023-06-30`.

| name | arguments | meaning (persons unless said) |
|---|---|---|
| `cumulative_departures` | segment, date | departures from Russia from day 0 to date |
| `departures` | segment, first date, last date | departures from Russia in the window |
| `stock_abroad` | segment, date | abroad on date |
| `stock` | location, segment, date | at a location on date |
| `arrivals` | location, segment, first, last | arrivals at a location in the window |
| `returns` | segment, date | returns to Russia from day 0 to date |
| `onward` | segment, date | moves between destinations from day 0 to date |
| `tax_take` | segment, date | Russia's income tax, premiums and penalty tax, USD, day 0 to date |
| `tax_lost` | segment, date | taxes lost to grey pay, foreign employers and no work, USD |
| `jobs` | status, segment, date | abroad in a job status on date |
| `firm_relocations` | date | firms relocated from day 0 to date |

Segment is `it`, `other` or `all`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from exodus.model import RelocationModel
from exodus.model.outputs import TAX_COLLECTED, TAX_LOST
from exodus.model.population import JOB_STATUS

SEGMENT_INDEX = {"it": [0], "other": [1], "all": [0, 1]}


class MetricError(ValueError):
    """A metric name that cannot be read or does not fit the run."""


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    args: tuple[str, ...]


def parse(name: str) -> Metric:
    kind, *args = name.split(":")
    if kind not in _METRICS:
        raise MetricError(f"metric {name!r}: unknown kind {kind!r}; expected one of {sorted(_METRICS)}")
    arity = _METRICS[kind][0]
    if len(args) != arity:
        raise MetricError(f"metric {name!r}: {kind} takes {arity} argument(s) separated by ':', got {len(args)}")
    return Metric(name, kind, tuple(args))


def check_names(names: Sequence[str]) -> list[str]:
    """Metric names as a design file gives them: each readable, none twice (a pydantic field validator)."""
    for name in names:
        try:
            parse(name)
        except MetricError as err:
            raise ValueError(str(err)) from None
    if len(set(names)) != len(names):
        raise ValueError("expected each metric once")
    return list(names)


def _day(model: RelocationModel, text: str) -> int:
    try:
        day = (dt.date.fromisoformat(text) - model.scenario.start).days
    except ValueError:
        raise MetricError(f"date {text!r}: expected YYYY-MM-DD") from None
    if not 0 <= day < model.scenario.days:
        raise MetricError(f"date {text}: outside the run ({model.scenario.start} + {model.scenario.days} days)")
    return day


def _segments(text: str) -> list[int]:
    if text not in SEGMENT_INDEX:
        raise MetricError(f"segment {text!r}: expected one of {sorted(SEGMENT_INDEX)}")
    return SEGMENT_INDEX[text]


def _loc(model: RelocationModel, code: str) -> int:
    if code not in model.codes:
        raise MetricError(f"location {code!r}: expected one of {model.codes}")
    return model.codes.index(code)


def _persons(model: RelocationModel, counts: np.ndarray, segs: list[int]) -> float:
    """Sum agent counts [..., segment] over the segments, in persons."""
    return float((counts[..., segs] * model.workers.persons_per_agent[segs]).sum())


def _cumulative_departures(m: RelocationModel, seg: str, date: str) -> float:
    return _persons(m, m.tally.departures[: _day(m, date) + 1, 0], _segments(seg))


def _departures(m: RelocationModel, seg: str, first: str, last: str) -> float:
    return _persons(m, m.tally.departures[_day(m, first) : _day(m, last) + 1, 0], _segments(seg))


def _stock_abroad(m: RelocationModel, seg: str, date: str) -> float:
    return _persons(m, m.tally.stock[_day(m, date), 1:], _segments(seg))


def _stock(m: RelocationModel, loc: str, seg: str, date: str) -> float:
    return _persons(m, m.tally.stock[_day(m, date), _loc(m, loc)], _segments(seg))


def _arrivals(m: RelocationModel, loc: str, seg: str, first: str, last: str) -> float:
    return _persons(m, m.tally.arrivals[_day(m, first) : _day(m, last) + 1, _loc(m, loc)], _segments(seg))


def _returns(m: RelocationModel, seg: str, date: str) -> float:
    return _persons(m, m.tally.arrivals[: _day(m, date) + 1, 0], _segments(seg))


def _onward(m: RelocationModel, seg: str, date: str) -> float:
    return _persons(m, m.tally.onward[: _day(m, date) + 1].sum(axis=1), _segments(seg))


def _tax_take(m: RelocationModel, seg: str, date: str) -> float:
    return float(m.tally.tax[: _day(m, date) + 1, _segments(seg), TAX_COLLECTED].sum())


def _tax_lost(m: RelocationModel, seg: str, date: str) -> float:
    return float(m.tally.tax[: _day(m, date) + 1, _segments(seg), TAX_LOST].sum())


def _jobs(m: RelocationModel, status: str, seg: str, date: str) -> float:
    if status not in JOB_STATUS[1:]:
        raise MetricError(f"job status {status!r}: expected one of {list(JOB_STATUS[1:])}")
    return _persons(m, m.tally.jobs[_day(m, date), :, JOB_STATUS.index(status)], _segments(seg))


def _firm_relocations(m: RelocationModel, date: str) -> float:
    return float(m.tally.firm_relocations[: _day(m, date) + 1].sum())


_METRICS: dict[str, tuple[int, Callable[..., float]]] = {
    "cumulative_departures": (2, _cumulative_departures),
    "departures": (3, _departures),
    "stock_abroad": (2, _stock_abroad),
    "stock": (3, _stock),
    "arrivals": (4, _arrivals),
    "returns": (2, _returns),
    "onward": (2, _onward),
    "tax_take": (2, _tax_take),
    "tax_lost": (2, _tax_lost),
    "jobs": (3, _jobs),
    "firm_relocations": (1, _firm_relocations),
}


def evaluate(model: RelocationModel, names: Sequence[str]) -> dict[str, float]:
    """Each named metric of a finished run."""
    out = {}
    for name in names:
        metric = parse(name)
        out[name] = _METRICS[metric.kind][1](model, *metric.args)
    return out

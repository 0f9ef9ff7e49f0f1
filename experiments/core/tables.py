"""Read back the tables a run wrote.

Plots and batch summaries start from the files on disk, not from a live
model, so that a run can be looked at again without re-running it. numpy
and csv only: the project does not depend on pandas.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DAILY_COLUMNS = ("stock", "arrivals", "departures", "returns", "onward")


@dataclass(frozen=True)
class Daily:
    """`daily.csv` as arrays: each column is [date, location, segment], in persons."""

    dates: np.ndarray  # datetime64[D]
    locations: list[str]
    segments: list[str]
    columns: dict[str, np.ndarray]

    def series(self, column: str, location: str | None = None, segment: str | None = None) -> np.ndarray:
        """A daily series, summed over all locations or segments when one is not named."""
        values = self.columns[column]
        values = values.sum(axis=1) if location is None else values[:, self.locations.index(location)]
        return values.sum(axis=1) if segment is None else values[:, self.segments.index(segment)]

    def day_of(self, date: dt.date) -> int:
        """Index of `date` in the run (may be out of range: callers check)."""
        return int((np.datetime64(date, "D") - self.dates[0]).astype(int))


def read_daily(path: str | Path) -> Daily:
    """Parse `daily.csv` without assuming its row order."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no rows")
    dates = sorted({r["date"] for r in rows})
    locations = list(dict.fromkeys(r["location"] for r in rows))
    segments = list(dict.fromkeys(r["segment"] for r in rows))
    t_of = {d: i for i, d in enumerate(dates)}
    j_of = {c: i for i, c in enumerate(locations)}
    s_of = {s: i for i, s in enumerate(segments)}
    shape = (len(dates), len(locations), len(segments))
    columns = {name: np.zeros(shape, dtype=np.int64) for name in DAILY_COLUMNS}
    for r in rows:
        key = (t_of[r["date"]], j_of[r["location"]], s_of[r["segment"]])
        for name in DAILY_COLUMNS:
            columns[name][key] = int(r[name])
    return Daily(np.array(dates, dtype="datetime64[D]"), locations, segments, columns)

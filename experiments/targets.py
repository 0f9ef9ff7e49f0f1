"""Calibration targets: reported figures as data, and the model's counterpart.

A targets file is a CSV, one row a reported figure: who is counted
(`segment`: `it`, `other` or `all`), what is counted (`measure`:
`gross_departures` in the window, returns not deducted, or `stock_abroad`
on `date_end`), the window, the reported value, the range we accept
(`low`, `high`), a calibration `weight` (0: draw it, do not fit to it) and
its `source`. An optional `location` column narrows a figure to one
destination: arrivals there in the window, or the stock there on
`date_end` (another country's border statistics, say); `EU+FI` sums several
destinations. Users add rows or files; no code changes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEGMENTS = {"it": (0,), "other": (1,), "all": (0, 1)}
MEASURES = ("gross_departures", "stock_abroad")
REQUIRED = ("id", "segment", "measure", "date_start", "date_end", "value", "low", "high", "weight", "source")


class TargetsError(ValueError):
    """A targets file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Target:
    id: str
    segment: str
    measure: str
    date_start: dt.date
    date_end: dt.date
    value: float
    low: float
    high: float
    weight: float
    source: str
    location: str = ""
    kind: str = ""
    note: str = ""

    def model_value(self, tally: object, start: dt.date, per_agent: np.ndarray, codes: list[str]) -> float:
        """The model's figure for this target, in persons, from a run's tally."""
        segs = list(SEGMENTS[self.segment])
        first = (self.date_start - start).days
        last = (self.date_end - start).days
        weights = per_agent[segs]
        places = [codes.index(code) for code in self.places]
        if self.measure == "gross_departures":
            if places:
                counts = tally.arrivals[first : last + 1][:, places][:, :, segs]  # type: ignore[attr-defined]
            else:
                counts = tally.departures[first : last + 1, 0][:, segs]  # type: ignore[attr-defined]
            return float((counts * weights).sum())
        stock = tally.stock[last][:, segs]  # type: ignore[attr-defined]
        if places:
            return float((stock[places] * weights).sum())
        return float((stock[1:] * weights).sum())

    @property
    def places(self) -> list[str]:
        """The location codes a figure counts (`EU+FI`: both); none for all of abroad."""
        return [code.strip() for code in self.location.split("+")] if self.location else []

    def miss(self, model: float) -> float:
        """How far a model figure falls outside the accepted range, relative to the reported value."""
        return max(0.0, self.low - model, model - self.high) / self.value


def _field(path: Path, line: int, row: dict[str, str], name: str, parse: type, what: str) -> object:
    text = (row.get(name) or "").strip()
    try:
        return parse(text)
    except ValueError:
        raise TargetsError(f"{path}, line {line}: field {name}: expected {what}, got {text!r}") from None


def load_targets(
    path: str | Path, start: dt.date | None = None, days: int | None = None, codes: Collection[str] | None = None
) -> list[Target]:
    """Read and check a targets file; with `start`/`days`, also check windows fall in the run; with `codes` (the
    scenario's locations), that every location a figure names is one of them."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TargetsError(f"{path}: targets file not found") from None
    except IsADirectoryError:
        raise TargetsError(f"{path}: expected a targets file (CSV), got a folder") from None
    except UnicodeDecodeError as err:
        raise TargetsError(f"{path}: expected a CSV file in UTF-8, got undecodable bytes at {err.start}") from None
    if "\0" in text:
        raise TargetsError(f"{path}: expected a CSV file, got a binary file (NUL bytes)")
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise TargetsError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(REQUIRED)}")
        targets = []
        for line, row in enumerate(reader, start=2):
            segment = (row.get("segment") or "").strip()
            if segment not in SEGMENTS:
                expected = f"one of {list(SEGMENTS)}"
                raise TargetsError(f"{path}, line {line}: field segment: expected {expected}, got {segment!r}")
            measure = (row.get("measure") or "").strip()
            if measure not in MEASURES:
                expected = f"one of {list(MEASURES)}"
                raise TargetsError(f"{path}, line {line}: field measure: expected {expected}, got {measure!r}")
            date = dt.date.fromisoformat
            target = Target(
                id=(row.get("id") or "").strip(),
                segment=segment,
                measure=measure,
                date_start=_field(path, line, row, "date_start", date, "a date YYYY-MM-DD"),  # type: ignore[arg-type]
                date_end=_field(path, line, row, "date_end", date, "a date YYYY-MM-DD"),  # type: ignore[arg-type]
                value=_field(path, line, row, "value", float, "a number"),  # type: ignore[arg-type]
                low=_field(path, line, row, "low", float, "a number"),  # type: ignore[arg-type]
                high=_field(path, line, row, "high", float, "a number"),  # type: ignore[arg-type]
                weight=_field(path, line, row, "weight", float, "a number >= 0"),  # type: ignore[arg-type]
                source=(row.get("source") or "").strip(),
                location=(row.get("location") or "").strip(),
                kind=(row.get("kind") or "").strip(),
                note=(row.get("quote_or_note") or "").strip(),
            )
            if not target.id:
                raise TargetsError(f"{path}, line {line}: field id: expected a name for the figure")
            if target.date_end < target.date_start:
                raise TargetsError(f"{path}, line {line}: field date_end: expected on or after date_start")
            if not (target.value > 0 and target.low <= target.value <= target.high):
                raise TargetsError(f"{path}, line {line}: fields low/value/high: expected 0 < low <= value <= high")
            for name in ("value", "low", "high", "weight"):
                if not math.isfinite(getattr(target, name)):
                    raise TargetsError(
                        f"{path}, line {line}: field {name}: expected a finite number, got {getattr(target, name)!r}"
                    )
            if target.weight < 0:
                raise TargetsError(f"{path}, line {line}: field weight: expected a number >= 0")
            if codes is not None:
                for code in target.places:
                    if code not in codes:
                        raise TargetsError(
                            f"{path}, line {line}: field location: expected a location of the scenario "
                            f"({', '.join(sorted(codes))}; several joined by '+'), got {code!r}"
                        )
            if start is not None and days is not None:
                first, last = (target.date_start - start).days, (target.date_end - start).days
                if first < 0 or last >= days:
                    raise TargetsError(
                        f"{path}, line {line}: fields date_start/date_end: expected within the run "
                        f"({start} + {days} days), got {target.date_start}..{target.date_end}"
                    )
            targets.append(target)
    ids = [t.id for t in targets]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise TargetsError(f"{path}: field id: expected unique ids, repeated: {', '.join(duplicated)}")
    return targets


def targets_path(scenario_file: str | Path, targets: str) -> Path:
    """A scenario's targets file, relative to the folder of the scenario that names it."""
    candidate = Path(targets)
    if candidate.is_absolute():
        return candidate
    return (Path(scenario_file).resolve().parent / candidate).resolve()

"""Calibration targets: reported figures as data, and the model's counterpart.

A targets file is a CSV, one row a reported figure: who is counted
(`segment`: `it`, `other` or `all`), what is counted (`measure`, below), the
window, the reported value, the range we accept (`low`, `high`), a
calibration `weight` (0: draw it, do not fit to it) and its `source`.
Optional columns: `location` narrows a figure to a destination, or to a sum
of several (`EU+FI`); `role` is `fit` (the default) or `holdout` (never
shown to the calibration, reported apart as out-of-sample skill);
`reasoning` says how the reported figure became this model quantity.

Measures, each in persons unless said otherwise:

- `gross_departures`: departures from Russia in the window, returns not
  deducted (with a location: arrivals there, as `arrivals`);
- `arrivals`: persons entering the location in the window, from Russia or
  onward from another destination;
- `stock_abroad`: persons present on `date_end`, abroad or at the location;
- `stock_change`: the stock on `date_end` less the stock the day before
  `date_start`: the net of a border count, in minus out, for which ordinary
  travel (which the model does not simulate) cancels;
- `residents`: persons abroad holding residence on `date_end` (a permit,
  citizenship, their firm's papers), at the location or abroad: a register
  of permits held, not of persons present;
- `residents_change`: that register on `date_end` less the day before
  `date_start`;
- `share_returned`: returns to Russia over departures from Russia in the
  window, a fraction (a share of trips, close to one of persons).

Users add rows or files; no code changes.
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
MEASURES = (
    "gross_departures",
    "arrivals",
    "stock_abroad",
    "stock_change",
    "residents",
    "residents_change",
    "share_returned",
)
ROLES = ("fit", "holdout")
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
    role: str = "fit"
    reasoning: str = ""

    @property
    def fitted(self) -> bool:
        """Does the calibration fit to it? Held-out and weight-0 figures are only compared."""
        return self.weight > 0 and self.role == "fit"

    @property
    def places(self) -> list[str]:
        """The location codes the figure sums over (none: all of abroad, or Russia's border)."""
        return [c.strip() for c in self.location.split("+") if c.strip()]

    def model_value(self, tally: object, start: dt.date, per_agent: np.ndarray, codes: list[str]) -> float:
        """The model's figure for this target (persons, or a fraction for shares), from a run's tally."""
        segs = list(SEGMENTS[self.segment])
        first = (self.date_start - start).days
        last = (self.date_end - start).days
        weights = per_agent[segs]
        where = [codes.index(c) for c in self.places] or list(range(1, len(codes)))

        def persons(counts: np.ndarray) -> float:  # [..., segment] agents -> persons
            return float((counts[..., segs] * weights).sum())

        if self.measure == "share_returned":
            left = persons(tally.departures[first : last + 1, 0])  # type: ignore[attr-defined]
            back = persons(tally.arrivals[first : last + 1, 0])  # type: ignore[attr-defined]
            return back / left if left > 0 else 0.0
        if self.measure == "arrivals" or (self.measure == "gross_departures" and self.places):
            return persons(tally.arrivals[first : last + 1][:, where])  # type: ignore[attr-defined]
        if self.measure == "gross_departures":
            return persons(tally.departures[first : last + 1, 0])  # type: ignore[attr-defined]
        held = tally.residents if self.measure.startswith("residents") else tally.stock  # type: ignore[attr-defined]
        stock = persons(held[last][where])
        if self.measure.endswith("_change"):
            return stock - (persons(held[first - 1][where]) if first > 0 else 0.0)
        return stock

    def miss(self, model: float) -> float:
        """How far a model figure falls outside the accepted range, relative to the reported value."""
        return max(0.0, self.low - model, model - self.high) / abs(self.value)

    def relative_difference(self, model: float) -> float:
        """|model - reported| / |reported|: the terms of the averaged relative difference."""
        return abs(model - self.value) / abs(self.value)


def _field(path: Path, line: int, row: dict[str, str], name: str, parse: type, what: str) -> object:
    text = (row.get(name) or "").strip()
    try:
        return parse(text)
    except ValueError:
        raise TargetsError(f"{path}, line {line}: field {name}: expected {what}, got {text!r}") from None


def _nul_at(text: str) -> str:
    """Where the first NUL byte of a CSV text is: ", line N: field NAME" (or the header's line), for the message."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    for row in reader:
        header = header or row
        for k, cell in enumerate(row):
            if "\0" in cell:
                name = header[k] if reader.line_num > 1 and k < len(header) else "(header)"
                return f", line {reader.line_num}: field {name}"
    return ""


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
        raise TargetsError(f"{path}{_nul_at(text)}: expected a CSV file, got a binary file (NUL bytes)")
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
                role=(row.get("role") or "").strip() or "fit",
                reasoning=(row.get("reasoning") or "").strip(),
            )
            if target.role not in ROLES:
                raise TargetsError(
                    f"{path}, line {line}: field role: expected one of {list(ROLES)}, got {target.role!r}"
                )
            if target.measure == "arrivals" and not target.places:
                raise TargetsError(f"{path}, line {line}: field location: expected a location for measure arrivals")
            if not target.id:
                raise TargetsError(f"{path}, line {line}: field id: expected a name for the figure")
            if target.date_end < target.date_start:
                raise TargetsError(f"{path}, line {line}: field date_end: expected on or after date_start")
            for name in ("value", "low", "high", "weight"):
                if not math.isfinite(getattr(target, name)):
                    raise TargetsError(
                        f"{path}, line {line}: field {name}: expected a finite number, got {getattr(target, name)!r}"
                    )
            if not (target.value != 0 and target.low <= target.value <= target.high):
                raise TargetsError(
                    f"{path}, line {line}: fields low/value/high: expected low <= value <= high, value != 0"
                )
            if not target.measure.endswith("_change") and target.low < 0:
                raise TargetsError(
                    f"{path}, line {line}: field low: expected >= 0 (only a stock change can be negative)"
                )
            if target.measure == "share_returned" and target.high > 1:
                raise TargetsError(f"{path}, line {line}: field high: expected a share <= 1 for share_returned")
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


def scenario_targets(
    scenario_file: str | Path,
    targets: str,
    start: dt.date | None = None,
    days: int | None = None,
    codes: Collection[str] | None = None,
) -> tuple[Path, list[Target]]:
    """The targets file a scenario names (`scenario.targets`), read and checked. A file that is missing, a folder or
    not a targets file at all is the scenario's mistake: ScenarioError names the scenario file and the field. A
    mistake inside the file is the file's: TargetsError names its line and field."""
    from exodus.model.scenario import ScenarioError

    path = targets_path(scenario_file, targets)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "not found"
        raise ScenarioError(f"{scenario_file}: field scenario.targets: expected a targets file (CSV), {path} {what}")
    try:
        return path, load_targets(path, start, days, codes)
    except TargetsError as err:
        if str(err).startswith(f"{path}: ") and "field " not in str(err):  # about the file as a whole
            raise ScenarioError(f"{scenario_file}: field scenario.targets: {err}") from None
        raise


def targets_path(scenario_file: str | Path, targets: str) -> Path:
    """A scenario's targets file, relative to the folder of the scenario that names it."""
    candidate = Path(targets)
    if candidate.is_absolute():
        return candidate
    return (Path(scenario_file).resolve().parent / candidate).resolve()

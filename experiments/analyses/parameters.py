"""The bounded parameter: a scenario field that an analysis moves between two bounds, possibly on a log scale.

One type for the calibration's free parameters, the sensitivity design's
parameters and the sweep file's sampled parameters. It extends the scenario
schema's `Bounds` (what a scenario's [free_parameters] declare), so one rule
with one message checks the bounds of all three files; a design file's
[parameters.*] are `Bounds` with a label, a sweep file's [[parameter]] apply
the same rule to their optional bounds.

One mapping, the search space: the value itself, or its log10 for a log
parameter. Optimisers and SALib's samplers work there (`bounds`, `value`,
`space`); a design in [0, 1]^d, a sweep file's or a sensitivity design's, is
scaled onto it linearly as SALib scales its samples (`space_from_unit`), so a
log parameter is sampled uniformly in log(value) (`from_unit`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from exodus.model.scenario import Bounds, ScenarioError, get_path


class Bounded(Bounds):
    """A dotted scenario path with bounds; `log`: searched and sampled in log space; `integer`: rounded values."""

    path: str
    integer: bool = False
    label: str = ""  # a short name for figures

    @property
    def bounds(self) -> list[float]:
        """The bounds in search space (log10 for a log parameter)."""
        if self.log:
            return [math.log10(self.low), math.log10(self.high)]
        return [self.low, self.high]

    def value(self, x: float, clip: bool = True) -> Any:
        """A point of the search space in the scenario's units; `clip`: kept inside the bounds, which floating
        point can step out of."""
        v = 10.0**x if self.log else float(x)
        if clip:
            v = min(max(v, self.low), self.high)
        return round(v) if self.integer else v

    def space(self, value: float) -> float:
        """A value in the scenario's units as a point of the search space, clipped into the bounds (the inverse
        of `value`)."""
        v = min(max(float(value), self.low), self.high)
        return math.log10(v) if self.log else v

    def space_from_unit(self, u: np.ndarray) -> np.ndarray:
        """Points of [0, 1] in search space, as SALib scales its samples (u * (high - low) + low)."""
        low, high = self.bounds
        return np.add(np.multiply(u, high - low), low)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Points of [0, 1] in the scenario's units: a design's columns, through the search space."""
        return [self.value(float(x)) for x in self.space_from_unit(u)]


def scenario_field(tables: dict[str, Any], path: str, where: str, scenario_name: str, error: type[Exception]) -> Any:
    """The value at the dotted `path` of a scenario's tables, where a design file or a sweep file moves a
    parameter; `error`, naming `where`, when the path names no field there (nothing, or a whole table)."""
    try:
        current = get_path(tables, path)
    except ScenarioError:
        current = None
    if current is None or isinstance(current, dict):
        what = "a table" if isinstance(current, dict) else "not a field"
        raise error(
            f"{where}: {path!r} is {what} of {scenario_name}; expected the dotted path of a field such as "
            "behaviour.hazard.alarm"
        )
    return current

"""The bounded parameter: a scenario field that an analysis moves between two bounds, possibly on a log scale.

One type for the calibration's free parameters, the sensitivity design's
parameters and the sweep file's sampled parameters. The files that declare
them (a scenario's [free_parameters], a design file's [parameters.*], a sweep
file's [[parameter]]) keep their own schemas and messages; what they declare
becomes a `Bounded`.

Two spaces:

- the search space, where optimisers and SALib's samplers work: the value
  itself, or its log10 for a log parameter (`bounds`, `value`, `space_from_unit`);
- the unit interval of a sweep file's design, mapped onto the bounds linearly
  or uniformly in log(value) (`from_unit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Bounded:
    """A dotted scenario path with bounds; `log`: searched and sampled in log space; `integer`: rounded values."""

    path: str
    low: float
    high: float
    log: bool = False
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
        """Points of [0, 1] onto the bounds: linearly, or uniformly in log(value) (a sweep file's designs)."""
        if self.log:
            values = np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            values = self.low + u * (self.high - self.low)
        if self.integer:
            return [round(float(v)) for v in values]
        return [float(v) for v in values]

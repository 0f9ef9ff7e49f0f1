"""The policy timeline: dated events compiled into one array per lever.

Governments enter the model only through these arrays (Russia's and the
destinations'), so a counterfactual that disables or moves an event changes
exactly the levers the event pulls, on exactly the days it covers.

Every kind of event is one entry of `POLICY_KINDS`: the lever (timeline array)
it fills, whether it acts on places or on Russia as a whole, how overlapping
events combine and the range of its level. The scenario validates events
against it and `compile_timeline` builds the arrays from it, so a new kind is
one `register(PolicyKind(...))` plus the code that reads its lever
(`timeline.<lever>[day]`, in the rule or the model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from exodus.model.scenario import PolicyEvent, Scenario

ALARM = "alarm"  # the lever every event with `half_life_days` adds its decaying news shock to


@dataclass(frozen=True)
class PolicyKind:
    """One kind of policy event and what it compiles to."""

    name: str  # the scenario's `kind`
    lever: str | None  # the timeline array it fills; None: none but the news shock of `half_life_days`
    per_location: bool = False  # [day, location] for the events' `locations`; else [day], Russia as a whole
    combine: Literal["sum", "max", "last"] = "sum"  # overlapping events: added, the largest, the last listed
    bounds: tuple[float, float] = (0.0, math.inf)  # the range of `level`
    clip: bool = False  # the combined lever is clipped to `bounds` (overlapping shares add up to at most 1)
    switch: bool = False  # a yes/no lever (bool array): an event sets it, whatever its level
    empty: float = 0.0  # the lever on days without an event (NaN: the model's default applies)

    @property
    def share(self) -> bool:
        return self.bounds == (0.0, 1.0)


POLICY_KINDS: dict[str, PolicyKind] = {}


def register(kind: PolicyKind) -> PolicyKind:
    """Add a kind of event (or replace one of the same name). Kinds filling one lever must agree on its shape."""
    for other in POLICY_KINDS.values():
        shared = other.name != kind.name and kind.lever is not None and other.lever == kind.lever
        if shared and _shape(other) != _shape(kind):
            raise ValueError(f"policy kind {kind.name}: lever {kind.lever} has another shape in {other.name}")
    POLICY_KINDS[kind.name] = kind
    return kind


def _shape(kind: PolicyKind) -> tuple[bool, bool, str]:
    return kind.per_location, kind.switch, repr(kind.empty)


SHARE = (0.0, 1.0)
for _kind in (
    PolicyKind("shock", None),  # news only: its `half_life_days` shock on `alarm`
    PolicyKind("mobilisation", "mobilisation"),  # intensity of the call-up for reservists
    PolicyKind("it_deferment", "deferment", bounds=SHARE, clip=True),  # share of the call-up risk deferred
    PolicyKind("it_tax_break", "it_tax_break"),  # value of Russian IT benefits for staying
    PolicyKind("sanctions", "sanctions"),  # level of sanctions pressure on firms
    PolicyKind("airspace_closed", "airspace_closed", per_location=True, combine="max", switch=True),
    PolicyKind("entry_ban", "entry_ban", per_location=True, combine="max", switch=True),  # Russians refused
    PolicyKind("border_closed", "border_closed", per_location=True, combine="max", switch=True),  # land border
    PolicyKind("exit_ban_military_age", "exit_ban_military_age", bounds=SHARE, clip=True),  # men stopped at exit
    PolicyKind("penalty_tax", "penalty_tax", bounds=SHARE),  # extra tax on relocators working remotely
    PolicyKind("remote_work_tax", "remote_work_tax", combine="last", bounds=SHARE, empty=math.nan),  # from abroad
    PolicyKind("stay_limit", "stay_limit", per_location=True, combine="last"),  # days non-residents may stay
    PolicyKind("destination_incentive", "incentive", per_location=True),  # on top of the places' own
    PolicyKind("permit_refusals", "permit_refusals", per_location=True, bounds=SHARE, clip=True),  # share refused
    PolicyKind("repression", "repression"),  # risk for the openly opposed
):
    register(_kind)


class Timeline:
    """Per-day policy levers, one array per lever: `timeline.<lever>`, indexed [day] or [day, location]."""

    def __init__(self, levers: dict[str, np.ndarray]) -> None:
        self.levers = levers

    def __getattr__(self, name: str) -> np.ndarray:
        levers = self.__dict__.get("levers", {})
        if name not in levers:
            raise AttributeError(f"the timeline has no lever {name!r}; levers: {sorted(levers)}")
        return levers[name]

    @property
    def days(self) -> int:
        return len(self.levers[ALARM])


def _span(event: PolicyEvent, scenario: Scenario) -> slice:
    first = max(0, scenario.day_of(event.date))
    last = scenario.days if event.until is None else min(scenario.days, scenario.day_of(event.until))
    return slice(first, max(first, last))


def empty_levers(days: int, n_loc: int) -> dict[str, np.ndarray]:
    """Every lever the registered kinds fill, on days without an event."""
    levers = {ALARM: np.zeros(days)}
    for kind in POLICY_KINDS.values():
        if kind.lever is not None and kind.lever not in levers:
            shape = (days, n_loc) if kind.per_location else (days,)
            levers[kind.lever] = np.zeros(shape, dtype=bool) if kind.switch else np.full(shape, kind.empty)
    return levers


def compile_timeline(scenario: Scenario, codes: list[str]) -> Timeline:
    days = scenario.days
    levers = empty_levers(days, len(codes))
    t = np.arange(days)
    for event in scenario.policy.values():
        if not event.enabled:
            continue
        if event.half_life_days is not None:
            start = scenario.day_of(event.date)
            after = t >= start
            levers[ALARM][after] += event.level * 0.5 ** ((t[after] - start) / event.half_life_days)
        kind = POLICY_KINDS[event.kind]
        if kind.lever is None:
            continue
        lever = levers[kind.lever]
        span = _span(event, scenario)
        at = (span, [codes.index(c) for c in event.locations]) if kind.per_location else span
        level = True if kind.switch else event.level
        if kind.combine == "sum":
            lever[at] += level
        elif kind.combine == "max":
            lever[at] = np.maximum(lever[at], level)
        else:
            lever[at] = level
    for kind in POLICY_KINDS.values():
        if kind.clip and kind.lever is not None:
            levers[kind.lever] = np.clip(levers[kind.lever], *kind.bounds)
    return Timeline(levers)

"""The policy timeline: dated events compiled into one array per lever.

Governments enter the model only through these arrays (Russia's and the
destinations'), so a counterfactual that disables or moves an event changes
exactly the levers the event pulls, on exactly the days it covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exodus.model.scenario import PolicyEvent, Scenario


@dataclass(frozen=True)
class Timeline:
    """Per-day policy levers; arrays indexed [day] or [day, location]."""

    alarm: np.ndarray  # news shocks, decaying after the event
    mobilisation: np.ndarray  # intensity of the call-up for reservists
    deferment: np.ndarray  # share of the call-up risk the IT deferment removes
    it_tax_break: np.ndarray  # value of Russian IT benefits for staying
    sanctions: np.ndarray  # level of sanctions pressure on firms
    repression: np.ndarray  # risk for the openly opposed
    penalty_tax: np.ndarray  # extra tax on relocators working remotely
    remote_work_tax: np.ndarray  # income tax on remote work from abroad (NaN: default)
    exit_ban_military_age: np.ndarray  # share of military-age men stopped at the exit
    airspace_closed: np.ndarray  # [day, loc] no flights from Russia
    entry_ban: np.ndarray  # [day, loc] Russians refused entry
    border_closed: np.ndarray  # [day, loc] land border shut
    stay_limit: np.ndarray  # [day, loc] days non-residents may stay (0: no limit)
    incentive: np.ndarray  # [day, loc] destination incentives on top of the base

    @property
    def days(self) -> int:
        return len(self.alarm)


def _span(event: PolicyEvent, scenario: Scenario) -> slice:
    first = max(0, scenario.day_of(event.date))
    last = scenario.days if event.until is None else min(scenario.days, scenario.day_of(event.until))
    return slice(first, max(first, last))


def compile_timeline(scenario: Scenario, codes: list[str]) -> Timeline:
    days, n_loc = scenario.days, len(codes)
    scalar = {
        name: np.zeros(days)
        for name in (
            "alarm",
            "mobilisation",
            "deferment",
            "it_tax_break",
            "sanctions",
            "repression",
            "penalty_tax",
            "exit_ban_military_age",
        )
    }
    remote_work_tax = np.full(days, np.nan)
    per_loc = {name: np.zeros((days, n_loc), dtype=bool) for name in ("airspace_closed", "entry_ban", "border_closed")}
    stay_limit = np.zeros((days, n_loc))
    incentive = np.zeros((days, n_loc))
    t = np.arange(days)
    for event in scenario.policy.values():
        if not event.enabled:
            continue
        span = _span(event, scenario)
        cols = [codes.index(c) for c in event.locations]
        if event.half_life_days is not None:
            start = scenario.day_of(event.date)
            after = t >= start
            scalar["alarm"][after] += event.level * 0.5 ** ((t[after] - start) / event.half_life_days)
        match event.kind:
            case "shock":
                pass  # alarm only, added above
            case "mobilisation" | "it_deferment" | "it_tax_break" | "repression":
                scalar[event.kind.replace("it_deferment", "deferment")][span] += event.level
            case "sanctions" | "penalty_tax" | "exit_ban_military_age":
                scalar[event.kind][span] += event.level
            case "remote_work_tax":
                remote_work_tax[span] = event.level
            case "airspace_closed" | "entry_ban" | "border_closed":
                per_loc[event.kind][span, cols] = True
            case "stay_limit":
                stay_limit[span, cols] = event.level
            case "destination_incentive":
                incentive[span, cols] += event.level
    scalar["deferment"] = np.clip(scalar["deferment"], 0, 1)
    scalar["exit_ban_military_age"] = np.clip(scalar["exit_ban_military_age"], 0, 1)
    return Timeline(
        **scalar,
        remote_work_tax=remote_work_tax,
        **per_loc,
        stay_limit=stay_limit,
        incentive=incentive,
    )

"""A new kind of policy event is one registry entry plus its use.

The tests register kinds the model does not have (`homeward_pull`, a pull of home on everyone's choice;
`visa_fee`, a fee some places charge), show the scenario validates them from the entry, that they compile into
their lever of the timeline as the entry says (span, overlap, bounds), and that a rule reading the lever acts on it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from exodus.model import DEFAULT_SCENARIO, RelocationModel, ScenarioError, load_scenario
from exodus.model.decision import Market, Rules
from exodus.model.locations import HOME
from exodus.model.policy import POLICY_KINDS, PolicyKind, compile_timeline, register
from exodus.model.scenario import Scenario, validate

BASE = load_scenario(DEFAULT_SCENARIO)
CODES = list(BASE.locations)  # RU first, as the model orders them
PULL = PolicyKind("homeward_pull", "homeward_pull", bounds=(0.0, 3.0), clip=True)  # the one entry
FEE = PolicyKind("visa_fee", "visa_fee", per_location=True, combine="max")


class PulledHome(Rules):
    """The use of the new lever: home is worth `homeward_pull` more to everyone on the days it is set."""

    def utilities(self, idx: np.ndarray, market: Market) -> np.ndarray:
        v = super().utilities(idx, market)
        v[:, HOME] += self.timeline.homeward_pull[market.day]
        return v


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in (PULL, FEE):
        monkeypatch.setitem(POLICY_KINDS, kind.name, kind)


def with_events(**events: dict[str, Any]) -> Scenario:
    raw = BASE.as_dict()
    raw["policy"].update(events)
    return validate(raw, "registry test")


def day(date: str) -> int:
    return BASE.day_of(dt.date.fromisoformat(date))


def test_an_unregistered_kind_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"field policy\.pull\.kind: Input should be 'shock', .*'repression'"):
        with_events(pull={"kind": "homeward_pull", "date": "2022-03-01"})


def test_a_new_kind_compiles_into_its_lever(registered: None) -> None:
    scenario = with_events(
        pull={"kind": "homeward_pull", "date": "2022-03-01", "until": "2022-04-01", "level": 2.0},
        more={"kind": "homeward_pull", "date": "2022-03-15", "until": "2022-05-01", "level": 2.0},
        fee_ge={"kind": "visa_fee", "date": "2022-03-01", "locations": ["GE"], "level": 100.0},
        fee_ge_am={"kind": "visa_fee", "date": "2022-06-01", "locations": ["GE", "AM"], "level": 50.0},
    )
    timeline = compile_timeline(scenario, CODES)
    pull = timeline.homeward_pull
    assert pull.shape == (BASE.days,)
    assert (pull[: day("2022-03-01")] == 0).all() and (pull[day("2022-05-01") :] == 0).all()
    assert (pull[day("2022-03-01") : day("2022-03-15")] == 2.0).all()
    assert (pull[day("2022-03-15") : day("2022-04-01")] == 3.0).all()  # 2 + 2, summed and clipped to the bounds
    assert (pull[day("2022-04-01") : day("2022-05-01")] == 2.0).all()
    fee = timeline.visa_fee
    ge, am = CODES.index("GE"), CODES.index("AM")
    assert fee.shape == (BASE.days, len(CODES))
    assert (fee[day("2022-06-01") :, ge] == 100.0).all()  # the larger of the overlapping fees
    assert (fee[day("2022-06-01") :, am] == 50.0).all() and (fee[: day("2022-06-01"), am] == 0).all()
    assert fee[:, [j for j in range(len(CODES)) if j not in (ge, am)]].sum() == 0
    before = compile_timeline(BASE, CODES)
    for name, lever in before.levers.items():  # every other lever as it was
        if name not in (PULL.lever, FEE.lever):
            np.testing.assert_array_equal(timeline.levers[name], lever)


def test_the_entry_sets_what_an_event_may_say(registered: None) -> None:
    with pytest.raises(ScenarioError, match=r"level: expected a number between 0 and 3 for homeward_pull"):
        with_events(pull={"kind": "homeward_pull", "date": "2022-03-01", "level": 4.0})
    with pytest.raises(ScenarioError, match=r"locations: a homeward_pull event applies to Russia as a whole"):
        with_events(pull={"kind": "homeward_pull", "date": "2022-03-01", "locations": ["GE"]})
    with pytest.raises(ScenarioError, match=r"locations: expected the places a visa_fee event applies to"):
        with_events(fee={"kind": "visa_fee", "date": "2022-03-01"})


def test_a_new_kind_is_used(registered: None) -> None:
    def departures(scenario: Scenario) -> np.ndarray:
        model = RelocationModel(scenario, rng=2, scale=0.002, rules=PulledHome, **{"scenario.days": 40})
        return model.run().tally.departures[:, HOME].sum(axis=1)

    pulled = with_events(pull={"kind": "homeward_pull", "date": "2022-02-26", "until": "2022-03-26", "level": 3.0})
    without, with_pull = departures(BASE), departures(pulled)  # the first wave, pulled home from its third day
    start, end = day("2022-02-26"), day("2022-03-26")
    np.testing.assert_array_equal(with_pull[:start], without[:start])  # the same run until the event
    assert without[start:end].sum() > 20
    assert with_pull[start:end].sum() < 0.5 * without[start:end].sum()


def test_kinds_sharing_a_lever_agree_on_its_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("exodus.model.policy.POLICY_KINDS", dict(POLICY_KINDS))
    with pytest.raises(ValueError, match="lever entry_ban has another shape"):
        register(PolicyKind("russia_wide_ban", "entry_ban"))
    register(PolicyKind("partial_entry_ban", "entry_ban", per_location=True, combine="max", switch=True))


def test_the_timeline_has_a_lever_per_registered_lever() -> None:
    """The baseline's levers are the registry's: one array per lever, as many as the registered kinds name."""
    timeline = compile_timeline(BASE, CODES)
    levers = {kind.lever for kind in POLICY_KINDS.values() if kind.lever is not None} | {"alarm"}
    assert set(timeline.levers) == levers
    assert timeline.days == BASE.days
    with pytest.raises(AttributeError, match="no lever 'visa_fee'"):
        _ = timeline.visa_fee

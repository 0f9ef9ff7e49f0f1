"""Scenario files: load TOML, resolve `extends`, validate, hash.

A scenario is the whole description of a run. Files are data, not code; a
counterfactual `extends` a base file and changes only what differs. Tables
merge key by key, so policy events, locations and routes are keyed tables
(`[policy.partial_mobilisation]`), and a counterfactual can switch one off
with `enabled = false`.

Validation uses pydantic; every error names the file, the field and what was
expected, because the people who edit these files are not always the people
who wrote the code.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from exodus.model.files import field_errors, read_toml, refuse_flags
from exodus.model.policy import POLICY_KINDS

ISO_CODE = r"^[A-Z]{2}$"
Segment = Literal["it", "other"]


class ScenarioError(ValueError):
    """A scenario file is missing, malformed or fails validation."""


class _Strict(BaseModel):
    # allow_inf_nan=False: NaN or infinity in any number is refused ("Input should be a finite number"); no field of
    # a scenario means infinity
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    _no_flags = field_validator("*", mode="before")(classmethod(refuse_flags))  # true is not 1


class Meta(_Strict):
    name: str
    description: str = ""
    extends: str | None = None
    start: dt.date = dt.date(2022, 2, 24)
    days: int = Field(730, ge=1, le=3650)
    targets: str | None = Field(None, description="targets CSV, relative to this scenario file")


class SegmentSpec(_Strict):
    """Who is in a segment and how their attributes are drawn."""

    persons: int = Field(gt=0)
    persons_source: str
    persons_per_agent: int = Field(1, ge=1)
    share_male: float = Field(ge=0, le=1)
    age_mean: float = Field(gt=16, lt=80)
    age_sd: float = Field(gt=0)
    age_min: int = Field(18, ge=0, le=120)
    age_max: int = Field(64, ge=0, le=120)
    military_age_max: int = Field(50, ge=0, le=120, description="oldest age liable to partial mobilisation")
    reservist_share: float = Field(ge=0, le=1, description="men of military age who are on the reserve lists")
    wage_median_usd: float = Field(gt=0, description="monthly wage after tax at home")
    wage_sigma: float = Field(ge=0)
    savings_months_median: float = Field(gt=0)
    savings_sigma: float = Field(ge=0)
    remote_share: float = Field(ge=0, le=1, description="jobs that can be done from abroad")
    international_passport: float = Field(ge=0, le=1)
    schengen_visa: float = Field(ge=0, le=1)
    visa_abroad_per_year: float = Field(
        0.0,
        ge=0,
        le=1,
        description="abroad, with an international passport and no Schengen visa: chance a year of getting one "
        "(a national or Schengen visa from a consulate in the host country)",
    )
    opposed_share: float = Field(ge=0, le=1, description="openly against the war")
    intention_share: float = Field(ge=0, le=1, description="wished to emigrate before the war")
    permanent_share: float = Field(ge=0, le=1, description="of leavers, who mean to stay away")
    risk_aversion_sigma: float = Field(0.5, ge=0)
    family_ties: dict[str, float] = Field(default_factory=dict, description="share with family in a location")
    circle_size: int = Field(40, ge=1, description="agents in a friends' circle (outside IT)")
    deferment_eligible: float = Field(0.0, ge=0, le=1, description="with the education the IT deferment needs")
    local_wage_factor: float = Field(1.0, gt=0, description="their pay abroad, as a share of the local IT wage")
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SegmentSpec:
        if self.age_min > self.age_max:
            raise ValueError(f"age_min: expected at most age_max ({self.age_max}), got {self.age_min}")
        if not self.age_min <= self.age_mean <= self.age_max:
            raise ValueError(f"age_mean: expected between age_min and age_max, got {self.age_mean}")
        if self.schengen_visa > self.international_passport:
            raise ValueError(
                f"schengen_visa: expected at most international_passport ({self.international_passport}): "
                f"a Schengen visa goes in an international passport, got {self.schengen_visa}"
            )
        for code, share in self.family_ties.items():
            if not 0 <= share <= 1:
                raise ValueError(f"family_ties.{code}: expected a share between 0 and 1, got {share}")
        total = sum(self.family_ties.values())
        if total > 1 + 1e-9:
            raise ValueError(f"family_ties: expected shares adding up to at most 1, got {total:g}")
        return self


class FirmsSpec(_Strict):
    """IT firms: the employers of the `it` segment."""

    mean_size: float = Field(gt=1)
    size_sigma: float = Field(ge=0)
    international_share_mean: float = Field(ge=0, le=1)
    sanctions_exposure_mean: float = Field(ge=0, le=1)
    remote_allowed: float = Field(ge=0, le=1, description="firms letting staff work from abroad")
    accredited: float = Field(ge=0, le=1, description="firms accredited for Russian IT benefits")
    relocation_hazard: float = Field(ge=0, description="daily, per unit of exposure x sanctions")
    office_share: float = Field(ge=0, le=1, description="staff an office relocation takes")
    whole_firm_share: float = Field(ge=0, le=1, description="relocations that move the whole firm")
    follow_probability: float = Field(ge=0, le=1, description="employee follows a relocating firm")
    sanctions_income_loss: float = Field(ge=0, le=1, description="pay lost at full exposure and sanctions")
    sources: dict[str, str] = Field(default_factory=dict)


class LocationSpec(_Strict):
    """What a relocating person weighs about a place."""

    name: str
    entry: Literal["internal_passport", "international_passport", "visa", "closed"]
    cost_of_living_usd: float = Field(gt=0, description="monthly, for one person")
    housing_capacity: float = Field(gt=0, description="newcomers before rents rise by half")
    rent_elasticity: float = Field(0.5, ge=0)
    wage_local_usd: float = Field(gt=0, description="monthly IT wage from a local or foreign employer")
    job_finding: float = Field(ge=0, le=1, description="chance a newcomer finds a local or foreign job")
    income_tax_it: float = Field(ge=0, le=1, description="tax on IT income under the best regime")
    russian_language: float = Field(ge=0, le=1)
    diaspora_persons: float = Field(ge=0)
    banking: float = Field(ge=0, le=1, description="ease of opening an account and receiving pay")
    stance: Literal["welcoming", "wary", "closed"]
    residence_probability: float = Field(ge=0, le=1, description="newcomers who get residence")
    stay_limit_days: int = Field(0, ge=0, description="visa-free stay for non-residents; 0: none")
    permit_probability: float = Field(
        0.0, ge=0, le=1, description="non-residents reaching the stay limit who get a residence or work permit"
    )
    permit_days: int = Field(
        0, ge=0, description="term of the permit granted at the stay limit, then renewed or not; 0: open-ended"
    )
    renewal_probability: float | None = Field(
        None,
        ge=0,
        le=1,
        description="permit holders at the end of its term whose permit is renewed; unset: permit_probability",
    )
    attraction: float = Field(
        0.0, description="utility constant of the place: what the named terms miss (flights, reputation); fitted"
    )
    stepping_stone: bool = Field(
        False, description="a place many pass through: newcomers reconsider faster (behaviour.hazard.transit)"
    )
    it_incentive: float = Field(0.0, ge=0, description="strength of IT visas and tax regimes")
    lat: float | None = Field(None, ge=-90, le=90, description="latitude of its main city, for maps only")
    lon: float | None = Field(None, ge=-180, le=180, description="longitude of its main city, for maps only")
    sources: dict[str, str] = Field(default_factory=dict)


class RouteSpec(_Strict):
    """A way from one location to another."""

    origin: str = Field(pattern=ISO_CODE)
    destination: str = Field(pattern=ISO_CODE)
    mode: Literal["air", "land"]
    cost_usd: float = Field(ge=0)
    days: float = Field(ge=0)
    capacity_per_day: float = Field(
        0, ge=0, description="persons a day before a queue forms: a land border's crossings, a flight's seats"
    )
    processing_days: float = Field(
        0,
        ge=0,
        description="mean days from the decision to the departure (a consular check: Israel's aliyah), "
        "spread exponentially; those waiting are queued at home",
    )
    via: str | None = Field(
        None,
        pattern=ISO_CODE,
        description="air: a connecting flight through this hub; an airspace closure at the destination (to "
        "Russian aircraft) does not close it, one at the hub does",
    )
    enabled: bool = True
    source: str = ""

    @model_validator(mode="after")
    def _somewhere_else(self) -> RouteSpec:
        if self.origin == self.destination:
            raise ValueError(f"destination: expected a place other than the origin, got {self.destination!r}")
        if self.via is not None:
            if self.mode != "air":
                raise ValueError(f"via: expected only on an air route (a connecting flight), got mode {self.mode!r}")
            if self.via in (self.origin, self.destination):
                raise ValueError(f"via: expected a hub other than the origin and the destination, got {self.via!r}")
        return self


class PolicyEvent(_Strict):
    """A dated change in the world; `until` ends it (exclusive)."""

    kind: str = Field(description="one of the registered kinds (exodus.model.policy.POLICY_KINDS)")
    date: dt.date
    until: dt.date | None = None
    enabled: bool = True
    locations: list[str] = Field(default_factory=list)
    level: float = 1.0
    half_life_days: float | None = Field(None, gt=0)
    source: str = ""
    note: str = ""

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        if kind not in POLICY_KINDS:
            *others, last = (repr(k) for k in POLICY_KINDS)
            raise ValueError(f"Input should be {', '.join(others)} or {last}")
        return kind

    @model_validator(mode="after")
    def _until_after_date(self) -> PolicyEvent:
        if self.until is not None and self.until <= self.date:
            raise ValueError(f"until ({self.until}) must come after date ({self.date})")
        kind = POLICY_KINDS[self.kind]
        if kind.per_location and not self.locations:
            raise ValueError(f"locations: expected the places a {self.kind} event applies to, got none")
        if not kind.per_location and self.locations:
            raise ValueError(
                f"locations: a {self.kind} event applies to Russia as a whole; expected none, got {self.locations}"
            )
        low, high = kind.bounds
        if not low <= self.level <= high:
            if kind.share:
                shown = "a rate or share between 0 and 1"
            else:
                shown = f"a number >= {low:g}" if math.isinf(high) else f"a number between {low:g} and {high:g}"
            raise ValueError(f"level: expected {shown} for {self.kind}, got {self.level}")
        return self


class Hazard(_Strict):
    """Daily hazard of considering a move (log-linear in its drivers)."""

    base_it: float = Field(ge=0)
    base_other: float = Field(ge=0)
    base_abroad: float = Field(ge=0, description="daily hazard of reconsidering while abroad")
    alarm: float = Field(ge=0, description="weight of news shocks")
    alarm_abroad: float | None = Field(
        None, ge=0, description="abroad: weight of news shocks on reconsidering (None: as at home)"
    )
    mobilisation: float = Field(ge=0, description="weight of own mobilisation risk")
    repression: float = Field(ge=0)
    sanctions: float = Field(ge=0, description="weight of the employer's sanctions exposure")
    contacts: float = Field(ge=0, description="weight of the share of one's circle abroad")
    intention: float = Field(ge=0, description="weight of a pre-war wish to emigrate")
    passport: float = Field(
        0.0, ge=0, description="weight of holding an international passport: those who travel think of leaving"
    )
    risk_aversion: float = Field(ge=0)
    money: float = Field(ge=0, description="abroad: weight of running out of savings")
    job_search_days: float = Field(
        0.0, ge=0, description="abroad without work: days over which the job-finding chance is spread (0: no search)"
    )
    transit: float = Field(
        0.0, ge=0, description="newcomers at a stepping stone: log-multiplier of the hazard of reconsidering"
    )
    transit_days: float = Field(30.0, gt=0, description="days after arrival a stepping stone counts as transit")


class Utility(_Strict):
    """Weights of the named terms of the random-utility choice."""

    income: float
    cost_of_living: float
    mobilisation: float
    repression: float
    travel_cost: float
    border_wait: float
    visa_friction: float
    language: float
    diaspora: float
    contacts: float
    family: float
    incentives: float
    wary: float
    relocated_firm: float
    banking: float = Field(0.0, description="firms: weight of banking access when choosing where to move")
    home: float = Field(description="attachment to home for those who mean to return")
    permanent: float = Field(description="less attachment for those who mean to stay away")
    switching: float = Field(description="cost of moving at all (stay-put bias)")
    settled: float = Field(0.0, ge=0, description="abroad: attachment to where one lives, grown over settle_days")
    settle_days: float = Field(180.0, gt=0, description="days abroad until the attachment is whole")
    value_of_time_usd: float = Field(50.0, ge=0, description="per day of travel or queue, to pick a route")
    scale: float = Field(1.0, gt=0, description="scale of the Gumbel noise")


class Taxes(_Strict):
    """Russian taxes on workers and their employers (shares of gross wage)."""

    income_tax: float = Field(ge=0, le=1)
    insurance_premiums_it: float = Field(ge=0, le=1)
    insurance_premiums_other: float = Field(ge=0, le=1)
    nonresident_income_tax: float = Field(ge=0, le=1)
    grey_discount: float = Field(ge=0, le=1, description="pay lost by moving into grey pay")
    grey_share_under_penalty: float = Field(ge=0, le=1, description="employers willing to pay grey")
    sources: dict[str, str] = Field(default_factory=dict)


class Airfares(_Strict):
    """Air seats out of Russia; fares rise with demand beyond them."""

    seats_per_day: float = Field(gt=0)
    elasticity: float = Field(ge=0)
    max_multiplier: float = Field(ge=1)
    source: str = ""


class Behaviour(_Strict):
    hazard: Hazard
    utility: Utility
    taxes: Taxes
    airfares: Airfares


def check_bounds(low: float, high: float, log: bool) -> None:
    """The rule of every bounded parameter a file declares (here, in design files and sweep files), written once
    so that its message is the same wherever it is broken."""
    if not low < high:
        raise ValueError(f"expected low < high: high ({high}) must be above low ({low})")
    if log and low <= 0:
        raise ValueError(f"log = true needs low > 0, got low={low}")


class Bounds(_Strict):
    """A number's bounds, possibly on a log scale: a free parameter for calibration (keyed by its dotted path),
    and the base of the analyses' bounded parameter (`exodus.experiments.analyses.parameters.Bounded`)."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Bounds:
        check_bounds(self.low, self.high, self.log)
        return self


class Scenario(_Strict):
    scenario: Meta
    population: dict[Segment, SegmentSpec]
    firms: FirmsSpec
    locations: dict[str, LocationSpec]
    routes: dict[str, RouteSpec]
    policy: dict[str, PolicyEvent]
    behaviour: Behaviour
    free_parameters: dict[str, Bounds] = Field(default_factory=dict)
    calibration: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        codes = set(self.locations)
        if "RU" not in codes:
            raise ValueError("locations: expected a location 'RU' (Russia, the origin)")
        for code in codes:
            if len(code) != 2 or not code.isupper():
                raise ValueError(f"locations.{code}: expected an ISO 3166 alpha-2 code such as 'GE'")
        for key, route in self.routes.items():
            for end in (route.origin, route.destination, *([route.via] if route.via else [])):
                if end not in codes:
                    raise ValueError(f"routes.{key}: location '{end}' is not in [locations]")
        for key, event in self.policy.items():
            for code in event.locations:
                if code not in codes:
                    raise ValueError(f"policy.{key}.locations: '{code}' is not in [locations]")
        for seg, spec in self.population.items():
            for code in spec.family_ties:
                if code not in codes:
                    raise ValueError(f"population.{seg}.family_ties: '{code}' is not in [locations]")
        fields = self.model_dump(exclude={"free_parameters", "calibration"})
        for key in self.free_parameters:
            try:
                value = get_path(fields, key)
            except ScenarioError:
                value = None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"free_parameters.{key}: expected the dotted path of a number in the scenario")
        return self

    @property
    def start(self) -> dt.date:
        return self.scenario.start

    @property
    def days(self) -> int:
        return self.scenario.days

    def date(self, day: int) -> dt.date:
        return self.scenario.start + dt.timedelta(days=day)

    def day_of(self, date: dt.date) -> int:
        return (date - self.scenario.start).days

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """SHA-256 of the resolved scenario: two runs with one digest ran one scenario."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else in `change` replaces the base."""
    merged = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.c` (or `a__b__c`, for keyword arguments) in nested tables."""
    keys = path.replace("__", ".").split(".")
    node = data
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            raise ScenarioError(f"override '{path}': '{key}' is not a table in the scenario")
        node = node[key]
    node[keys[-1]] = value  # a field the file leaves at its default may be set too; validation catches typos


def get_path(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.replace("__", ".").split("."):
        if not isinstance(node, dict) or key not in node:
            raise ScenarioError(f"'{path}': no such field in the scenario")
        node = node[key]
    return node


def read_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's tables with everything it extends merged under them."""
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ScenarioError(f"{path}: field scenario.extends: expected a chain of files, got a cycle ({chain})")
    raw, _ = read_toml(path, "scenario file", ScenarioError)
    meta = raw.get("scenario", {})
    parent = meta.get("extends") if isinstance(meta, dict) else None
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: field scenario.extends: expected a file name, got {parent!r}")
    base_file = path.parent / parent
    if not base_file.exists():
        raise ScenarioError(f"{path}: field scenario.extends: expected an existing file, {base_file} not found")
    if not base_file.is_file():
        raise ScenarioError(f"{path}: field scenario.extends: expected a scenario file, {base_file} is a folder")
    base = read_raw(base_file, (*_seen, path))
    base_targets = base.get("scenario", {}).get("targets")
    if isinstance(base_targets, str) and not Path(base_targets).is_absolute():
        # a relative targets file stays where the base put it, seen from this file's folder
        where = base_file.resolve().parent / base_targets
        base["scenario"]["targets"] = os.path.relpath(where, path.parent)
    merged = deep_merge(base, raw)
    merged["scenario"]["extends"] = parent
    return merged


def validate(raw: dict[str, Any], source: str) -> Scenario:
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(f"{source}: invalid scenario\n" + field_errors(err)) from None


def sets_horizon(paths: Any) -> bool:
    """Whether these dotted paths (overrides, swept parameters) change the horizon, `scenario.days`."""
    return any(str(path).replace("__", ".") == "scenario.days" for path in paths)


def check_horizon(scenario: Scenario, source: str, only: set[str] | None = None) -> None:
    """Refuse an enabled policy event dated on or after the end of the horizon: it would never act.

    `only`: check these events alone. A file or override that shortens the horizon on top of a scenario cuts its
    events short knowingly (`--set scenario.days=30`, a counterfactual with `days = 100`, a sweep's `days`): the
    events it inherits run as far as the horizon reaches; those it dates or enables itself must fall inside."""
    end = scenario.date(scenario.days)
    for key, event in scenario.policy.items():
        if event.enabled and event.date >= end and (only is None or key in only):
            raise ScenarioError(
                f"{source}: invalid scenario\n  field policy.{key}.date: expected a date before the end of the "
                f"horizon ({end}: scenario.start + scenario.days), got {event.date}"
            )


def _own_tables(path: Path) -> list[dict[str, Any]]:
    """The tables each file of the `extends` chain sets itself, from the first base to `path`."""
    chain: list[dict[str, Any]] = []
    seen: set[Path] = set()
    current: Path | None = path.resolve()
    while current is not None and current not in seen:  # read_raw has checked the chain: no cycle, files exist
        seen.add(current)
        own, _ = read_toml(current, "scenario file", ScenarioError)
        chain.insert(0, own)
        meta = own.get("scenario")
        parent = meta.get("extends") if isinstance(meta, dict) else None
        current = (current.parent / parent).resolve() if isinstance(parent, str) else None
    return chain


def _events_to_check(path: Path, overrides: dict[str, Any]) -> set[str]:
    """The events the horizon rule applies to: those dated or switched where the horizon is set, or after it.

    Layers are the files of the `extends` chain, base first, then the overrides. A layer that shortens the horizon
    of what it extends (a counterfactual with `days = 100`, `--set scenario.days=30`) cuts the events below it short
    knowingly; an event dated or enabled in that layer or above must fall inside the horizon."""
    layers = [*_own_tables(path), _as_tables(overrides)]
    horizon = max((i for i, t in enumerate(layers) if "days" in _table(t, "scenario")), default=-1)
    events: set[str] = set()
    for i, tables in enumerate(layers):
        for key, event in _table(tables, "policy").items():
            if i >= horizon and isinstance(event, dict) and ("date" in event or "enabled" in event or "kind" in event):
                events.add(key)
    return events


def _table(tables: dict[str, Any], name: str) -> dict[str, Any]:
    table = tables.get(name)
    return table if isinstance(table, dict) else {}


def _as_tables(overrides: dict[str, Any]) -> dict[str, Any]:
    """Dotted overrides as nested tables (`policy.x.date` -> {"policy": {"x": {"date": ...}}})."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        *parents, last = key.replace("__", ".").split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[last] = value
    return nested


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, resolve and validate a scenario; `overrides` set dotted fields."""
    path = Path(path)
    raw = read_raw(path)
    for key, value in (overrides or {}).items():
        set_path(raw, key, value)
    source = f"{path} with overrides {sorted(overrides)}" if overrides else str(path)
    scenario = validate(raw, source)
    check_horizon(scenario, source, _events_to_check(path, overrides or {}))
    return scenario

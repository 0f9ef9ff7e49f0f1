"""The worker population as arrays (one entry per agent), and its set-up.

Two million workers stepped one object at a time would take hours; held as
numpy arrays, a day's decisions are a handful of vectorised operations
(Starsim's design). Every attribute is drawn from its own named stream, so
the population is the same in every scenario that shares the seed and the
population tables.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from exodus.model.locations import HOME
from exodus.model.scenario import Scenario, SegmentSpec
from exodus.model.streams import Stream

SEGMENTS = ("it", "other")
IT, OTHER = 0, 1

# Job status. At home everybody is AT_HOME; abroad one of the others.
AT_HOME, REMOTE_RU, FOREIGN, RELOCATED, NO_WORK, GREY = range(6)
JOB_STATUS = ("at_home", "remote_russian_employer", "foreign_employer", "relocated_firm", "without_work", "grey_pay")
NEVER = np.iinfo(np.int32).max


@dataclass
class Firms:
    """IT employers, as arrays indexed by firm."""

    size: np.ndarray
    international: np.ndarray  # share of international customers
    exposure: np.ndarray  # sanctions exposure (frozen accounts, blocked payments)
    remote_allowed: np.ndarray  # bool
    accredited: np.ndarray  # bool: gets Russian IT benefits
    location: np.ndarray  # where its office is; HOME until it relocates
    relocated_on: np.ndarray  # day of relocation (NEVER if not)
    whole: np.ndarray  # bool: the whole firm moved, not one office

    def __len__(self) -> int:
        return len(self.size)


@dataclass
class Workers:
    """Attributes (fixed) and state (changing) of every worker agent."""

    segment: np.ndarray
    male: np.ndarray
    age: np.ndarray
    reservist: np.ndarray  # liable to partial mobilisation
    military_age: np.ndarray  # a man the exit checks stop when the border closes
    deferrable: np.ndarray  # IT worker an accredited firm can get deferred
    wage: np.ndarray  # monthly, net, USD
    savings0: np.ndarray  # savings before the war, USD
    remote: np.ndarray  # job can be done from abroad
    passport: np.ndarray  # international passport
    schengen: np.ndarray
    opposed: np.ndarray
    intention: np.ndarray  # wished to emigrate before the war
    permanent: np.ndarray  # means to stay away
    risk_aversion: np.ndarray
    family: np.ndarray  # location of family ties, -1 none
    grey_ok: np.ndarray  # employer would pay grey under a penalty tax
    firm: np.ndarray  # -1 outside IT
    circle: np.ndarray  # social circle: the firm in IT, a friends' circle otherwise
    persons_per_agent: np.ndarray  # by segment
    # state
    location: np.ndarray = field(default=None)  # type: ignore[assignment]
    since: np.ndarray = field(default=None)  # type: ignore[assignment]
    arrived: np.ndarray = field(default=None)  # type: ignore[assignment]  # day they came to where they are
    job: np.ndarray = field(default=None)  # type: ignore[assignment]
    resident: np.ndarray = field(default=None)  # type: ignore[assignment]
    savings: np.ndarray = field(default=None)  # type: ignore[assignment]
    income: np.ndarray = field(default=None)  # type: ignore[assignment]
    deadline: np.ndarray = field(default=None)  # type: ignore[assignment]
    queued: np.ndarray = field(default=None)  # type: ignore[assignment]
    ready: np.ndarray = field(default=None)  # type: ignore[assignment]  # queued for a check: the day it clears
    clock: np.ndarray = field(default=None)  # type: ignore[assignment]
    threshold: np.ndarray = field(default=None)  # type: ignore[assignment]
    considered: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.segment)
        self.location = np.full(n, HOME, dtype=np.int8)
        self.since = np.zeros(n, dtype=np.int32)
        self.arrived = np.zeros(n, dtype=np.int32)
        self.job = np.full(n, AT_HOME, dtype=np.int8)
        self.resident = np.zeros(n, dtype=bool)
        self.savings = self.savings0.copy()
        self.income = self.wage.copy()
        self.deadline = np.full(n, NEVER, dtype=np.int32)
        self.queued = np.full(n, -1, dtype=np.int16)
        self.ready = np.zeros(n, dtype=np.int32)
        self.clock = np.zeros(n, dtype=np.float32)
        self.threshold = np.zeros(n, dtype=np.float32)
        self.considered = np.zeros(n, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.segment)


# Bytes a worker agent takes at the peak of a run: its arrays (about 70 bytes) and the day's temporaries (the
# choice among every location of those considering a move). Measured: about 120 bytes per agent at scale 0.5 of the
# baseline; 400 leaves room for a large day.
BYTES_PER_AGENT = 400
MEMORY_BUDGET_ENV = "EXODUS_MEMORY_BUDGET"  # bytes; default: the memory available now


class ScaleError(ValueError):
    """A scale that gives less than one agent per segment, or more agents than memory holds."""


def memory_budget() -> int:
    """Bytes a run may take: $EXODUS_MEMORY_BUDGET, else the memory available now (Linux), else all of it."""
    text = os.environ.get(MEMORY_BUDGET_ENV, "").strip()
    if text:
        try:
            return int(float(text))
        except ValueError:
            raise ScaleError(f"{MEMORY_BUDGET_ENV}: expected a number of bytes, got {text!r}") from None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 8 << 30


def check_scale(scenario: Scenario, scale: float) -> dict[str, tuple[int, int]]:
    """(agents, persons per agent) by segment, or ScaleError before anything is allocated: the scale must be a
    finite number giving at least one agent per segment, and no more agents than the memory budget holds."""
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
        raise ScaleError(f"scale: expected a finite number above 0, got {scale!r}")
    # below persons_per_agent / persons a segment's one agent would stand for more people than it has
    specs = scenario.population
    seg = max(specs, key=lambda s: specs[s].persons_per_agent / specs[s].persons)
    spec = specs[seg]
    smallest = spec.persons_per_agent / spec.persons
    if scale < smallest * (1 - 1e-9):
        raise ScaleError(
            f"scale: expected at least {smallest:.3g} (one agent for the {spec.persons:,} persons of segment {seg}), "
            f"got {scale:g}"
        )
    counts = {seg: agents_in_segment(scenario.population[seg], scale) for seg in SEGMENTS}
    agents = sum(n for n, _ in counts.values())
    budget = memory_budget()
    if agents * BYTES_PER_AGENT > budget:
        most = budget // BYTES_PER_AGENT
        raise ScaleError(
            f"scale: {scale:g} gives {agents:,} agents, about {agents * BYTES_PER_AGENT / 2**30:.1f} GiB; expected at "
            f"most {most:,} agents, the memory budget of {budget / 2**30:.1f} GiB at {BYTES_PER_AGENT} bytes an agent "
            f"(${MEMORY_BUDGET_ENV} sets the budget in bytes)"
        )
    return counts


def agents_in_segment(spec: SegmentSpec, scale: float) -> tuple[int, int]:
    """(agents, persons per agent): a whole number of persons per agent keeps outputs exact."""
    per_agent = max(1, round(spec.persons_per_agent / scale))
    return max(1, round(spec.persons / per_agent)), per_agent


def _draw_firms(scenario: Scenario, n_it: int, seed: int) -> tuple[Firms, np.ndarray]:
    """Firms and the firm of each IT worker."""
    spec = scenario.firms
    rng = Stream(seed, "population.firms").generator()
    sizes: list[int] = []
    total = 0
    mu = np.log(spec.mean_size) - spec.size_sigma**2 / 2
    while total < n_it:
        batch = np.maximum(1, np.round(rng.lognormal(mu, spec.size_sigma, 4096))).astype(np.int64)
        sizes.extend(batch.tolist())
        total += int(batch.sum())
    size = np.array(sizes, dtype=np.int64)
    cut = int(np.searchsorted(np.cumsum(size), n_it)) + 1
    size = size[:cut]
    size[-1] -= int(size.sum()) - n_it
    n = len(size)

    def beta(mean: float, strength: float = 4.0) -> np.ndarray:
        mean = min(max(mean, 1e-3), 1 - 1e-3)
        return rng.beta(mean * strength, (1 - mean) * strength, n)

    firms = Firms(
        size=size,
        international=beta(spec.international_share_mean),
        exposure=beta(spec.sanctions_exposure_mean),
        remote_allowed=rng.random(n) < spec.remote_allowed,
        accredited=rng.random(n) < spec.accredited,
        location=np.full(n, HOME, dtype=np.int8),
        relocated_on=np.full(n, NEVER, dtype=np.int32),
        whole=np.zeros(n, dtype=bool),
    )
    return firms, np.repeat(np.arange(n, dtype=np.int32), size)


def _intention(age: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Pre-war wish to emigrate, shaped by age as in Levada's May 2021 poll."""
    by_age = np.select([age < 25, age < 40, age < 55], [0.48, 0.33, 0.21], 0.07)
    return rng.random(len(age)) < np.clip(by_age * share / 0.22, 0, 1)


def build_population(scenario: Scenario, scale: float, seed: int, codes: list[str]) -> tuple[Workers, Firms]:
    """Draw workers (IT first, then other) and the IT firms."""
    counts = check_scale(scenario, scale)
    firms, firm_of_it = _draw_firms(scenario, counts["it"][0], seed)
    parts: dict[str, list[np.ndarray]] = {}
    for s, seg in enumerate(SEGMENTS):
        spec = scenario.population[seg]
        n = counts[seg][0]
        rng = Stream(seed, f"population.{seg}").generator()
        age = np.clip(np.round(rng.normal(spec.age_mean, spec.age_sd, n)), spec.age_min, spec.age_max)
        male = rng.random(n) < spec.share_male
        reservist = male & (age <= spec.military_age_max) & (rng.random(n) < spec.reservist_share)
        wage = spec.wage_median_usd * rng.lognormal(0.0, spec.wage_sigma, n)
        savings = wage * spec.savings_months_median * rng.lognormal(0.0, spec.savings_sigma, n)
        passport = rng.random(n) < spec.international_passport
        schengen = passport & (rng.random(n) < spec.schengen_visa / max(spec.international_passport, 1e-9))
        family = np.full(n, -1, dtype=np.int8)
        u = rng.random(n)
        edge = 0.0
        for code, share in spec.family_ties.items():
            family[(u >= edge) & (u < edge + share)] = codes.index(code)
            edge += share
        if seg == "it":
            firm = firm_of_it
            circle = firm_of_it.copy()
            remote = firms.remote_allowed[firm] & (rng.random(n) < spec.remote_share)
            deferrable = firms.accredited[firm] & (rng.random(n) < spec.deferment_eligible)
        else:
            firm = np.full(n, -1, dtype=np.int32)
            circle = (len(firms) + np.arange(n) // spec.circle_size).astype(np.int32)
            remote = rng.random(n) < spec.remote_share
            deferrable = np.zeros(n, dtype=bool)
        columns = {
            "segment": np.full(n, s, dtype=np.int8),
            "male": male,
            "age": age.astype(np.int8),
            "reservist": reservist,
            "military_age": male & (age <= spec.military_age_max),
            "deferrable": deferrable,
            "wage": wage.astype(np.float32),
            "savings0": savings.astype(np.float32),
            "remote": remote,
            "passport": passport,
            "schengen": schengen,
            "opposed": rng.random(n) < spec.opposed_share,
            "intention": _intention(age, spec.intention_share, rng),
            "permanent": rng.random(n) < spec.permanent_share,
            "risk_aversion": rng.lognormal(-(spec.risk_aversion_sigma**2) / 2, spec.risk_aversion_sigma, n).astype(
                np.float32
            ),
            "family": family,
            "grey_ok": rng.random(n) < scenario.behaviour.taxes.grey_share_under_penalty,
            "firm": firm.astype(np.int32),
            "circle": circle,
        }
        for key, value in columns.items():
            parts.setdefault(key, []).append(value)
    arrays = {key: np.concatenate(values) for key, values in parts.items()}
    per_agent = np.array([counts[seg][1] for seg in SEGMENTS], dtype=np.int64)
    return Workers(**arrays, persons_per_agent=per_agent), firms

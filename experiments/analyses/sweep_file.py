"""Sweep files: what a parameter sweep runs, as validated data.

A sweep file is TOML. Paths in it are relative to the file.

    [sweep]
    name = "smoke"
    description = "what it is for"
    scenario = "../../scenarios/baseline.toml"   # the base scenario
    seeds = 2                # seeds 0..N-1 for every design point (common random numbers), or a list [0, 7, 9]
    scale = 0.002            # share of the agents (default 1)
    days = 300               # optional: horizon override (scenario.days)
    metrics = ["cumulative_departures:all:2022-12-19"]   # names from experiments/core/metrics.py

    [design]
    method = "lhs"           # grid | lhs | sobol | saltelli | morris
    samples = 4              # lhs, sobol: points; saltelli: base sample N; morris: trajectories
    seed = 0                 # of the sampler: the same file gives the same design

    [set]                    # optional: fixed overrides of every run, dotted scenario paths
    "behaviour.airfares.elasticity" = 1.0

    [[parameter]]            # one table per parameter, in the order of the design's columns
    path = "behaviour.hazard.alarm"
    low = 0.5                # bounds, for every method; a grid takes `levels` points between them
    high = 2.0
    log = false              # sample (or space grid levels) uniformly in log(value)
    integer = false          # round sampled values to whole numbers

    [[parameter]]
    path = "behaviour.hazard.contacts"
    values = [0.5, 1.0]      # explicit values: grid only

Designs: `grid` is the Cartesian product of the parameters' values (the
first parameter varies slowest); `lhs` a Latin hypercube
(`scipy.stats.qmc.LatinHypercube`), `sobol` a scrambled Sobol' sequence
(`scipy.stats.qmc.Sobol`); `saltelli` and `morris` are the sensitivity
designs of SALib (Sobol' indices, elementary effects), whose runs can be fed
back to SALib's analysers in design order. Each design point runs once per
seed.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from exodus.experiments.analyses.parameters import Bounded, scenario_field
from exodus.experiments.core.metrics import check_names
from exodus.model.files import field_errors, read_toml, refuse_flags
from exodus.model.scenario import (
    ScenarioError,
    check_bounds,
    check_horizon,
    read_raw,
    set_path,
    sets_horizon,
    validate,
)
from exodus.model.streams import SEED_MAX

Method = Literal["grid", "lhs", "sobol", "saltelli", "morris"]
S = TypeVar("S", bound=BaseModel)  # a file's schema
SAMPLED = ("lhs", "sobol", "saltelli", "morris")


class SweepError(ValueError):
    """A sweep file, or a sweep's output folder, that cannot be used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN and inf refused
    _no_flags = field_validator("*", mode="before")(classmethod(refuse_flags))  # true is not 1


class Meta(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    scenario: str = Field(description="base scenario file, relative to the sweep file")
    seeds: int | list[int] = Field(description="a count N (seeds 0..N-1) or a list of seeds")
    scale: float = Field(1.0, gt=0)
    days: int | None = Field(None, ge=1, le=3650)
    metrics: list[str] = Field(min_length=1)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("expected a count of at least 1 or a list of seeds")
        elif not value or any(not 0 <= s <= SEED_MAX for s in value) or len(set(value)) != len(value):
            raise ValueError(f"expected a non-empty list of distinct seeds from 0 to {SEED_MAX} (2**64 - 1)")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        return check_names(value)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class Design(_Strict):
    method: Method = "grid"
    samples: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)
    levels: int = Field(4, ge=2, description="morris: levels of the grid of each parameter")
    second_order: bool = Field(False, description="saltelli: also the second-order indices")


class Parameter(_Strict):
    """A swept parameter: explicit values (grid only), or bounds checked as every bounded parameter is."""

    path: str
    values: list[Any] | None = Field(None, min_length=1)
    low: float | None = None
    high: float | None = None
    levels: int | None = Field(None, ge=2, description="grid: points between low and high")
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _values_or_bounds(self) -> Parameter:
        bounds = self.low is not None or self.high is not None
        if self.values is not None and bounds:
            raise ValueError("give either values or low/high, not both")
        if self.values is None:
            if self.low is None or self.high is None:
                raise ValueError("expected values = [...] or both low and high")
            check_bounds(self.low, self.high, self.log)
        elif self.levels is not None:
            raise ValueError("levels goes with low/high, not with values")
        return self

    def bounded(self) -> Bounded:
        """The parameter as the analyses' bounded type (sampled designs and grid levels)."""
        assert self.low is not None and self.high is not None
        return Bounded(path=self.path, low=self.low, high=self.high, log=self.log, integer=self.integer)

    def grid_values(self) -> list[Any]:
        if self.values is not None:
            return list(self.values)
        assert self.levels is not None
        return self.bounded().from_unit(np.linspace(0.0, 1.0, self.levels))


class SweepSpec(_Strict):
    sweep: Meta
    design: Design = Field(default_factory=Design)
    set: dict[str, Any] = Field(default_factory=dict)
    parameter: list[Parameter] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        paths = [p.path for p in self.parameter]
        repeated = sorted({p for p in paths if paths.count(p) > 1})
        if repeated:
            raise ValueError(f"parameter: path(s) given twice: {', '.join(repeated)}")
        fixed = set(_flatten(self.set))
        both = sorted(fixed & set(paths))
        if both:
            raise ValueError(f"set: {', '.join(both)} also swept as a parameter")
        method = self.design.method
        for k, p in enumerate(self.parameter):
            if method == "grid" and p.values is None and p.levels is None:
                raise ValueError(f"parameter[{k}] ({p.path}): a grid needs values = [...] or levels with low/high")
            if method in SAMPLED and p.values is not None:
                raise ValueError(f"parameter[{k}] ({p.path}): design {method} samples between low and high, not values")
        if method in SAMPLED and self.design.samples is None:
            raise ValueError(f"design.samples: design {method} needs a number of samples")
        return self


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` and `{"a.b": 1}` both as `{"a.b": 1}`."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= _flatten(value, f"{path}.")
        else:
            flat[path] = value
    return flat


@dataclass(frozen=True)
class Run:
    """One run of a sweep: a design point with one seed."""

    run_id: str
    point: int
    seed: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    file: Path
    spec: SweepSpec
    sha256: str  # of the file's bytes: a resumed sweep must be the same file
    scenario_file: Path
    base: dict[str, Any]  # the base scenario's tables with [set] and days applied, not yet validated
    points: list[dict[str, Any]]
    unit: list[list[float]] | None  # sampled designs: the points in [0, 1]^d, for sensitivity analysis
    runs: list[Run]

    @property
    def name(self) -> str:
        return self.spec.sweep.name

    @property
    def metrics(self) -> list[str]:
        return list(self.spec.sweep.metrics)

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.spec.parameter]


def sampled(design: Design, params: Sequence[Bounded]) -> tuple[list[dict[str, Any]], np.ndarray]:
    """A sampled design (lhs, sobol, saltelli, morris) of `params`: its points in the scenario's units, and in
    [0, 1]^d ([point, parameter]), the order in which SALib's analysers take their runs. The sweep file's designs,
    and the sensitivity designs' (`sensitivity.py`), are made here; the sensitivity designs are SALib's, with
    `levels` (morris) and `second_order` (saltelli)."""
    d, n = len(params), design.samples or 0
    if design.method == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=d, rng=design.seed).random(n)
    elif design.method == "sobol":
        from scipy.stats import qmc

        unit = qmc.Sobol(d=d, scramble=True, rng=design.seed).random(n)
    else:
        from SALib.sample import morris, sobol

        problem = {"num_vars": d, "names": [p.path for p in params], "bounds": [[0.0, 1.0]] * d}
        if design.method == "saltelli":
            unit = sobol.sample(problem, n, calc_second_order=design.second_order, seed=design.seed)
        else:
            unit = morris.sample(problem, n, num_levels=design.levels, seed=design.seed)
    columns = [p.from_unit(unit[:, k]) for k, p in enumerate(params)]
    return [{p.path: columns[k][i] for k, p in enumerate(params)} for i in range(len(unit))], unit


def design_points(spec: SweepSpec) -> tuple[list[dict[str, Any]], list[list[float]] | None]:
    params = spec.parameter
    if spec.design.method == "grid":
        grid = itertools.product(*(p.grid_values() for p in params))
        return [dict(zip((p.path for p in params), values, strict=True)) for values in grid], None
    points, unit = sampled(spec.design, [p.bounded() for p in params])
    return points, [[float(x) for x in row] for row in unit]


def run_id(point: int, seed: int, n_points: int) -> str:
    """`p0003-s1`: design point and seed; zero-padded so that ids sort in design order within a seed."""
    width = max(4, len(str(n_points - 1)))
    return f"p{point:0{width}d}-s{seed}"


def read_spec(path: Path, schema: type[S], what: str, error: type[Exception]) -> tuple[S, bytes]:
    """A TOML file validated against `schema` (a sweep file's, a sensitivity design's), and its bytes; `error`
    naming the file and every field that does not validate."""
    raw, data = read_toml(path, what, error)
    try:
        return schema.model_validate(raw), data
    except ValidationError as err:
        raise error(f"{path}: invalid {what}\n" + field_errors(err)) from None


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file and the base scenario it names; raise SweepError or ScenarioError."""
    path = Path(path)
    spec, data = read_spec(path, SweepSpec, "sweep file", SweepError)
    scenario_file = (path.resolve().parent / spec.sweep.scenario).resolve()
    if not scenario_file.is_file():
        raise SweepError(f"{path}: field sweep.scenario: scenario file {scenario_file} not found")
    base = read_raw(scenario_file)
    for key, value in _flatten(spec.set).items():
        try:
            set_path(base, key, value)
        except ScenarioError as err:
            raise SweepError(f"{path}: field set.{key}: {err}") from None
    if spec.sweep.days is not None:
        set_path(base, "scenario.days", spec.sweep.days)
    for k, p in enumerate(spec.parameter):
        scenario_field(base, p.path, f"{path}: field parameter[{k}].path", scenario_file.name, SweepError)
    source = f"{scenario_file} with the [set] and days of {path}"
    scenario = validate(base, source)  # the base itself must be valid
    if spec.sweep.days is None and not sets_horizon([*_flatten(spec.set), *(p.path for p in spec.parameter)]):
        check_horizon(scenario, source)
    points, unit = design_points(spec)
    seeds = spec.sweep.seed_list
    runs = [
        Run(run_id(i, s, len(points)), i, s, point) for i, point in enumerate(points) for s in seeds
    ]  # design order, then seed
    return Sweep(path, spec, hashlib.sha256(data).hexdigest(), scenario_file, base, points, unit, runs)

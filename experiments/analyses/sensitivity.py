"""Global sensitivity analysis: Sobol and Morris indices of run metrics to scenario parameters.

A design file (TOML, validated; see `experiments/data/sensitivity/example.toml`) names a base
scenario, the parameters to vary (dotted scenario paths with bounds), the outputs (metric
names of `experiments/core/metrics.py`), the methods and their sizes, the seeds and the scale:

    [sensitivity]
    scenario = "../../scenarios/baseline.toml"   # relative to the design file
    outputs = ["cumulative_departures:all:2022-12-31", "stock_abroad:it:2022-12-31"]
    methods = ["sobol", "morris"]
    scale = 0.002
    seeds = 2                 # runs per design point
    seed_mode = "common"      # or "noise" (below)

    [sobol]                   # Saltelli's scheme: n (D + 2) design points, D parameters
    n = 16                    # a power of 2

    [morris]                  # Morris elementary effects: trajectories (D + 1) design points
    trajectories = 8
    levels = 4

    [parameters."behaviour.hazard.alarm"]
    low = 1.0
    high = 5.0
    log = false               # true: sampled uniformly in log space (low > 0)

The design points are a sweep file's: [sobol] is the `saltelli` design of a sweep
file, [morris] its `morris` design (`sweep_file.sampled`), a log parameter sampled
uniformly in log10(value) as every bounded parameter is; this module adds the runs
over the seeds and SALib's analysis.

Seeds. With `seed_mode = "common"` (the default) every design point runs with the same
seeds `first_seed .. first_seed + seeds - 1` and its output is their mean: common random
numbers, so two design points differ by their parameters and not by luck, and the indices
describe the seed-averaged output. A parameter that cannot act leaves the output exactly
unchanged and gets an index of exactly zero. With `seed_mode = "noise"` every design point
runs with seeds of its own: the seed noise then enters as variance no parameter explains
(first-order indices add up to less than one, and a parameter that cannot act gets an
index of the order of the noise).

Writes, all at once, to the output folder:

    indices.csv        method, output, parameter, index, value, conf
                       (sobol: S1, ST with their confidence half-widths; morris: mu_star with
                       its confidence half-width, mu and sigma)
    design.csv         every run: method, point, seed, the parameter values, the outputs
    sensitivity.png/.svg
    sensitivity.json   the design file, the resolved scenario's digest, runs, versions, git, times
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.metadata
import math
import textwrap
import time
import warnings
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from exodus.experiments.analyses.parameters import Bounded, scenario_field
from exodus.experiments.analyses.sweep_file import Design as SweepDesign
from exodus.experiments.analyses.sweep_file import read_spec, sampled
from exodus.experiments.core.metrics import MetricError, check_names, evaluate, parse
from exodus.experiments.core.outdir import check_replaceable, staged_dir
from exodus.experiments.core.pool import default_workers
from exodus.experiments.core.provenance import git_state, record, utc_now, write_record
from exodus.experiments.core.runner import Job, run_many, run_metrics
from exodus.model import RelocationModel, ScenarioError, load_scenario
from exodus.model.scenario import Bounds

MARKER = "sensitivity.json"


class SensitivityError(ValueError):
    """A design file that is missing, malformed or does not fit its scenario."""


# the design file ----------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN and inf refused


class Settings(_Strict):
    scenario: str = Field(description="base scenario file, relative to the design file")
    outputs: list[str] = Field(min_length=1, description="metric names (experiments/core/metrics.py)")
    methods: list[Literal["sobol", "morris"]] = Field(default=["sobol", "morris"], min_length=1)
    scale: float = Field(0.002, gt=0, le=1)
    seeds: int = Field(2, ge=1, le=100, description="runs per design point")
    first_seed: int = Field(0, ge=0)
    seed_mode: Literal["common", "noise"] = "common"
    sample_seed: int = Field(0, ge=0, description="seed of the samplers and the bootstrap")
    days: int | None = Field(None, ge=1, description="horizon; default: the last date an output needs")

    @field_validator("outputs")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        return check_names(value)


class SobolSettings(_Strict):
    n: int = Field(16, ge=2, description="base sample; a power of 2")
    resamples: int = Field(200, ge=10, description="bootstrap resamples for the confidence intervals")
    conf_level: float = Field(0.95, gt=0, lt=1)

    @field_validator("n")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(f"expected a power of 2 (8, 16, 32, ...), got {value}")
        return value


class MorrisSettings(_Strict):
    trajectories: int = Field(8, ge=2)
    levels: int = Field(4, ge=2, description="grid levels; even")
    resamples: int = Field(200, ge=10)
    conf_level: float = Field(0.95, gt=0, lt=1)

    @field_validator("levels")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(f"expected an even number of levels, got {value}")
        return value


class ParameterSpec(Bounds):
    """A parameter of the design: its bounds, checked as a scenario's free parameters are, and a label."""

    label: str | None = Field(None, description="short name for the figure")


class Spec(_Strict):
    sensitivity: Settings
    sobol: SobolSettings = SobolSettings()
    morris: MorrisSettings = MorrisSettings()
    parameters: dict[str, ParameterSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Design:
    """A validated design file with its scenario resolved."""

    file: Path
    spec: Spec
    scenario: Path
    scenario_name: str
    scenario_digest: str
    start: dt.date
    days: int
    parameters: list[Bounded]

    @property
    def settings(self) -> Settings:
        return self.spec.sensitivity

    @property
    def outputs(self) -> list[str]:
        return self.settings.outputs

    def problem(self) -> dict[str, Any]:
        """SALib's problem on the design's unit space, where the analysed points lie."""
        d = len(self.parameters)
        return {"num_vars": d, "names": [p.path for p in self.parameters], "bounds": [[0.0, 1.0]] * d}

    def seeds(self, point: int) -> list[int]:
        s = self.settings
        first = s.first_seed + (point * s.seeds if s.seed_mode == "noise" else 0)
        return list(range(first, first + s.seeds))


def load_design(path: str | Path) -> Design:
    """Read and validate a design file; every error names the file, the field and what was expected."""
    path = Path(path)
    spec, _ = read_spec(path, Spec, "sensitivity design", SensitivityError)

    settings = spec.sensitivity
    scenario_file = Path(settings.scenario)
    if not scenario_file.is_absolute():
        scenario_file = path.parent / scenario_file
    if not scenario_file.is_file():
        raise SensitivityError(
            f"{path}: field sensitivity.scenario: expected a scenario file (relative to the design file), "
            f"{scenario_file} not found"
        )
    base = load_scenario(scenario_file)
    raw_scenario = base.as_dict()  # with the fields the file leaves at their defaults

    params = []
    for name, p in spec.parameters.items():
        where = f"{path}: field parameters.{name}"
        current = scenario_field(raw_scenario, name, where, scenario_file.name, SensitivityError)
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise SensitivityError(f"{where}: expected a numeric field, the scenario has {current!r}")
        for bound in (p.low, p.high):
            try:
                load_scenario(scenario_file, {name: round(bound) if isinstance(current, int) else bound})
            except ScenarioError as err:
                raise SensitivityError(f"{where}: bound {bound} is not a valid value:\n{err}") from None
        bounds = p.model_dump(exclude={"label"})
        params.append(Bounded(path=name, **bounds, integer=isinstance(current, int), label=p.label or name))

    needed = 1
    for name in settings.outputs:
        for arg in parse(name).args:
            try:
                day = (dt.date.fromisoformat(arg) - base.start).days
            except ValueError:
                continue
            if day < 0:
                raise SensitivityError(f"{path}: field sensitivity.outputs: {name}: {arg} is before {base.start}")
            needed = max(needed, day + 1)
    days = settings.days if settings.days is not None else needed
    if days < needed:
        raise SensitivityError(f"{path}: field sensitivity.days: expected at least {needed} to cover the outputs")
    if days > base.days:
        raise SensitivityError(
            f"{path}: field sensitivity.outputs: a date lies beyond the scenario's horizon "
            f"({base.start} + {base.days} days)"
        )
    # a metric that does not fit the scenario (a location it lacks) fails now, not in the first run
    probe = RelocationModel(load_scenario(scenario_file, {"scenario.days": days}), rng=0, scale=settings.scale)
    try:
        evaluate(probe, settings.outputs)
    except MetricError as err:
        raise SensitivityError(f"{path}: field sensitivity.outputs: {err}") from None
    return Design(path, spec, scenario_file, base.scenario.name, base.digest(), base.start, days, params)


# sampling and analysis ------------------------------------------------------------------
def sweep_design(design: Design, method: str) -> SweepDesign:
    """A method as a sweep file's [design]: Saltelli's scheme for the Sobol indices, trajectories for Morris's."""
    seed = design.settings.sample_seed
    if method == "sobol":
        return SweepDesign(method="saltelli", samples=design.spec.sobol.n, seed=seed)
    m = design.spec.morris
    return SweepDesign(method="morris", samples=m.trajectories, seed=seed, levels=m.levels)


@dataclass
class Index:
    method: str
    output: str
    parameter: str
    index: str
    value: float
    conf: float


def analyse(design: Design, method: str, x: np.ndarray, y: np.ndarray) -> tuple[list[Index], list[str]]:
    """Indices of each output (x: the points in [0, 1]^d; y: [point, output], seed-averaged) and notes on what
    could not be estimated."""
    from SALib.analyze import morris, sobol

    problem, seed, names = design.problem(), design.settings.sample_seed, design.problem()["names"]
    rows: list[Index] = []
    notes: list[str] = []
    for k, output in enumerate(design.outputs):
        values = y[:, k]
        if method == "sobol":
            s = design.spec.sobol
            if np.ptp(values) == 0:
                notes.append(f"sobol: {output} did not vary across the design: its indices are undefined (NaN)")
                nan = np.full(len(names), np.nan)
                found = {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    found = sobol.analyze(
                        problem,
                        values,
                        calc_second_order=False,
                        num_resamples=s.resamples,
                        conf_level=s.conf_level,
                        seed=seed,
                    )
            for j, name in enumerate(names):
                for index in ("S1", "ST"):
                    rows.append(
                        Index(method, output, name, index, float(found[index][j]), float(found[f"{index}_conf"][j]))
                    )
        else:
            m = design.spec.morris
            found = morris.analyze(
                problem,
                x,
                values,
                num_resamples=m.resamples,
                conf_level=m.conf_level,
                num_levels=m.levels,
                seed=seed,
            )
            for j, name in enumerate(names):
                rows.append(
                    Index(method, output, name, "mu_star", float(found["mu_star"][j]), float(found["mu_star_conf"][j]))
                )
                rows.append(Index(method, output, name, "mu", float(found["mu"][j]), math.nan))
                rows.append(Index(method, output, name, "sigma", float(found["sigma"][j]), math.nan))
    return rows, notes


# runs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DesignRun:
    """A run of the design: the design point of a method, with one seed."""

    method: str
    point: int
    seed: int
    job: Job


def tasks(design: Design, points: dict[str, list[dict[str, Any]]]) -> list[DesignRun]:
    out = []
    for method, rows in points.items():
        for point, row in enumerate(rows):
            overrides = tuple(row.items())
            for seed in design.seeds(point):
                job = Job(str(design.scenario), overrides, seed, design.settings.scale, design.days)
                out.append(DesignRun(method, point, seed, job))
    return out


@dataclass
class Result:
    design: Design
    points: dict[str, list[dict[str, Any]]]  # method -> [point] {parameter: value in the scenario's units}
    unit: dict[str, np.ndarray]  # method -> [point, parameter], the points in [0, 1]^d
    runs: dict[str, np.ndarray]  # method -> [point, seed, output]
    indices: list[Index]
    notes: list[str]

    def mean(self, method: str) -> np.ndarray:
        return self.runs[method].mean(axis=1)

    def index(self, method: str, output: str, parameter: str, index: str) -> Index:
        for row in self.indices:
            if (row.method, row.output, row.parameter, row.index) == (method, output, parameter, index):
                return row
        raise KeyError((method, output, parameter, index))


def compute(design: Design, workers: int = 1, progress: bool = False) -> Result:
    """Sample (the sweep file's designs), run every design point over its seeds, and analyse."""
    designs = {method: sampled(sweep_design(design, method), design.parameters) for method in design.settings.methods}
    points = {method: rows for method, (rows, _) in designs.items()}
    unit = {method: x for method, (_, x) in designs.items()}
    todo = tasks(design, points)
    n_seeds, n_out = design.settings.seeds, len(design.outputs)
    runs = {m: np.full((len(rows), n_seeds, n_out), np.nan) for m, rows in points.items()}
    work = partial(run_metrics, names=tuple(design.outputs))
    bar = {"desc": "sensitivity", "unit": "run", "disable": not progress}
    with closing(run_many([t.job for t in todo], work, workers=workers, progress=bar)) as results:
        for k, values in results:
            task = todo[k]
            slot = design.seeds(task.point).index(task.seed)
            runs[task.method][task.point, slot] = [values[o] for o in design.outputs]
    indices: list[Index] = []
    notes: list[str] = []
    for method, x in unit.items():
        found, said = analyse(design, method, x, runs[method].mean(axis=1))
        indices += found
        notes += said
    return Result(design, points, unit, runs, indices, notes)


def run_sensitivity(
    design_file: str | Path, out: str | Path, *, workers: int | None = None, progress: bool = True
) -> Path:
    """Compute the indices of a design file and write its folder `out`, all at once; return it."""
    started, clock = utc_now(), time.perf_counter()
    design = load_design(design_file)
    out = Path(out)
    check_replaceable(out, MARKER, "a sensitivity result")
    workers = workers or default_workers()
    result = compute(design, workers, progress)

    with staged_dir(out, MARKER, "a sensitivity result") as staging:
        (staging / "indices.csv").write_text(indices_table(result.indices), encoding="utf-8", newline="")
        (staging / "design.csv").write_text(design_table(result), encoding="utf-8", newline="")
        plot_sensitivity(result, staging / "sensitivity.png")
        provenance = record(
            "sensitivity",
            started,
            time.perf_counter() - clock,
            design_file=str(design.file),
            design=design.spec.model_dump(mode="json"),
            scenario_path=str(design.scenario),
            scenario_name=design.scenario_name,
            scenario_digest=design.scenario_digest,
            days=design.days,
            seeds=(
                f"common: seeds {design.seeds(0)} at every design point; outputs averaged over them"
                if design.settings.seed_mode == "common"
                else f"noise: {design.settings.seeds} seed(s) of its own per design point (from "
                f"{design.settings.first_seed}); seed noise is variance no parameter explains"
            ),
            sampling={
                "sobol": "Saltelli's scheme on a scrambled Sobol sequence (SALib sample.sobol), first and total order",
                "morris": "Morris trajectories (SALib sample.morris), mu* with bootstrap confidence",
            },
            log_parameters_sampled_in="log10 space, as every bounded parameter (indices refer to its log)",
            runs={m: int(r.shape[0] * r.shape[1]) for m, r in result.runs.items()},
            design_points={m: int(r.shape[0]) for m, r in result.runs.items()},
            notes=result.notes,
            workers=workers,
            versions={"SALib": importlib.metadata.version("SALib")},
        )
        write_record(staging / MARKER, provenance)
    return out


# tables -----------------------------------------------------------------------------------
def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def indices_table(rows: list[Index]) -> str:
    lines = [["method", "output", "parameter", "index", "value", "conf"]]
    lines += [[r.method, r.output, r.parameter, r.index, _number(r.value), _number(r.conf)] for r in rows]
    return _csv(lines)


def design_table(result: Result) -> str:
    design = result.design
    lines: list[list[Any]] = [["method", "point", "seed", *(p.path for p in design.parameters), *design.outputs]]
    for method, rows in result.points.items():
        for point, row in enumerate(rows):
            values = [row[p.path] for p in design.parameters]
            for slot, seed in enumerate(design.seeds(point)):
                outputs = result.runs[method][point, slot]
                lines.append([method, point, seed, *(f"{v:.8g}" for v in values), *(f"{v:.8g}" for v in outputs)])
    return _csv(lines)


def _csv(rows: list[list[Any]]) -> str:
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


# figure -------------------------------------------------------------------------------------
S1_COLOUR, ST_COLOUR = "#2166ac", "#b2182b"


def _short(value: float, _pos: object = None) -> str:
    value = float(value)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}"


def plot_sensitivity(result: Result, out_png: str | Path) -> Path:
    """Per output (rows): Sobol S1 and ST bars with confidence bars; Morris mu* against sigma. PNG and SVG."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    design = result.design
    methods = list(result.points)
    params = design.parameters
    n_out = len(design.outputs)
    caption = _caption(result)
    n_lines = caption.count("\n") + 1
    panel_h = max(2.6, 0.42 * len(params) + 1.2)
    fig = Figure(figsize=(6.2 * len(methods) + 1.0, panel_h * n_out + 0.9 + 0.15 * n_lines), layout="constrained")
    grid = fig.add_gridspec(n_out + 1, len(methods), height_ratios=[panel_h] * n_out + [0.15 * n_lines + 0.1])
    labels = [p.label for p in params]
    for i, output in enumerate(design.outputs):
        for j, method in enumerate(methods):
            ax = fig.add_subplot(grid[i, j])
            if method == "sobol":
                ypos = np.arange(len(params))
                height = 0.38
                for offset, index, colour in ((-height / 2, "S1", S1_COLOUR), (height / 2, "ST", ST_COLOUR)):
                    rows = [result.index(method, output, p.path, index) for p in params]
                    values = np.array([r.value for r in rows])
                    conf = np.array([r.conf for r in rows])
                    label = "first order S1" if index == "S1" else "total ST"
                    ax.barh(ypos + offset, np.nan_to_num(values), height, color=colour, label=label)
                    ax.errorbar(
                        np.nan_to_num(values),
                        ypos + offset,
                        xerr=np.nan_to_num(conf),
                        fmt="none",
                        ecolor="0.2",
                        lw=1,
                        capsize=2.5,
                    )
                ax.set_yticks(ypos, labels, fontsize=8)
                ax.invert_yaxis()
                ax.axvline(0, color="0.3", lw=0.8)
                # indices lie in [0, 1]; estimates and their bars stray outside on small designs, drawn up to [-1, 2]
                left, right = ax.get_xlim()
                ax.set_xlim(max(-1.0, min(-0.05, left)), min(2.0, max(1.05, right)))
                ax.set_xlabel(f"Sobol index (share of output variance; bars: {design.spec.sobol.conf_level:.0%} conf.)")
                ax.grid(True, axis="x", alpha=0.3)
                ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
            else:
                mu = np.array([result.index(method, output, p.path, "mu_star").value for p in params])
                conf = np.array([result.index(method, output, p.path, "mu_star").conf for p in params])
                sigma = np.array([result.index(method, output, p.path, "sigma").value for p in params])
                ax.errorbar(mu, sigma, xerr=conf, fmt="o", color="#1b7837", ecolor="0.6", ms=5, capsize=2.5)
                top = max(float(np.nanmax(mu + conf)), float(np.nanmax(sigma)), 1e-12) * 1.15
                ax.plot([0, top], [0, top], ls="--", color="0.6", lw=0.8, label="sigma = mu*")
                _label_points(ax, mu / top, sigma / top, mu, sigma, labels)
                ax.set_xlim(-0.02 * top, top)
                ax.set_ylim(-0.02 * top, top)
                ax.xaxis.set_major_formatter(FuncFormatter(_short))
                ax.yaxis.set_major_formatter(FuncFormatter(_short))
                ax.set_xlabel(
                    f"mu* (mean |elementary effect|, output units; bars: {design.spec.morris.conf_level:.0%} conf.)"
                )
                ax.set_ylabel("sigma (spread of effects)")
                ax.grid(True, alpha=0.3)
                ax.legend(fontsize=7.5, loc="upper left")
            title = "Sobol" if method == "sobol" else "Morris"
            ax.set_title(f"{title}: {output}", fontsize=9.5, loc="left")
    note = fig.add_subplot(grid[n_out, :])
    note.axis("off")
    note.text(0.0, 1.0, caption, va="top", ha="left", fontsize=7.5, transform=note.transAxes)
    fig.suptitle(f"Sensitivity of outputs to parameters: scenario '{design.scenario_name}'", fontsize=12)
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=130)
    fig.savefig(out_png.with_suffix(".svg"))
    return out_png


def _label_points(ax: Any, x: np.ndarray, y: np.ndarray, xd: np.ndarray, yd: np.ndarray, labels: list[str]) -> None:
    """Label each point beside it; a label that would sit on one already placed goes a line lower."""
    placed: list[tuple[float, float]] = []
    for k in np.argsort(-y):
        lines = 0
        while any(abs(x[k] - px) < 0.25 and abs(y[k] - 0.045 * lines - py) < 0.04 for px, py in placed):
            lines += 1
        placed.append((x[k], y[k] - 0.045 * lines))
        ax.annotate(
            labels[k],
            (xd[k], yd[k]),
            xytext=(5, 3 - 11 * lines),
            textcoords="offset points",
            fontsize=7.5,
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if lines else None,
        )


def _caption(result: Result) -> str:
    design, s = result.design, result.design.settings
    runs = {m: r.shape[0] * r.shape[1] for m, r in result.runs.items()}
    seeds = (
        f"each design point run with the same {s.seeds} seed(s) {design.seeds(0)} and averaged (common random numbers)"
        if s.seed_mode == "common"
        else f"each design point run with {s.seeds} seed(s) of its own: seed noise included as unexplained variance"
    )
    sizes = ", ".join(f"{m} {runs[m]} runs ({result.runs[m].shape[0]} points)" for m in result.runs)
    ranges = "; ".join(
        f"{p.label} = {p.path} in [{p.low:g}, {p.high:g}]{' (log)' if p.log else ''}" for p in design.parameters
    )
    git = git_state()
    commit = git["commit"][:10] + (" (uncommitted changes)" if git.get("dirty") else "")
    text = (
        f"Model outputs, not reported figures: scenario {design.scenario.name} at scale {s.scale:g}, "
        f"{design.days} days from {design.start}; {seeds}. Design: {sizes}; sampler seed {s.sample_seed}. "
        f"Parameters: {ranges}. Outputs are metric names of experiments/core/metrics.py (persons). "
        f"Sobol: Saltelli scheme, S1 = first order, ST = total order, bars = bootstrap confidence; "
        f"Morris: mu* = mean absolute elementary effect, sigma = its spread (above the dashed line: non-linear "
        f"or interacting). Commit {commit}."
    )
    return "\n".join(textwrap.wrap(text, 40 + 75 * len(result.points)))

"""Driver attribution: how much of the outflow each driver accounts for, by exact Shapley values.

A driver (mobilisation, sanctions, ...) is a set of scenario changes that switch it off; the
definitions are data, in `experiments/data/drivers.toml`. With k drivers the scenario is run in all
2^k combinations of drivers on (as in the scenario) or off, over the same seeds (common random
numbers: the runs of one seed differ only by the drivers switched, so their differences are
the drivers' effects, not noise). For a measure v (cumulative departures from Russia by date,
all and IT; cumulative arrivals at each destination by date) and a seed, driver i gets

    phi_i = sum over S not holding i of |S|! (k - |S| - 1)! / k! * (v(S + i) - v(S))

where v(S) is the measure with the drivers in S on and the others off. The contributions add up
exactly (Shapley's efficiency):

    sum_i phi_i + v(no driver on) = v(every driver on) = the scenario as given,

and v(no driver on) is reported as `other`: the outflow the drivers do not account for (the
invasion shock itself, pre-war wishes to emigrate, contacts abroad, ...). A driver that the
scenario already has off changes nothing and gets exactly 0. The decomposition is computed seed
by seed; the tables give the mean and the 5th and 95th percentiles across seeds (means add up
exactly, percentiles need not).

Scenarios that come out identical (a driver already off) are run once: runs are keyed by the
resolved scenario's digest and the seed.

Writes, all at once, to the output folder:

    attribution.csv       date, measure, driver, mean, p05, p95 (persons; driver is a driver's
                          name, `other` or `total`)
    attribution.png/.svg  stacked contributions to cumulative departures over time, each driver
                          with its band, and contributions by destination at a date
    attribution.json      scenario, drivers and what they switch off, seeds, scale, runs, versions,
                          git, times
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import textwrap
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exodus.experiments.core.outdir import check_replaceable, staged_dir
from exodus.experiments.core.pool import default_workers
from exodus.experiments.core.provenance import git_state, record, utc_now, write_record
from exodus.experiments.core.runner import Job, run, run_many
from exodus.experiments.data import DRIVERS_FILE
from exodus.model import ScenarioError, load_scenario
from exodus.model.files import field_errors, read_toml

MARKER = "attribution.json"
OTHER, TOTAL = "other", "total"
HOME = "RU"
QUANTILES = (0.05, 0.95)


class AttributionError(ValueError):
    """A drivers file or a choice of drivers that cannot be used."""


# drivers -------------------------------------------------------------------------------------
class _DriverSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # NaN and inf refused

    label: str
    description: str
    counterfactual: str | None = Field(None, description="scenario file that switches this driver off alone")
    off: dict[str, Any] = Field(min_length=1, description="dotted scenario paths and the values that switch it off")


@dataclass(frozen=True)
class Driver:
    name: str
    label: str
    description: str
    off: dict[str, Any]
    counterfactual: str | None = None


def load_drivers(path: str | Path = DRIVERS_FILE, names: Sequence[str] | None = None) -> list[Driver]:
    """The drivers of a drivers file, all or the `names` asked for (in that order)."""
    path = Path(path)
    raw, _ = read_toml(path, "drivers file", AttributionError)
    drivers = []
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise AttributionError(f"{path}: field {name}: expected a table [{name}] describing a driver")
        try:
            spec = _DriverSpec.model_validate(table)
        except ValidationError as err:
            raise AttributionError(f"{path}: invalid driver\n" + field_errors(err, prefix=f"{name}.")) from None
        drivers.append(Driver(name, spec.label, spec.description, dict(spec.off), spec.counterfactual))
    if names is None:
        chosen = drivers
    else:
        by_name = {d.name: d for d in drivers}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise AttributionError(f"{path}: no driver(s) {', '.join(unknown)}; expected some of {sorted(by_name)}")
        if len(set(names)) != len(names):
            raise AttributionError(f"driver named twice in {list(names)}")
        chosen = [by_name[n] for n in names]
    if not chosen:
        raise AttributionError(f"{path}: no drivers")
    if len(chosen) > 10:
        raise AttributionError(f"{len(chosen)} drivers would need 2^{len(chosen)} scenarios; choose at most 10")
    return chosen


def switched_off(drivers: Sequence[Driver], on: int) -> dict[str, Any]:
    """Overrides of the combination whose bit i says driver i is on (1) or off (0)."""
    overrides: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for i, driver in enumerate(drivers):
        if on >> i & 1:
            continue
        for key, value in driver.off.items():
            if key in overrides and overrides[key] != value:
                raise AttributionError(
                    f"drivers {owner[key]} and {driver.name} set {key} to different values "
                    f"({overrides[key]!r}, {value!r})"
                )
            overrides[key], owner[key] = value, driver.name
    return overrides


def shapley(values: np.ndarray) -> np.ndarray:
    """Exact Shapley values: `values` [2^k, ...] indexed by the bits of drivers on -> [k, ...]."""
    n = values.shape[0]
    k = n.bit_length() - 1
    if n != 1 << k:
        raise ValueError(f"expected 2^k combinations, got {n}")
    phi = np.zeros((k, *values.shape[1:]))
    masks = np.arange(n)
    size = np.array([bin(m).count("1") for m in masks])
    weight = np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) if s < k else 0 for s in size])
    for i in range(k):
        bit = 1 << i
        without = masks[(masks & bit) == 0]
        marginal = values[without | bit] - values[without]
        phi[i] = np.tensordot(weight[without], marginal, axes=(0, 0))
    return phi


# runs --------------------------------------------------------------------------------------
def trajectories(job: Job) -> np.ndarray:
    """Cumulative departures from Russia (all, IT) and arrivals at each destination (all segments), [day, measure]."""
    model = run(job)
    per_agent = model.workers.persons_per_agent.astype(np.float64)
    departures = model.tally.departures[:, 0, :] * per_agent  # [day, segment]
    arrivals = (model.tally.arrivals[:, 1:, :] * per_agent).sum(axis=2)  # [day, destination]
    daily = np.column_stack([departures.sum(axis=1), departures[:, 0], arrivals])
    return np.cumsum(daily, axis=0)


@dataclass
class Attribution:
    """The 2^k runs of every seed and their Shapley decomposition."""

    scenario: Path
    scenario_name: str
    scenario_digest: str
    drivers: list[Driver]
    seeds: list[int]
    scale: float
    start: dt.date
    days: int
    codes: list[str]  # destinations, in the measures' order
    values: np.ndarray  # [2^k, seed, day, measure]: v(drivers on)
    digests: list[str]  # per combination
    elapsed: dict[str, float] = field(default_factory=dict)

    @property
    def measures(self) -> list[str]:
        return ["cumulative_departures:all", "cumulative_departures:it"] + [
            f"cumulative_arrivals:{c}" for c in self.codes
        ]

    @property
    def phi(self) -> np.ndarray:
        """[driver, seed, day, measure]"""
        return shapley(self.values)

    @property
    def other(self) -> np.ndarray:
        """[seed, day, measure]: every driver off."""
        return self.values[0]

    @property
    def total(self) -> np.ndarray:
        """[seed, day, measure]: the scenario as given."""
        return self.values[-1]

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=t) for t in range(self.days)]

    def day(self, date: dt.date | str) -> int:
        date = dt.date.fromisoformat(date) if isinstance(date, str) else date
        t = (date - self.start).days
        if not 0 <= t < self.days:
            raise AttributionError(f"date {date}: outside the runs ({self.start} + {self.days} days)")
        return t

    def measure(self, name: str) -> int:
        return self.measures.index(name)

    def parts(self) -> dict[str, np.ndarray]:
        """Each driver's contribution, `other` and `total`, [seed, day, measure]."""
        phi = self.phi
        out = {d.name: phi[i] for i, d in enumerate(self.drivers)}
        return out | {OTHER: self.other, TOTAL: self.total}

    def unique_runs(self) -> int:
        return len(set(self.digests)) * len(self.seeds)


def attribute(
    scenario: str | Path,
    drivers: Sequence[Driver] | None = None,
    *,
    seeds: int | Sequence[int] = 3,
    scale: float = 0.01,
    until: dt.date | str | None = None,
    workers: int = 1,
    progress: bool = False,
) -> Attribution:
    """Run the 2^k combinations of drivers over the seeds (seeds 0..N-1 for an int) and decompose."""
    scenario = Path(scenario)
    drivers = list(drivers) if drivers is not None else load_drivers()
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise AttributionError("at least one seed is needed")
    base = load_scenario(scenario)
    days = base.days
    if until is not None:
        until = dt.date.fromisoformat(until) if isinstance(until, str) else until
        days = (until - base.start).days + 1
        if not 1 <= days <= base.days:
            raise AttributionError(f"--until {until}: expected a date from {base.start} to {base.date(base.days - 1)}")
    n = 1 << len(drivers)
    combos, digests = [], []
    for on in range(n):
        overrides = switched_off(drivers, on) | {"scenario.days": days}
        try:
            resolved = load_scenario(scenario, overrides)
        except ScenarioError as err:
            off = [d.name for i, d in enumerate(drivers) if not on >> i & 1]
            raise AttributionError(f"switching off {', '.join(off)} in {scenario}:\n{err}") from None
        combos.append(tuple(sorted(overrides.items(), key=lambda kv: kv[0])))
        digests.append(resolved.digest())
    jobs: list[Job] = []
    keys: list[tuple[str, int]] = []  # (digest, seed) of each job
    for on, digest in enumerate(digests):
        if any(key[0] == digest for key in keys):
            continue  # the same scenario as a combination already queued: run once
        overrides = tuple(kv for kv in combos[on] if kv[0] != "scenario.days")
        for seed in seeds:
            jobs.append(Job(str(scenario), overrides, seed, scale, days))
            keys.append((digest, seed))
    found: dict[tuple[str, int], np.ndarray] = {}
    clock = time.perf_counter()
    bar = {"desc": "attribute", "unit": "run", "disable": not progress}
    with closing(run_many(jobs, trajectories, workers=workers, progress=bar)) as results:
        for k, values in results:
            found[keys[k]] = values
    codes = [c for c in base.locations if c != HOME]
    values = np.stack([np.stack([found[digests[on], seed] for seed in seeds]) for on in range(n)])
    return Attribution(
        scenario,
        base.scenario.name,
        base.digest(),
        list(drivers),
        seeds,
        scale,
        base.start,
        days,
        codes,
        values,
        digests,
        {"runs_seconds": round(time.perf_counter() - clock, 3)},
    )


# tables --------------------------------------------------------------------------------------
def summary(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, p05, p95 across seeds (axis 0)."""
    return parts.mean(axis=0), np.quantile(parts, QUANTILES[0], axis=0), np.quantile(parts, QUANTILES[1], axis=0)


def attribution_table(result: Attribution) -> str:
    parts = result.parts()
    stats = {name: summary(p) for name, p in parts.items()}
    buf = io.StringIO()
    buf.write("date,measure,driver,mean,p05,p95\n")
    for t, date in enumerate(result.dates()):
        day = date.isoformat()
        for m, measure in enumerate(result.measures):
            for name, (mean, low, high) in stats.items():
                buf.write(f"{day},{measure},{name},{mean[t, m]:.1f},{low[t, m]:.1f},{high[t, m]:.1f}\n")
    return buf.getvalue()


def write_attribution(
    result: Attribution, out: str | Path, *, at: dt.date | str | None = None, started: str | None = None
) -> Path:
    """Write attribution.csv, attribution.png/.svg and attribution.json to `out`, all at once."""
    clock = time.perf_counter()
    out = Path(out)
    check_replaceable(out, MARKER, "an attribution")
    at = default_date(result) if at is None else (dt.date.fromisoformat(at) if isinstance(at, str) else at)
    result.day(at)
    with staged_dir(out, MARKER, "an attribution") as staging:
        (staging / "attribution.csv").write_text(attribution_table(result), encoding="utf-8", newline="")
        plot_attribution(result, staging / "attribution.png", at)
        provenance = record(
            "attribution",
            started or utc_now(),
            result.elapsed.get("runs_seconds", 0.0) + time.perf_counter() - clock,
            scenario_path=str(result.scenario),
            scenario_name=result.scenario_name,
            scenario_digest=result.scenario_digest,
            drivers=[
                {"name": d.name, "label": d.label, "switched_off_by": d.off, "description": d.description}
                for d in result.drivers
            ],
            combinations=1 << len(result.drivers),
            distinct_scenarios=len(set(result.digests)),
            runs=result.unique_runs(),
            seeds=result.seeds,
            scale=result.scale,
            start=result.start.isoformat(),
            days=result.days,
            bar_chart_date=at.isoformat(),
            method="exact Shapley values over the 2^k combinations of drivers on/off, seed by seed (common "
            "random numbers); mean and 5th/95th percentiles across seeds; 'other' = every driver off, "
            "'total' = the scenario as given = other + sum of the drivers (per seed and in the mean)",
            measures=result.measures,
        )
        write_record(staging / MARKER, provenance)
    return out


def default_date(result: Attribution) -> dt.date:
    """End of 2022 when the runs reach it, else their last day."""
    end_2022 = dt.date(2022, 12, 31)
    last = result.start + dt.timedelta(days=result.days - 1)
    return end_2022 if result.start <= end_2022 <= last else last


def run_attribution(
    scenario: str | Path,
    out: str | Path,
    *,
    drivers: Sequence[str] | None = None,
    drivers_file: str | Path = DRIVERS_FILE,
    seeds: int = 3,
    scale: float = 0.01,
    until: str | dt.date | None = None,
    at: str | dt.date | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """`exodus attribute`: check everything, run, write the folder; return it."""
    started = utc_now()
    out = Path(out)
    check_replaceable(out, MARKER, "an attribution")
    chosen = load_drivers(drivers_file, drivers)
    base = load_scenario(scenario)
    if at is not None:
        at = dt.date.fromisoformat(at) if isinstance(at, str) else at
        last = dt.date.fromisoformat(until) if isinstance(until, str) else (until or base.date(base.days - 1))
        if not base.start <= at <= last:
            raise AttributionError(f"--at {at}: expected a date from {base.start} to {last}")
    result = attribute(
        scenario, chosen, seeds=seeds, scale=scale, until=until, workers=workers or default_workers(), progress=progress
    )
    return write_attribution(result, out, at=at, started=started)


# figure --------------------------------------------------------------------------------------
OTHER_COLOUR = "#bdbdbd"
PALETTE = ["#d73027", "#4575b4", "#1a9850", "#984ea3", "#ff7f00", "#e7298a", "#a6761d", "#66a61e", "#7570b3", "#e6ab02"]


def _persons(value: float, _pos: object = None) -> str:
    value = float(value)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + unit
    return f"{value:.0f}"


def plot_attribution(result: Attribution, out_png: str | Path, at: dt.date) -> Path:
    """Stacked contributions over time (all, IT), each driver with its band, and by destination at `at`."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    parts = result.parts()
    colours = {d.name: PALETTE[i % len(PALETTE)] for i, d in enumerate(result.drivers)} | {OTHER: OTHER_COLOUR}
    labels = {d.name: d.label for d in result.drivers} | {OTHER: "other (all drivers off)"}
    dates = np.array(result.dates(), dtype="datetime64[D]")
    caption = _caption(result, at)
    n_lines = caption.count("\n") + 1

    fig = Figure(figsize=(15, 13.5 + 0.16 * n_lines), layout="constrained")
    grid = fig.add_gridspec(4, 2, height_ratios=[4.2, 3.2, 3.6, 0.16 * n_lines + 0.1])
    for col, (measure, title) in enumerate(
        (("cumulative_departures:all", "all segments"), ("cumulative_departures:it", "IT workers"))
    ):
        m = result.measure(measure)
        stack = fig.add_subplot(grid[0, col])
        _stacked(stack, dates, {k: v[:, :, m].mean(axis=0) for k, v in parts.items()}, colours, labels)
        mean, low, high = summary(parts[TOTAL][:, :, m])
        stack.plot(dates, mean, color="black", lw=1.6, label="total (scenario as given)")
        stack.plot(dates, low, color="black", lw=0.8, ls="--", label="total, 5% and 95% across seeds")
        stack.plot(dates, high, color="black", lw=0.8, ls="--")
        stack.set_title(f"Cumulative departures from Russia, {title}: contributions (mean)", fontsize=10, loc="left")
        stack.set_ylabel("persons (cumulative since start)")
        bands = fig.add_subplot(grid[1, col], sharex=stack)
        for d in result.drivers:
            mean, low, high = summary(parts[d.name][:, :, m])
            bands.plot(dates, mean, color=colours[d.name], lw=1.5, label=labels[d.name])
            bands.fill_between(dates, low, high, color=colours[d.name], alpha=0.2, lw=0)
        bands.axhline(0, color="0.3", lw=0.8)
        bands.set_title(f"Each driver's contribution, {title}: mean and 5-95% across seeds", fontsize=10, loc="left")
        bands.set_ylabel("persons")
        for ax in (stack, bands):
            ax.yaxis.set_major_formatter(FuncFormatter(_persons))
            ax.grid(True, alpha=0.3)
            ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, round(result.days / 30 / 8))))
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
            ax.set_xlim(dates[0], dates[-1])
            ax.axvline(np.datetime64(at, "D"), color="0.4", ls=":", lw=1)
        bands.set_xlabel("date")
        bottom, top = stack.get_ylim()
        stack.set_ylim(bottom, top + 0.35 * (top - bottom))  # room for the legend above the curves
        stack.legend(fontsize=7.5, loc="upper left", ncols=2)

    bars = fig.add_subplot(grid[2, :])
    _by_destination(bars, result, parts, at, colours, labels)
    handles = [Patch(color=colours[k], label=labels[k]) for k in [OTHER, *(d.name for d in result.drivers)]]
    bars.legend(handles=handles, fontsize=8, loc="upper right", ncols=2)

    note = fig.add_subplot(grid[3, :])
    note.axis("off")
    note.text(0.0, 1.0, caption, va="top", ha="left", fontsize=7.5, transform=note.transAxes)
    fig.suptitle(
        f"What drove the outflow? Shapley attribution for scenario '{result.scenario_name}' "
        f"({len(result.seeds)} seeds, scale {result.scale:g})",
        fontsize=13,
    )
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=120)
    fig.savefig(out_png.with_suffix(".svg"))
    return out_png


def _stacked(ax: Any, dates: np.ndarray, means: dict[str, np.ndarray], colours: dict, labels: dict) -> None:
    """Positive contributions stacked up from 0 (other first), negative ones down from 0."""
    up = np.zeros(len(dates))
    down = np.zeros(len(dates))
    for name in [OTHER, *(k for k in means if k not in (OTHER, TOTAL))]:
        values = means[name]
        pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
        drawn = False
        if pos.any():
            ax.fill_between(dates, up, up + pos, color=colours[name], alpha=0.85, lw=0, label=labels[name])
            drawn = True
        if neg.any():
            ax.fill_between(
                dates,
                down + neg,
                down,
                color=colours[name],
                alpha=0.85,
                lw=0,
                hatch="///",
                ec="white",
                label=None if drawn else labels[name],
            )
            drawn = True
        if not drawn:
            ax.fill_between([], [], [], color=colours[name], label=f"{labels[name]} (0)")
        up += pos
        down += neg
    ax.axhline(0, color="0.3", lw=0.8)


def _by_destination(ax: Any, result: Attribution, parts: dict, at: dt.date, colours: dict, labels: dict) -> None:
    from matplotlib.ticker import FuncFormatter

    t = result.day(at)
    idx = [result.measure(f"cumulative_arrivals:{c}") for c in result.codes]
    totals = parts[TOTAL][:, t, idx].mean(axis=0)
    order = np.argsort(-totals)
    x = np.arange(len(order))
    up = np.zeros(len(order))
    down = np.zeros(len(order))
    for name in [OTHER, *(d.name for d in result.drivers)]:
        values = parts[name][:, t, idx].mean(axis=0)[order]
        pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
        ax.bar(x, pos, 0.7, bottom=up, color=colours[name])
        ax.bar(x, neg, 0.7, bottom=down, color=colours[name], hatch="///", edgecolor="white")
        up += pos
        down += neg
    mean, low, high = summary(parts[TOTAL][:, t, idx])
    ax.errorbar(
        x,
        mean[order],
        yerr=[mean[order] - low[order], high[order] - mean[order]],
        fmt="D",
        color="black",
        ms=4,
        capsize=3,
        label="total, 5-95%",
    )
    ax.set_xticks(x, [result.codes[i] for i in order])
    ax.axhline(0, color="0.3", lw=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(_persons))
    ax.set_ylabel("persons (cumulative arrivals)")
    ax.set_xlabel("destination (ISO code; EU = Schengen area without Finland)")
    ax.set_title(
        f"Cumulative arrivals by destination on {at:%d %b %Y} (incl. moves between destinations): contributions "
        "(mean; hatched = negative) and the total (diamond, 5-95% across seeds)",
        fontsize=10,
        loc="left",
    )
    ax.grid(True, axis="y", alpha=0.3)


def _caption(result: Attribution, at: dt.date) -> str:
    git = git_state()
    commit = git["commit"][:10] + (" (uncommitted changes)" if git.get("dirty") else "")
    t = result.day(at)
    m = result.measure("cumulative_departures:all")
    parts = result.parts()
    total = parts[TOTAL][:, t, m].mean()
    if total > 0:
        shares = ", ".join(f"{d.label} {parts[d.name][:, t, m].mean() / total:+.0%}" for d in result.drivers)
        shares += f", other {parts[OTHER][:, t, m].mean() / total:.0%}"
    else:
        shares = "no departures"
    head = (
        f"Model outputs, not reported figures: scenario {result.scenario} (digest {result.scenario_digest[:12]}), "
        f"{result.days} days from {result.start}, scale {result.scale:g}, seeds {result.seeds}; commit {commit}. "
        f"Each driver switched on (as in the scenario) or off in all {1 << len(result.drivers)} combinations "
        f"({len(set(result.digests))} distinct scenarios, {result.unique_runs()} runs); contributions are exact "
        f"Shapley values computed seed by seed with common random numbers, then averaged; they add up to the "
        f"total: other (every driver off: the invasion shock and everything else) + drivers = total; in the "
        f"stacked panels negative contributions (hatched) are stacked below zero, so the total line is the stack "
        f"above zero less the stack below. "
        f"Shares of cumulative departures (all) on {at}: {shares}. Switched off (experiments/data/drivers.toml):"
    )
    lines = textwrap.wrap(head, 230)
    for d in result.drivers:
        changes = ", ".join(f"{k} = {json.dumps(v)}" for k, v in d.off.items())
        lines += textwrap.wrap(f"- {d.label}: {d.description} [{changes}]", 230, subsequent_indent="    ")
    return "\n".join(lines)

"""The results figure: outflow, destinations, stocks abroad, returns and scenario comparisons, with bands.

Drawn from folders on disk (runs, batches, sweeps; see `results.py`), one
colour per ensemble (a batch's scenario, a sweep, a run). Lines are the
median over an ensemble's runs, date by date; bands run from the 5th to the
95th percentile over ten runs or more, and from the lowest to the highest run
below ten (three seeds have no 5th percentile to speak of). Reported figures are drawn on the cumulative panel as in
`plot.py` (anchored on the baseline's median). Comparisons take each seed's
difference from the baseline run with the same seed (common random
numbers: the same seed draws the same random numbers wherever two scenarios
agree), then the median and percentiles of those differences, so the band
is the uncertainty of the effect, not the spread of either scenario.
"""

from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from exodus.experiments.plot import CAPTION_WIDTH, _caption, _centred_mean, _drawable, _persons, _positive, _reported
from exodus.experiments.results import ALL, Ensemble, ResultsError, load_folder
from exodus.experiments.targets import load_targets

HOME = "RU"
BASELINE_COLOUR = "#1a1a1a"
BASELINE_BAND = "#9e9e9e"
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#17becf"]
DESTINATION_PANELS = 7  # the top destinations get a panel each; the rest share the last one
BAND = (5.0, 95.0)
PERCENTILE_RUNS = 10  # fewer runs than this: the band is their range (min-max), and says so
# rows of the figure's grid; destinations take two rows, the caption the last one
ROW = {"legend": 0, "daily": 1, "cumulative": 2, "destinations": 3, "stock": 5, "difference": 6}


class PlotError(ValueError):
    """Inputs that cannot be drawn together."""


@dataclass(frozen=True)
class Shown:
    ensemble: Ensemble
    colour: str
    label: str
    band: tuple[str, float]  # colour and opacity of its band: light enough to see the others through it


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and band over members (axis 0): p05 and p95 from PERCENTILE_RUNS members, else min and max."""
    if values.shape[0] < PERCENTILE_RUNS:
        return np.median(values, axis=0), values.min(axis=0), values.max(axis=0)
    low, median, high = np.percentile(values, [BAND[0], 50.0, BAND[1]], axis=0)
    return median, low, high


def band_name(sizes: list[int]) -> str:
    """What the bands over ensembles of these sizes (runs, or seeds compared) are."""
    banded = [n for n in sizes if n > 1]
    if all(n < PERCENTILE_RUNS for n in banded):
        return "min-max over runs"
    if all(n >= PERCENTILE_RUNS for n in banded):
        return "5th-95th percentile over runs"
    return f"5th-95th percentile over runs (min-max where fewer than {PERCENTILE_RUNS} runs)"


def _draw(ax: Axes, dates: np.ndarray, values: np.ndarray, shown: Shown, *, log: bool = False, **line: object) -> None:
    median, low, high = _band(values)
    if log:
        median, low, high = _positive(median), _positive(low), _positive(high)
    if values.shape[0] > 1:
        ax.fill_between(dates, low, high, color=shown.band[0], alpha=shown.band[1], lw=0)
    on_top = 2.6 if shown.colour == BASELINE_COLOUR else 2.2  # the baseline stays visible where others match it
    ax.plot(dates, median, color=shown.colour, lw=line.pop("lw", 1.7), zorder=on_top, **line)  # type: ignore[arg-type]


def _label(ens: Ensemble) -> str:
    if ens.kind == "sweep":
        return f"{ens.label} ({ens.size} runs, parameters and seeds)"
    if ens.size == 1:
        return ens.label
    return f"{ens.label} ({ens.size} seeds)"


def _pick_baseline(ensembles: list[Ensemble], name: str | None) -> int:
    labels = [e.label for e in ensembles]
    if name is not None:
        if name not in labels:
            raise PlotError(f"--baseline {name!r}: not among the inputs ({', '.join(labels)})")
        return labels.index(name)
    return labels.index("baseline") if "baseline" in labels else 0


def _date_axis(ax: Axes, first: np.datetime64, last: np.datetime64, *, ticks: int = 14) -> None:
    """Month ticks, at most about `ticks` labelled: 14 across the page, fewer on narrow panels."""
    months = max(1, int((last - first).astype(int)) // 30)
    per_tick = max(1, math.ceil(months / ticks))
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonthday=1, interval=per_tick))
    ax.xaxis.set_minor_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m" if ticks > 8 else "%b %Y"))
    ax.set_xlim(first, last + np.timedelta64(1, "D"))


def _style(ax: Axes, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(_persons))
    ax.grid(True, alpha=0.3)


def _cumulative(ens: Ensemble, column: str, location: str | None, segment: str | None = None) -> np.ndarray:
    return np.cumsum(ens.series(column, location, segment), axis=1)


def _abroad(ens: Ensemble) -> np.ndarray:
    return ens.series("stock", None) - ens.series("stock", HOME)


def plot_results(
    folders: list[str | Path],
    out: str | Path,
    *,
    baseline: str | None = None,
    title: str | None = None,
) -> list[Path]:
    """Draw the figure for the runs, batches and sweeps in `folders`; write `out` as PNG and SVG; return both."""
    ensembles = [e for folder in folders for e in load_folder(folder)]
    labels = [e.label for e in ensembles]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise PlotError(f"two inputs are both called {', '.join(repeated)}: give each scenario once")
    b = _pick_baseline(ensembles, baseline)
    ensembles.insert(0, ensembles.pop(b))  # the baseline first: drawn first, first in the legend
    colours = [BASELINE_COLOUR] + PALETTE * (1 + len(ensembles) // len(PALETTE))
    shown = [
        Shown(e, colours[k], _label(e), (BASELINE_BAND, 0.3) if k == 0 else (colours[k], 0.16))
        for k, e in enumerate(ensembles)
    ]
    base = ensembles[0]
    compared = [s for s in shown[1:] if _comparable(base, s.ensemble)]
    not_compared = [s.ensemble.label for s in shown[1:] if s not in compared]

    targets_csv = base.targets
    figures = load_targets(targets_csv) if targets_csv is not None else []
    drawn, skipped = _drawable(figures, base.median())
    caption = _full_caption(shown, drawn, skipped, targets_csv, compared, not_compared)
    n_lines = caption.count("\n") + 1

    heights = [0.35, 2.9, 4.6, 2.3, 2.3, 3.0] + ([3.0] if compared else []) + [0.16 * n_lines + 0.1]
    fig = Figure(figsize=(14, sum(heights) + 1.0), layout="constrained")
    grid = fig.add_gridspec(len(heights), 4, height_ratios=heights)
    first = min(e.dates[0] for e in ensembles)
    last = max(e.dates[-1] for e in ensembles)

    daily = fig.add_subplot(grid[ROW["daily"], :])
    cumulative = fig.add_subplot(grid[ROW["cumulative"], :], sharex=daily)
    _daily_panel(daily, shown)
    _cumulative_panel(cumulative, shown, drawn)
    _date_axis(cumulative, first, last)
    daily.tick_params(labelbottom=False)

    _destination_panels(fig, grid, shown, first, last)
    stock = fig.add_subplot(grid[ROW["stock"], :2])
    returns = fig.add_subplot(grid[ROW["stock"], 2:], sharex=stock)
    for s in shown:
        _draw(stock, s.ensemble.dates, _abroad(s.ensemble), s)
        _draw(returns, s.ensemble.dates, _cumulative(s.ensemble, "returns", HOME), s)
    _style(stock, "Abroad: persons outside Russia on each day", "persons abroad")
    _style(returns, "Returns to Russia, cumulative since 24 Feb 2022", "persons (cumulative)")
    for ax in (stock, returns):
        ax.set_ylim(bottom=0)
        _date_axis(ax, first, last, ticks=6)
        ax.set_xlabel("date")

    if compared:
        left = fig.add_subplot(grid[ROW["difference"], :2])
        right = fig.add_subplot(grid[ROW["difference"], 2:], sharex=left)
        _comparison(left, base, compared, lambda e: _cumulative(e, "departures", HOME))
        _comparison(right, base, compared, _abroad)
        _style(left, f"Difference from {base.label}: cumulative departures from Russia", "persons (difference)")
        _style(right, f"Difference from {base.label}: persons abroad", "persons (difference)")
        for ax in (left, right):
            ax.axhline(0, color=BASELINE_COLOUR, lw=0.8)
            _date_axis(ax, first, last, ticks=6)
            ax.set_xlabel("date")

    note = fig.add_subplot(grid[-1, :])
    note.axis("off")
    note.text(0.0, 1.0, caption, va="top", ha="left", fontsize=7.5, transform=note.transAxes)

    handles = [Line2D([], [], color=s.colour, lw=2.2, label=s.label) for s in shown]
    if any(s.ensemble.size > 1 for s in shown):
        handles.append(Patch(color="0.5", alpha=0.3, label=band_name([s.ensemble.size for s in shown])))
    key = fig.add_subplot(grid[ROW["legend"], :])
    key.axis("off")
    columns = len(handles) if len(handles) <= 6 else math.ceil(len(handles) / 2)
    key.legend(handles=handles, loc="center", ncols=columns, frameon=False, fontsize=10)
    names = ", ".join(s.ensemble.label for s in shown)
    fig.suptitle(title or f"Departures from Russia and where people went: {names}", fontsize=13)
    return _save(fig, Path(out))


def _save(fig: Figure, out: Path) -> list[Path]:
    stem = out.with_suffix("") if out.suffix.lower() in (".png", ".svg") else out
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, options in ((".png", {"dpi": 110}), (".svg", {})):
        path = stem.parent / f"{stem.name}{suffix}"
        tmp = stem.parent / f".{stem.name}{suffix}.{os.getpid()}.tmp"
        fig.savefig(tmp, format=suffix[1:], metadata={"Date": None} if suffix == ".svg" else None, **options)
        os.replace(tmp, path)
        written.append(path)
    return written


# panels --------------------------------------------------------------------------------------------------------------
def _daily_panel(ax: Axes, shown: list[Shown]) -> None:
    for s in shown:
        smooth = np.apply_along_axis(_centred_mean, 1, s.ensemble.series("departures", HOME).astype(float), 7)
        _draw(ax, s.ensemble.dates, smooth, s, log=True)
    ax.set_yscale("log")
    _style(ax, "Daily departures from Russia, all segments (centred 7-day mean; log scale)", "persons per day")


def _cumulative_panel(ax: Axes, shown: list[Shown], drawn: list) -> None:
    for s in shown:
        _draw(ax, s.ensemble.dates, _cumulative(s.ensemble, "departures", HOME), s, lw=2.2)
        _draw(ax, s.ensemble.dates, _cumulative(s.ensemble, "departures", HOME, "it"), s, lw=1.2, ls="--")
    base = shown[0].ensemble
    anchors = {seg: np.median(_cumulative(base, "departures", HOME, seg), axis=0) for seg in ("it", "other")}
    anchors[ALL] = np.median(_cumulative(base, "departures", HOME), axis=0)
    handles = [
        Line2D([], [], color="0.3", lw=2.2, label="all segments"),
        Line2D([], [], color="0.3", lw=1.2, ls="--", label="IT workers"),
    ]
    handles += _reported(ax, base.median(), drawn, anchors)
    ax.set_ylim(bottom=0)
    _style(ax, "Cumulative departures from Russia since 24 Feb 2022, with the reported figures", "persons (cumulative)")
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=True, framealpha=0.85)
    ax.set_xlabel("date")


def _destination_panels(fig: Figure, grid: object, shown: list[Shown], first: np.datetime64, last: np.datetime64):
    base = shown[0].ensemble
    abroad = [c for c in base.locations if c != HOME]
    totals = {c: float(np.median(_cumulative(base, "arrivals", c)[:, -1])) for c in abroad}
    ranked = sorted(abroad, key=lambda c: -totals[c])
    top, rest = ranked[:DESTINATION_PANELS], ranked[DESTINATION_PANELS:]
    panels: list[tuple[str, list[str]]] = [(base.place(c), [c]) for c in top]
    if rest:
        panels.append((f"the rest: {', '.join(sorted(rest))}", rest))
    first_ax = None
    for k, (title, codes) in enumerate(panels):
        ax = fig.add_subplot(grid[ROW["destinations"] + k // 4, k % 4], sharex=first_ax)  # type: ignore[index]
        first_ax = first_ax or ax
        for s in shown:
            present = [c for c in codes if c in s.ensemble.locations]
            if present:
                values = sum(_cumulative(s.ensemble, "arrivals", c) for c in present)
                _draw(ax, s.ensemble.dates, values, s, lw=1.4)
        _style(ax, f"Arrivals in {title}", "persons (cumulative)" if k % 4 == 0 else "")
        ax.title.set_fontsize(9)
        ax.set_ylim(bottom=0)
        _date_axis(ax, first, last, ticks=3)
        if k < 4 and len(panels) > 4:
            ax.tick_params(labelbottom=False)


def _comparable(base: Ensemble, other: Ensemble) -> bool:
    return (
        base.paired
        and other.paired
        and bool(set(base.seeds) & set(other.seeds))
        and base.dates[0] == other.dates[0]
        and base.locations == other.locations
    )


def _comparison(ax: Axes, base: Ensemble, compared: list[Shown], quantity) -> None:
    """Per-seed differences from the baseline on the dates both cover, median and band."""
    for s in compared:
        other = s.ensemble
        seeds = sorted(set(base.seeds) & set(other.seeds))
        days = min(len(base.dates), len(other.dates))
        b = quantity(base)[[base.seeds.index(x) for x in seeds], :days]
        o = quantity(other)[[other.seeds.index(x) for x in seeds], :days]
        _draw(ax, base.dates[:days], (o - b).astype(float), s)


# caption -------------------------------------------------------------------------------------------------------------
def _full_caption(
    shown: list[Shown],
    drawn: list,
    skipped: list[tuple[str, str]],
    targets_csv: Path | None,
    compared: list[Shown],
    not_compared: list[str],
) -> str:
    lines: list[str] = []
    sizes = [s.ensemble.size for s in shown]
    seeds = [len(set(shown[0].ensemble.seeds) & set(s.ensemble.seeds)) for s in compared]
    inputs = "; ".join(
        f"{s.ensemble.label}: {s.ensemble.size} run(s) at scale {s.ensemble.scale:g} from {s.ensemble.source}"
        if s.ensemble.scale is not None
        else f"{s.ensemble.label}: {s.ensemble.size} run(s) from {s.ensemble.source}"
        for s in shown
    )
    head = (
        f"Model: lines are the median over runs, date by date; bands the {band_name(sizes)}. Arrivals in a "
        "destination count people coming from Russia or from another destination. Inputs: " + inputs + "."
    )
    lines += textwrap.wrap(head, CAPTION_WIDTH)
    text = ""
    if compared:
        text = (
            f"Differences: each run minus the {shown[0].ensemble.label} run with the same seed (common random "
            f"numbers), then median and {band_name(seeds).replace('runs', 'seeds')}."
        )
    if not_compared:
        text += (
            f" Not compared with {shown[0].ensemble.label} (a sweep, or no runs with matching seeds and start): "
            f"{', '.join(not_compared)}."
        )
    lines += textwrap.wrap(text.strip(), CAPTION_WIDTH)
    lines += _caption(drawn, skipped, targets_csv).splitlines()
    return "\n".join(lines)


__all__ = ["PlotError", "ResultsError", "plot_results"]

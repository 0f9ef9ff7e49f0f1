"""The results figure: outflow, persons present by destination, jobs abroad, Russia's tax take, comparisons.

Drawn from folders on disk (runs, batches, sweeps; see `results.py`), one
colour per ensemble (a batch's scenario, a sweep, a run). Lines are the
median over an ensemble's runs, date by date. Bands run from the 5th to the
95th percentile over ten runs or more; below ten they are the range (lowest
to highest run), and the legend says so with the number of seeds: three
seeds have no 5th percentile to speak of. Reported figures are drawn as in
`plot.py`: departures on the cumulative panel (anchored on the baseline's
median), persons present abroad on the panels of persons present, each
numbered, with its source by title and link in the caption. Jobs abroad
(`jobs.csv`) and the tax take (`tax.csv`) come from the runs' folders, so a
sweep (which keeps only the daily series) has none. Comparisons take each
seed's difference from the baseline run with the same seed (common random
numbers: the same seed draws the same random numbers wherever two scenarios
agree), then the median and band of those differences, so the band is the
uncertainty of the effect, not the spread of either scenario.
"""

from __future__ import annotations

import csv
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
from matplotlib.text import Annotation
from matplotlib.ticker import FuncFormatter

from exodus.experiments.core.results import ALL, Ensemble, ResultsError, load_folder, seed_folders
from exodus.experiments.core.targets import Target, load_targets
from exodus.experiments.figures.plot import (
    CAPTION_WIDTH,
    centred_mean,
    declutter,
    draw_reported,
    in_run,
    number_figures,
    persons,
    positive,
    reported_bar,
    reported_caption,
)

HOME = "RU"
BASELINE_COLOUR = "#1a1a1a"
BASELINE_BAND = "#9e9e9e"
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#17becf"]
DESTINATION_PANELS = 11  # the destinations with most persons get a panel each; any others share a twelfth
BAND = (5.0, 95.0)
PERCENTILE_RUNS = 10  # fewer runs than this: the band is their range (min-max), and says so
JOB_LABEL = {
    "remote_russian_employer": "remote, Russian employer",
    "foreign_employer": "foreign employer",
    "relocated_firm": "relocated Russian firm",
    "without_work": "without work",
    "grey_pay": "grey pay",
}
TAKE = ("income_tax_usd", "insurance_premiums_usd", "penalty_tax_usd")
LOST = ("lost_to_grey_pay_usd", "lost_to_foreign_employers_usd", "lost_to_no_work_usd")
USD = 1e6  # tax panels in USD million


class PlotError(ValueError):
    """Inputs that cannot be drawn together."""


@dataclass(frozen=True)
class Shown:
    ensemble: Ensemble
    colour: str
    label: str
    band: tuple[str, float]  # colour and opacity of its band: light enough to see the others through it
    jobs: dict[str, np.ndarray] | None = None  # status: [member, date], persons abroad (segments summed)
    tax: dict[str, np.ndarray] | None = None  # "take home", "take abroad", "lost abroad": [member, date], USD


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and band over members (axis 0): p05 and p95 from PERCENTILE_RUNS members, else min and max."""
    if values.shape[0] < PERCENTILE_RUNS:
        return np.median(values, axis=0), values.min(axis=0), values.max(axis=0)
    low, median, high = np.percentile(values, [BAND[0], 50.0, BAND[1]], axis=0)
    return median, low, high


def band_name(sizes: list[int], unit: str = "runs") -> str:
    """What the bands over ensembles of these sizes (runs, or seeds compared) are, honestly for their size."""
    banded = sorted({n for n in sizes if n > 1})
    if not banded:
        return "no band (one run each)"
    if all(n < PERCENTILE_RUNS for n in banded):
        count = str(banded[0]) if len(banded) == 1 else " or ".join(str(n) for n in banded)
        return f"range of the {count} {unit} (lowest to highest)"
    if all(n >= PERCENTILE_RUNS for n in banded):
        count = str(banded[0]) if len(banded) == 1 else f"{banded[0]}-{banded[-1]}"
        return f"5th-95th percentile of {count} {unit}"
    few = ", ".join(str(n) for n in banded if n < PERCENTILE_RUNS)
    return f"5th-95th percentile of the {unit} (the range, lowest to highest, where there are only {few})"


def _unit(shown: list[Shown]) -> str:
    return "runs" if any(s.ensemble.kind == "sweep" for s in shown) else "seeds"


def _draw(ax: Axes, dates: np.ndarray, values: np.ndarray, shown: Shown, *, log: bool = False, **line: object) -> None:
    median, low, high = _band(values)
    if log:
        median, low, high = positive(median), positive(low), positive(high)
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


def _style(ax: Axes, title: str, ylabel: str, formatter=persons) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(formatter))
    ax.grid(True, alpha=0.3)


def _title_size(ax: Axes, size: float) -> None:
    """The panel's title (set on the left by `_style`) at `size` points."""
    ax.set_title(ax.get_title(loc="left"), loc="left", fontsize=size)


def _millions(value: float, _pos: object = None) -> str:
    """An axis in USD million: 1120 -> '1,120', 2.5 -> '2.5'."""
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"


def _cumulative(ens: Ensemble, column: str, location: str | None, segment: str | None = None) -> np.ndarray:
    return np.cumsum(ens.series(column, location, segment), axis=1)


def _abroad(ens: Ensemble, segment: str | None = None) -> np.ndarray:
    return ens.series("stock", None, segment) - ens.series("stock", HOME, segment)


def _present(ens: Ensemble, codes: list[str]) -> np.ndarray:
    """Persons present in the destinations `codes` on each day, [member, date]."""
    return sum(ens.series("stock", c) for c in codes if c in ens.locations)  # type: ignore[return-value]


# jobs.csv and tax.csv of an ensemble's runs --------------------------------------------------------------------------
def _run_folders(ens: Ensemble) -> list[Path] | None:
    """The folders of the ensemble's runs, one per member in member order; None for a sweep."""
    if ens.kind == "run":
        return [ens.source]
    if ens.kind == "batch":
        folders = seed_folders(ens.source)
        return folders if [int(p.name[4:]) for p in folders] == ens.seeds else None
    return None


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _by_date(rows: list[dict[str, str]], dates: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    """Sum the rows (segments, residences) of each date: [date, column]."""
    index = {str(d): t for t, d in enumerate(dates)}
    values = np.zeros((len(dates), len(columns)))
    for r in rows:
        t = index.get(r["date"])
        if t is not None:
            values[t] += [float(r[c]) for c in columns]
    return values


def _jobs(ens: Ensemble) -> dict[str, np.ndarray] | None:
    folders = _run_folders(ens)
    if not folders or not all((f / "jobs.csv").is_file() for f in folders):
        return None
    tables = [_read_rows(f / "jobs.csv") for f in folders]
    statuses = tuple(c for c in JOB_LABEL if tables[0] and c in tables[0][0])
    if not statuses:
        return None
    stacked = np.stack([_by_date(rows, ens.dates, statuses) for rows in tables])  # [member, date, status]
    return {status: stacked[:, :, k] for k, status in enumerate(statuses)}


def _tax(ens: Ensemble) -> dict[str, np.ndarray] | None:
    """Tax paid by people at home and abroad, and lost on people abroad, [member, date] in USD a day.

    Without a residence column (an older tax.csv) everything is one total, "take".
    """
    folders = _run_folders(ens)
    if not folders or not all((f / "tax.csv").is_file() for f in folders):
        return None
    tables = [_read_rows(f / "tax.csv") for f in folders]
    if not tables[0]:
        return None
    out: dict[str, list[np.ndarray]] = {}
    for rows in tables:
        if "residence" in rows[0]:
            parts = {
                "take home": _by_date([r for r in rows if r["residence"] == "home"], ens.dates, TAKE),
                "take abroad": _by_date([r for r in rows if r["residence"] == "abroad"], ens.dates, TAKE),
                "lost abroad": _by_date([r for r in rows if r["residence"] == "abroad"], ens.dates, LOST),
            }
        else:
            parts = {"take": _by_date(rows, ens.dates, TAKE)}
        for name, values in parts.items():
            out.setdefault(name, []).append(values.sum(axis=1))
    return {name: np.stack(values) for name, values in out.items()}


def _total_take(tax: dict[str, np.ndarray]) -> np.ndarray:
    return tax["take"] if "take" in tax else tax["take home"] + tax["take abroad"]


# the figure ----------------------------------------------------------------------------------------------------------
def plot_results(
    folders: list[str | Path],
    out: str | Path,
    *,
    baseline: str | None = None,
    title: str | None = None,
) -> list[Path]:
    """Draw the figure for the runs, batches and sweeps in `folders`; write `out` as PNG and SVG; return both."""
    return _save(results_figure(folders, baseline=baseline, title=title), Path(out))


def results_figure(folders: list[str | Path], *, baseline: str | None = None, title: str | None = None) -> Figure:
    """The figure for the runs, batches and sweeps in `folders`, laid out, its number labels placed."""
    ensembles = [e for folder in folders for e in load_folder(folder)]
    labels = [e.label for e in ensembles]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise PlotError(f"two inputs are both called {', '.join(repeated)}: give each scenario once")
    b = _pick_baseline(ensembles, baseline)
    ensembles.insert(0, ensembles.pop(b))  # the baseline first: drawn first, first in the legend
    colours = [BASELINE_COLOUR] + PALETTE * (1 + len(ensembles) // len(PALETTE))
    shown = [
        Shown(e, colours[k], _label(e), (BASELINE_BAND, 0.3) if k == 0 else (colours[k], 0.16), _jobs(e), _tax(e))
        for k, e in enumerate(ensembles)
    ]
    base = ensembles[0]
    compared = [s for s in shown[1:] if _comparable(base, s.ensemble)]
    not_compared = [s.ensemble.label for s in shown[1:] if s not in compared]
    with_jobs = [s for s in shown if s.jobs]
    with_tax = [s for s in shown if s.tax]
    tax_compared = shown[0].tax is not None and any(s.tax for s in compared)

    panels = _destinations(base)
    figures = load_targets(base.targets) if base.targets is not None else []
    placed, skipped = _place_figures(figures, base, panels)
    numbers = number_figures([f for group in placed.values() for f in group])

    places = [f"destinations {k}" for k in range(math.ceil(len(panels) / 4))]
    rows = ["legend", "daily", "cumulative", *places, "abroad"]
    rows += ["jobs"] * bool(with_jobs) + ["tax"] * bool(with_tax) + ["difference"] * bool(compared) + ["caption"]
    caption = _full_caption(shown, placed, skipped, base, numbers, compared, not_compared, tax_compared, figures)
    n_lines = caption.count("\n") + 1
    size = {"legend": 0.35, "daily": 2.9, "cumulative": 4.6} | {name: 2.3 for name in places}
    size |= {"abroad": 3.0, "jobs": 2.5, "tax": 2.7, "difference": 3.0, "caption": 0.15 * n_lines + 0.1}
    heights = [size[r] for r in rows]
    row = {name: rows.index(name) for name in rows}
    fig = Figure(figsize=(14, sum(heights) + 1.2), layout="constrained")
    grid = fig.add_gridspec(len(heights), 4, height_ratios=heights)
    first = min(e.dates[0] for e in ensembles)
    last = max(e.dates[-1] for e in ensembles)

    daily = fig.add_subplot(grid[row["daily"], :])
    cumulative = fig.add_subplot(grid[row["cumulative"], :], sharex=daily)
    _daily_panel(daily, shown)
    number_labels = _cumulative_panel(cumulative, shown, placed["departures"], numbers)
    _date_axis(cumulative, first, last)
    daily.tick_params(labelbottom=False)

    number_labels += _destination_panels(fig, grid, row[places[0]], shown, panels, placed, numbers, first, last)
    number_labels += _abroad_panels(fig, grid, row["abroad"], shown, placed["abroad"], numbers, first, last)
    if with_jobs:
        _jobs_panels(fig, grid, row["jobs"], with_jobs, first, last)
    if with_tax:
        _tax_panels(fig, grid, row["tax"], with_tax, first, last)
    if compared:
        _difference_panels(fig, grid, row["difference"], shown[0], compared, tax_compared, first, last)

    note = fig.add_subplot(grid[-1, :])
    note.axis("off")
    note.text(0.0, 1.0, caption, va="top", ha="left", fontsize=7.5, transform=note.transAxes)

    handles = [Line2D([], [], color=s.colour, lw=2.2, label=s.label) for s in shown]
    if any(s.ensemble.size > 1 for s in shown):
        handles.append(
            Patch(color="0.5", alpha=0.3, label="band: " + band_name([s.ensemble.size for s in shown], _unit(shown)))
        )
    key = fig.add_subplot(grid[row["legend"], :])
    key.axis("off")
    columns = len(handles) if len(handles) <= 5 else math.ceil(len(handles) / 2)
    key.legend(handles=handles, loc="center", ncols=columns, frameon=False, fontsize=10)
    names = ", ".join(s.ensemble.label for s in shown)
    fig.suptitle(title or f"Departures from Russia, where people went, jobs and tax: {names}", fontsize=13)
    declutter(fig, number_labels)
    return fig


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


# reported figures: which panel each goes on --------------------------------------------------------------------------
def _destinations(base: Ensemble) -> list[tuple[str, list[str]]]:
    """Panels of persons present: the destinations with most persons at their peak, then the rest together."""
    abroad = [c for c in base.locations if c != HOME]
    peak = {c: float(np.median(base.series("stock", c), axis=0).max()) for c in abroad}
    ranked = sorted(abroad, key=lambda c: -peak[c])
    top, rest = ranked[:DESTINATION_PANELS], ranked[DESTINATION_PANELS:]
    if len(rest) == 1:
        top, rest = ranked, []
    panels = [(base.place(c), [c]) for c in top]
    if rest:
        panels.append((f"the rest: {', '.join(sorted(rest))}", sorted(rest)))
    return panels


def _place_figures(
    figures: list[Target], base: Ensemble, panels: list[tuple[str, list[str]]]
) -> tuple[dict[str, list[Target]], list[tuple[Target, str]]]:
    """Reported figures by the panel that can show them: departures, abroad, or a destination's code(s)."""
    daily = base.median()
    placed: dict[str, list[Target]] = {"departures": [], "abroad": []} | {"+".join(c): [] for _, c in panels}
    skipped = []
    for f in figures:
        key = None
        if f.measure == "gross_departures" and not f.location:
            key = "departures"
        elif f.measure == "stock_abroad" and not f.location and f.segment in (ALL, "it"):
            key = "abroad"
        elif f.measure == "stock_abroad" and f.segment == ALL and "+".join(sorted(f.places)) in placed:
            key = "+".join(sorted(f.places))
        if key is None:
            skipped.append((f, "measure"))
        elif not in_run(f, daily):
            skipped.append((f, "dates"))
        else:
            placed[key].append(f)
    return placed, skipped


def _levels(ax: Axes, figures: list[Target], numbers: dict[str, int]) -> list[Annotation]:
    """Reported persons present on a date: the range as a bar at that date, numbered (with room for the number)."""
    labels = [reported_bar(ax, np.datetime64(f.date_end, "D"), 0.0, f, numbers[f.id]) for f in figures]
    if figures:
        ax.set_ylim(top=max(ax.get_ylim()[1], 1.2 * max(f.high for f in figures)))
    return labels


# panels --------------------------------------------------------------------------------------------------------------
def _daily_panel(ax: Axes, shown: list[Shown]) -> None:
    for s in shown:
        smooth = np.apply_along_axis(centred_mean, 1, s.ensemble.series("departures", HOME).astype(float), 7)
        _draw(ax, s.ensemble.dates, smooth, s, log=True)
    ax.set_yscale("log")
    _style(ax, "Daily departures from Russia, all segments (centred 7-day mean; log scale)", "persons per day")


def _cumulative_panel(ax: Axes, shown: list[Shown], drawn: list[Target], numbers: dict[str, int]) -> list[Annotation]:
    for s in shown:
        _draw(ax, s.ensemble.dates, _cumulative(s.ensemble, "departures", HOME), s, lw=2.2)
        _draw(ax, s.ensemble.dates, _cumulative(s.ensemble, "departures", HOME, "it"), s, lw=1.2, ls="--")
    base = shown[0].ensemble
    anchors = {seg: np.median(_cumulative(base, "departures", HOME, seg), axis=0) for seg in base.segments}
    anchors[ALL] = np.median(_cumulative(base, "departures", HOME), axis=0)
    handles = [
        Line2D([], [], color="0.3", lw=2.2, label="all segments"),
        Line2D([], [], color="0.3", lw=1.2, ls="--", label="IT workers"),
    ]
    legend, labels = draw_reported(ax, base.median(), drawn, anchors, numbers)
    ax.set_ylim(bottom=0)
    _style(
        ax,
        "Cumulative departures from Russia since the start, with the reported figures (numbered: see the caption)",
        "persons (cumulative)",
    )
    ax.legend(handles=handles + legend, loc="upper left", fontsize=8, frameon=True, framealpha=0.85)
    ax.set_xlabel("date")
    return labels


def _destination_panels(
    fig: Figure,
    grid: object,
    row: int,
    shown: list[Shown],
    panels: list[tuple[str, list[str]]],
    placed: dict[str, list[Target]],
    numbers: dict[str, int],
    first: np.datetime64,
    last: np.datetime64,
) -> list[Annotation]:
    """Persons present in each destination on each day (not cumulative arrivals: leavers are subtracted)."""
    labels: list[Annotation] = []
    first_ax = None
    for k, (title, codes) in enumerate(panels):
        ax = fig.add_subplot(grid[row + k // 4, k % 4], sharex=first_ax)  # type: ignore[index]
        first_ax = first_ax or ax
        for s in shown:
            if any(c in s.ensemble.locations for c in codes):
                _draw(ax, s.ensemble.dates, _present(s.ensemble, codes), s, lw=1.4)
        labels += _levels(ax, placed.get("+".join(codes), []), numbers)
        _style(ax, "\n".join(textwrap.wrap(f"Present in {title}", 38)), "persons present" if k % 4 == 0 else "")
        _title_size(ax, 9)  # a long name on two lines, to fit its panel
        ax.set_ylim(bottom=0)
        _date_axis(ax, first, last, ticks=3)
        if k + 4 < len(panels):  # a panel below shows the dates
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("date")
    return labels


def _abroad_panels(
    fig: Figure,
    grid: object,
    row: int,
    shown: list[Shown],
    reported: list[Target],
    numbers: dict[str, int],
    first: np.datetime64,
    last: np.datetime64,
) -> list[Annotation]:
    stock = fig.add_subplot(grid[row, :2])  # type: ignore[index]
    returns = fig.add_subplot(grid[row, 2:], sharex=stock)  # type: ignore[index]
    for s in shown:
        _draw(stock, s.ensemble.dates, _abroad(s.ensemble), s)
        _draw(stock, s.ensemble.dates, _abroad(s.ensemble, "it"), s, lw=1.1, ls="--")
        _draw(returns, s.ensemble.dates, _cumulative(s.ensemble, "returns", HOME), s)
    labels = _levels(stock, reported, numbers)
    _style(stock, "Abroad: persons outside Russia on each day (solid: all; dashed: IT workers)", "persons abroad")
    _style(returns, "Returns to Russia, cumulative since the start", "persons (cumulative)")
    for ax in (stock, returns):
        ax.set_ylim(bottom=0)
        _date_axis(ax, first, last, ticks=6)
        ax.set_xlabel("date")
    return labels


def _jobs_panels(fig: Figure, grid: object, row: int, shown: list[Shown], first: np.datetime64, last: np.datetime64):
    """Persons abroad by what they do for a living (jobs.csv), one panel a status."""
    statuses = [st for st in JOB_LABEL if any(s.jobs and st in s.jobs for s in shown)]
    cells = grid[row, :].subgridspec(1, len(statuses))  # type: ignore[index]
    first_ax = None
    for k, status in enumerate(statuses):
        ax = fig.add_subplot(cells[0, k], sharex=first_ax)
        first_ax = first_ax or ax
        for s in shown:
            if s.jobs and status in s.jobs:
                _draw(ax, s.ensemble.dates[: s.jobs[status].shape[1]], s.jobs[status], s, lw=1.4)
        _style(ax, f"Abroad: {JOB_LABEL[status]}", "persons abroad, by job" if k == 0 else "")
        _title_size(ax, 8.5)
        ax.set_ylim(bottom=0)
        if all(not s.jobs or status not in s.jobs or not s.jobs[status].any() for s in shown):
            ax.set_ylim(0, 1)  # not a scale of fractions of a person
            ax.set_yticks([0])
            ax.text(0.5, 0.5, "none in these runs", transform=ax.transAxes, ha="center", color="0.4", fontsize=9)
        _date_axis(ax, first, last, ticks=2)  # five panels across: two dates each
        ax.set_xlabel("date")


def _tax_panels(fig: Figure, grid: object, row: int, shown: list[Shown], first: np.datetime64, last: np.datetime64):
    """Russia's tax take from these workers (tax.csv), in USD million a day, by where the taxpayer lives."""
    split = all(s.tax and "take home" in s.tax for s in shown)
    parts = (
        [
            ("take home", "Tax take: taxpayers in Russia (axis not from 0)"),
            ("take abroad", "Tax take: taxpayers abroad"),
            ("lost abroad", "Tax lost abroad: foreign employer, grey pay, no work"),
        ]
        if split
        else [("total", "Russia's tax take from these workers")]
    )
    cells = grid[row, :].subgridspec(1, len(parts))  # type: ignore[index]
    first_ax = None
    for k, (part, title) in enumerate(parts):
        ax = fig.add_subplot(cells[0, k], sharex=first_ax)
        first_ax = first_ax or ax
        for s in shown:
            if s.tax:
                values = _total_take(s.tax) if part == "total" else s.tax[part]
                _draw(ax, s.ensemble.dates[: values.shape[1]], values / USD, s, lw=1.4)
        _style(ax, title, "USD million per day" if k == 0 else "", _millions)
        _title_size(ax, 9)
        if part != "take home":
            ax.set_ylim(bottom=0)
        _date_axis(ax, first, last, ticks=4)
        ax.set_xlabel("date")


def _difference_panels(
    fig: Figure,
    grid: object,
    row: int,
    baseline: Shown,
    compared: list[Shown],
    tax: bool,
    first: np.datetime64,
    last: np.datetime64,
) -> None:
    base = baseline.ensemble
    cells = grid[row, :].subgridspec(1, 3 if tax else 2)  # type: ignore[index]
    left = fig.add_subplot(cells[0, 0])
    right = fig.add_subplot(cells[0, 1], sharex=left)
    _comparison(left, base, compared, lambda e: _cumulative(e, "departures", HOME))
    _comparison(right, base, compared, _abroad)
    _style(left, f"Difference from {base.label}: cumulative departures from Russia", "persons (difference)")
    _style(right, f"Difference from {base.label}: persons abroad", "persons (difference)")
    axes = [left, right]
    if tax:
        tables = {id(s.ensemble): s.tax for s in [baseline, *compared] if s.tax}
        money = fig.add_subplot(cells[0, 2], sharex=left)

        def take(e: Ensemble) -> np.ndarray:
            return _total_take(tables[id(e)]) / USD

        _comparison(money, base, [s for s in compared if s.tax], take)
        _style(money, f"Difference from {base.label}: Russia's tax take", "USD million per day", _millions)
        axes.append(money)
    for ax in axes:
        _title_size(ax, 9.5)
        ax.axhline(0, color=BASELINE_COLOUR, lw=0.8)
        _date_axis(ax, first, last, ticks=5)
        ax.set_xlabel("date")


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
    placed: dict[str, list[Target]],
    skipped: list[tuple[Target, str]],
    base: Ensemble,
    numbers: dict[str, int],
    compared: list[Shown],
    not_compared: list[str],
    tax_compared: bool,
    figures: list[Target],
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
    bands = f"bands the {band_name(sizes, _unit(shown))}" if any(n > 1 for n in sizes) else "no bands (one run each)"
    head = (
        f"Model: lines are the median over runs, date by date; {bands}. "
        "'Present in' a destination: persons there on the day (arrivals from Russia or another destination, "
        "less those who moved on or went home). Jobs abroad: persons abroad by job status; tax: income tax, "
        "insurance premiums and any penalty tax Russia collects from these workers (both segments), and what it "
        "loses on those abroad to foreign employers, grey pay and no work, in USD million a day. "
        f"Inputs: {inputs}."
    )
    lines += textwrap.wrap(head, CAPTION_WIDTH)
    no_tables = [s.ensemble.label for s in shown if not s.jobs or not s.tax]
    if no_tables:
        lines += textwrap.wrap(
            "No jobs or tax panels for " + ", ".join(no_tables) + " (a sweep keeps only the daily series).",
            CAPTION_WIDTH,
        )
    text = ""
    if compared:
        text = (
            f"Differences: each run minus the {shown[0].ensemble.label} run with the same seed (common random "
            f"numbers), then median and {band_name(seeds, 'seeds')}."
        )
        if tax_compared:
            text += " Tax take: home and abroad together."
    if not_compared:
        text += (
            f" Not compared with {shown[0].ensemble.label} (a sweep, or no runs with matching seeds and start): "
            f"{', '.join(not_compared)}."
        )
    lines += textwrap.wrap(text.strip(), CAPTION_WIDTH)
    how = (
        "Reported figures: gross departures from Russia within [start, end] drawn at the end date as the reported "
        "range on top of the baseline's median cumulative the day before the start; persons present abroad on a "
        "date drawn as the reported range at that date; marker = reported value; hollow, dashed = forecast "
        "(weight 0), drawn but not fitted."
    )
    drawn = [f for group in placed.values() for f in group]
    places = {c: base.place(c) for c in base.locations}
    lines += reported_caption(drawn, skipped, base.targets is not None, numbers, places, how, figures).splitlines()
    return "\n".join(lines)


__all__ = ["PlotError", "ResultsError", "band_name", "plot_results", "results_figure"]

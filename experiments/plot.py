"""The outflow figure: simulated departures from Russia against reported figures.

A reported figure counts gross departures from Russia within a window of
dates. The model's cumulative departures are not zero when a window opens,
so each figure is drawn on the cumulative panel anchored on the model: from
(model cumulative the day before the window) + low to ... + high, with a
marker at + value. A figure and the model agree when the curve passes
through the bar at the window's end.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections import defaultdict
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from exodus.experiments.tables import Daily, read_daily
from exodus.experiments.targets import Target, load_targets

HOME = "RU"
SEGMENT_COLOUR = {"all": "#b2182b", "it": "#2166ac", "other": "#4d4d4d"}
SEGMENT_LABEL = {"all": "all segments", "it": "IT workers", "other": "outside IT"}
DESTINATIONS_SHOWN = 6  # the rest are summed, so the panel stays legible
CAPTION_WIDTH = 190  # characters per caption line


def plot_outflow(
    daily: str | Path | Daily,
    targets_csv: str | Path | None,
    out_png: str | Path,
    title: str,
) -> Path:
    """Draw daily and cumulative departures from Russia, with the reported figures, to `out_png`."""
    if not isinstance(daily, Daily):
        daily = read_daily(daily)
    figures = load_targets(targets_csv) if targets_csv is not None else []
    drawn, skipped = _drawable(figures, daily)
    caption = _caption(drawn, skipped, targets_csv)
    n_lines = caption.count("\n") + 1

    # a bare Figure renders with Agg and leaves pyplot's global state (and a notebook's backend) alone
    fig = Figure(figsize=(13, 8.6 + 0.16 * n_lines), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[3.0, 4.4, 0.16 * n_lines + 0.1])
    top = fig.add_subplot(grid[0])
    bottom = fig.add_subplot(grid[1], sharex=top)
    note = fig.add_subplot(grid[2])

    _daily_panel(top, daily)
    _cumulative_panel(bottom, daily, drawn)
    _date_axis(bottom, daily)
    top.tick_params(labelbottom=False)

    note.axis("off")
    note.text(0.0, 1.0, caption, va="top", ha="left", fontsize=7.5, family="sans-serif", transform=note.transAxes)
    fig.suptitle(title, fontsize=13)

    out_png = Path(out_png)
    fig.savefig(out_png, dpi=130)
    return out_png


# panels ---------------------------------------------------------------------------
def _daily_panel(ax: Axes, daily: Daily) -> None:
    """Daily departures on a log scale, so the mobilisation spike and the quiet months are both readable.

    A small-scale run moves whole agents of many persons, so the raw daily
    count jumps; the centred 7-day mean shows the flow, the raw count stays faint behind it.
    """
    for segment in ("all", "it"):
        raw = daily.series("departures", HOME, None if segment == "all" else segment).astype(float)
        colour = SEGMENT_COLOUR[segment]
        ax.plot(daily.dates, _positive(raw), color=colour, lw=0.6, alpha=0.3, drawstyle="steps-mid")
        ax.plot(daily.dates, _positive(_centred_mean(raw, 7)), color=colour, lw=1.6, label=f"{SEGMENT_LABEL[segment]}")
    ax.plot([], [], color="0.4", lw=0.6, alpha=0.5, label="daily count (faint)")
    ax.plot([], [], color="0.4", lw=1.6, label="centred 7-day mean")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_persons))
    ax.set_ylabel("persons per day")
    ax.set_title("Daily departures from Russia (log scale; gaps are days with none)", fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _centred_mean(values: np.ndarray, window: int) -> np.ndarray:
    n = len(values)
    window = min(window, n if n % 2 else n - 1)  # a run shorter than the window: the longest odd one it holds
    kernel = np.ones(max(window, 1))
    counts = np.convolve(np.ones_like(values), kernel, mode="same")  # fewer days at the ends
    return np.convolve(values, kernel, mode="same") / counts


def _positive(values: np.ndarray) -> np.ndarray:
    """Log scale: zero becomes a gap rather than a line plunging off the axis."""
    return np.where(values > 0, values, np.nan)


def _cumulative_panel(ax: Axes, daily: Daily, figures: list[Target]) -> None:
    cumulative = {"all": np.cumsum(daily.series("departures", HOME))}
    cumulative |= {seg: np.cumsum(daily.series("departures", HOME, seg)) for seg in daily.segments}
    shown = ["all", "it"] + (["other"] if any(f.segment == "other" for f in figures) else [])
    handles: list[Line2D] = []
    for segment in shown:
        (line,) = ax.plot(
            daily.dates,
            cumulative[segment],
            color=SEGMENT_COLOUR[segment],
            lw=2.8 if segment == "all" else 1.8,  # wider underneath: still seen where all equals IT
            label=f"left Russia, {SEGMENT_LABEL[segment]} (model)",
        )
        handles.append(line)
    handles += _destination_lines(ax, daily)
    handles += _reported(ax, daily, figures, cumulative)

    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(_persons))
    ax.set_ylabel("persons (cumulative since start)")
    ax.set_title(
        "Cumulative departures from Russia, and arrivals at each destination (incl. moves between destinations)",
        fontsize=10,
        loc="left",
    )
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _destination_lines(ax: Axes, daily: Daily) -> list[Line2D]:
    """Cumulative arrivals at the destinations that received most; the rest as one line."""
    abroad = [c for c in daily.locations if c != HOME]
    totals = {c: np.cumsum(daily.series("arrivals", c)) for c in abroad}
    ranked = sorted(abroad, key=lambda c: -totals[c][-1])
    shown, rest = ranked[:DESTINATIONS_SHOWN], ranked[DESTINATIONS_SHOWN:]
    palette = matplotlib.colormaps["Dark2"]
    lines = []
    for k, code in enumerate(shown):
        (line,) = ax.plot(daily.dates, totals[code], color=palette(k), lw=1.0, alpha=0.9, label=f"arrived in {code}")
        lines.append(line)
    if rest:
        summed = np.sum([totals[c] for c in rest], axis=0)
        (line,) = ax.plot(
            daily.dates, summed, color="0.45", lw=1.0, ls=":", label=f"arrived in {', '.join(sorted(rest))}"
        )
        lines.append(line)
    return lines


def _reported(ax: Axes, daily: Daily, figures: list[Target], cumulative: dict[str, np.ndarray]) -> list[Line2D]:
    """Reported ranges as error bars anchored on the model's cumulative the day before each window."""
    span = (daily.dates[-1] - daily.dates[0]).astype(int)
    nudge = max(1.0, span / 120)  # days between bars that share an end date
    by_end: dict[dt.date, list[Target]] = defaultdict(list)
    for f in figures:
        by_end[f.date_end].append(f)
    for end, group in by_end.items():
        for k, f in enumerate(group):
            offset = (k - (len(group) - 1) / 2) * nudge
            x = np.datetime64(end, "D") + np.timedelta64(round(offset), "D")
            first = daily.day_of(f.date_start)
            anchor = float(cumulative[f.segment][first - 1]) if first > 0 else 0.0
            colour = SEGMENT_COLOUR[f.segment]
            forecast = f.weight == 0
            bars = ax.errorbar(
                [x],
                [anchor + f.value],
                yerr=[[f.value - f.low], [f.high - f.value]],
                fmt="o" if not forecast else "D",
                ms=5.5,
                color=colour,
                mfc="white" if forecast else colour,
                mec=colour,
                ecolor=colour,
                elinewidth=1.6,
                capsize=4,
                zorder=5,
            )
            if forecast:
                for bar in bars[2]:
                    bar.set_linestyle((0, (3, 2)))
            # up and to the left of the bar: a rising cumulative curve never passes there
            ax.annotate(
                f.id,
                (x, anchor + f.high),
                xytext=(-3, 2),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=7,
                color=colour,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
            )
    if not figures:
        return []
    legend = [
        Line2D([], [], color=SEGMENT_COLOUR[s], marker="o", ls="-", lw=1.6, label=f"reported, {SEGMENT_LABEL[s]}")
        for s in SEGMENT_COLOUR
        if any(f.segment == s for f in figures)
    ]
    if any(f.weight == 0 for f in figures):
        legend.append(
            Line2D([], [], color="0.3", marker="D", mfc="white", ls="--", label="forecast (drawn, not fitted)")
        )
    return legend


def _date_axis(ax: Axes, daily: Daily) -> None:
    months = max(1, int((daily.dates[-1] - daily.dates[0]).astype(int)) // 30)
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, math.ceil(months / 14))))
    ax.xaxis.set_minor_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_xlim(daily.dates[0], daily.dates[-1] + np.timedelta64(1, "D"))
    ax.set_xlabel("date")


# figures and caption -------------------------------------------------------------
def _drawable(figures: list[Target], daily: Daily) -> tuple[list[Target], list[tuple[str, str]]]:
    """Figures this run can be compared with, and why the others are left out."""
    drawn, skipped = [], []
    last = len(daily.dates) - 1
    for f in figures:
        if f.measure != "gross_departures":
            skipped.append((f.id, f"measure {f.measure!r}: only gross departures are drawn here"))
        elif f.location:
            skipped.append((f.id, f"a figure for {f.location} alone: only departures from Russia are drawn here"))
        elif daily.day_of(f.date_start) < 0 or daily.day_of(f.date_end) > last:
            skipped.append((f.id, "window outside the simulated dates"))
        else:
            drawn.append(f)
    return drawn, skipped


def _caption(drawn: list[Target], skipped: list[tuple[str, str]], targets_csv: str | Path | None) -> str:
    if targets_csv is None:
        return "No reported figures: the scenario names no targets file."
    head = (
        f"Reported figures ({Path(targets_csv).name}): gross departures from Russia within [start, end], "
        "drawn at the end date as the reported range on top of the model's cumulative the day before the start; "
        "marker = reported value; hollow, dashed = forecast (weight 0), drawn but not fitted. Sources:"
    )
    lines = textwrap.wrap(head, CAPTION_WIDTH)
    for f in drawn:
        window = f"{f.date_start:%d %b %Y} - {f.date_end:%d %b %Y}"
        entry = f"- {f.id} ({f.segment}, {window}, {_persons(f.low)}-{_persons(f.high)}): {f.source}"
        lines += textwrap.wrap(entry, CAPTION_WIDTH, subsequent_indent="    ")
    for fid, why in skipped:
        lines += textwrap.wrap(f"- {fid}: not drawn ({why})", CAPTION_WIDTH, subsequent_indent="    ")
    return "\n".join(lines)


def _persons(value: float, _pos: object = None) -> str:
    """1200 -> '1.2k', 1500000 -> '1.5M': axis labels that need no counting of zeros."""
    value = float(value)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{value:g}"

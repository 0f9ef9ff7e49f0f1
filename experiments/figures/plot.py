"""The outflow figure: simulated departures from Russia against reported figures.

A reported figure counts gross departures from Russia within a window of
dates. The model's cumulative departures are not zero when a window opens,
so each figure is drawn on the cumulative panel anchored on the model: from
(model cumulative the day before the window) + low to ... + high, with a
marker at + value. A figure and the model agree when the curve passes
through the bar at the window's end.

The helpers after `plot_outflow` (number formats, smoothing, reported
figures and their caption, labels that do not overlap) are shared with
`ensembles.py`, which draws `exodus plot`.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox

from exodus.experiments.core.tables import Daily, read_daily
from exodus.experiments.core.targets import Target, load_targets

HOME = "RU"
SEGMENT_COLOUR = {"all": "#b2182b", "it": "#2166ac", "other": "#4d4d4d"}
SEGMENT_LABEL = {"all": "all segments", "it": "IT workers", "other": "outside IT"}
DESTINATIONS_SHOWN = 6  # the rest are summed, so the panel stays legible
CAPTION_WIDTH = 190  # characters per caption line
MEASURE_NAME = {
    "gross_departures": "left Russia",
    "stock_abroad": "present",
    "stock_change": "change in persons present",
    "arrivals": "arrivals at a destination",
    "share_returned": "share returned",
}
NOT_DRAWN = {  # a figure left out, by what it counts
    "gross_departures": "departures from one place only",
    "stock_abroad": "persons present where no panel shows that place alone",
    "stock_change": "changes in persons present",
    "arrivals": "arrivals at a destination",
    "share_returned": "shares who returned",
}

__all__ = [
    "CAPTION_WIDTH",
    "centred_mean",
    "declutter",
    "describe",
    "draw_reported",
    "drawable",
    "in_run",
    "number_figures",
    "persons",
    "positive",
    "plot_outflow",
    "reported_bar",
    "reported_caption",
    "reported_legend",
]


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
    drawn, skipped = drawable(figures, daily)
    numbers = number_figures(drawn)
    caption = reported_caption(drawn, skipped, targets_csv is not None, numbers, figures=figures)
    n_lines = caption.count("\n") + 1

    # a bare Figure renders with Agg and leaves pyplot's global state (and a notebook's backend) alone
    fig = Figure(figsize=(13, 8.6 + 0.16 * n_lines), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[3.0, 4.4, 0.16 * n_lines + 0.1])
    top = fig.add_subplot(grid[0])
    bottom = fig.add_subplot(grid[1], sharex=top)
    note = fig.add_subplot(grid[2])

    _daily_panel(top, daily)
    labels = _cumulative_panel(bottom, daily, drawn, numbers)
    _date_axis(bottom, daily)
    top.tick_params(labelbottom=False)

    note.axis("off")
    note.text(0.0, 1.0, caption, va="top", ha="left", fontsize=7.5, family="sans-serif", transform=note.transAxes)
    fig.suptitle(title, fontsize=13)
    declutter(fig, labels)

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
        ax.plot(daily.dates, positive(raw), color=colour, lw=0.6, alpha=0.3, drawstyle="steps-mid")
        ax.plot(daily.dates, positive(centred_mean(raw, 7)), color=colour, lw=1.6, label=f"{SEGMENT_LABEL[segment]}")
    ax.plot([], [], color="0.4", lw=0.6, alpha=0.5, label="daily count (faint)")
    ax.plot([], [], color="0.4", lw=1.6, label="centred 7-day mean")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(persons))
    ax.set_ylabel("persons per day")
    ax.set_title("Daily departures from Russia (log scale; gaps are days with none)", fontsize=10, loc="left")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _cumulative_panel(ax: Axes, daily: Daily, figures: list[Target], numbers: dict[str, int]) -> list[Annotation]:
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
    legend, labels = draw_reported(ax, daily, figures, cumulative, numbers)
    handles += legend

    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(persons))
    ax.set_ylabel("persons (cumulative since start)")
    ax.set_title(
        "Cumulative departures from Russia, and arrivals at each destination (incl. moves between destinations)",
        fontsize=10,
        loc="left",
    )
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return labels


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


def _date_axis(ax: Axes, daily: Daily) -> None:
    months = max(1, int((daily.dates[-1] - daily.dates[0]).astype(int)) // 30)
    ax.xaxis.set_major_locator(mdates.MonthLocator(interval=max(1, math.ceil(months / 14))))
    ax.xaxis.set_minor_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_xlim(daily.dates[0], daily.dates[-1] + np.timedelta64(1, "D"))
    ax.set_xlabel("date")


# shared: numbers and smoothing ---------------------------------------------------------
def centred_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean; near the ends, the mean of the days there are."""
    n = len(values)
    window = min(window, n if n % 2 else n - 1)  # a run shorter than the window: the longest odd one it holds
    kernel = np.ones(max(window, 1))
    counts = np.convolve(np.ones_like(values), kernel, mode="same")  # fewer days at the ends
    return np.convolve(values, kernel, mode="same") / counts


def positive(values: np.ndarray) -> np.ndarray:
    """Log scale: zero becomes a gap rather than a line plunging off the axis."""
    return np.where(values > 0, values, np.nan)


def persons(value: float, _pos: object = None) -> str:
    """1200 -> '1.2k', 1500000 -> '1.5M': axis labels that need no counting of zeros."""
    value = float(value)
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{value:g}"


# shared: reported figures ----------------------------------------------------------------
def drawable(figures: list[Target], daily: Daily) -> tuple[list[Target], list[tuple[Target, str]]]:
    """Gross departures from Russia this run can be compared with, and why the others are left out."""
    drawn, skipped = [], []
    for f in figures:
        if f.measure != "gross_departures" or f.location:
            skipped.append((f, "measure"))
        elif not in_run(f, daily):
            skipped.append((f, "dates"))
        else:
            drawn.append(f)
    return drawn, skipped


def in_run(f: Target, daily: Daily) -> bool:
    return daily.day_of(f.date_start) >= 0 and daily.day_of(f.date_end) <= len(daily.dates) - 1


def number_figures(drawn: Sequence[Target]) -> dict[str, int]:
    """Each drawn figure's number on the chart (1, 2, ...), in order of date, then id."""
    ordered = sorted(drawn, key=lambda f: (f.date_end, f.date_start, f.id))
    return {f.id: k + 1 for k, f in enumerate(ordered)}


def draw_reported(
    ax: Axes,
    daily: Daily,
    figures: list[Target],
    cumulative: dict[str, np.ndarray],
    numbers: dict[str, int],
) -> tuple[list[Line2D], list[Annotation]]:
    """Reported ranges as error bars anchored on the model's cumulative the day before each window.

    Each bar is labelled with its number in the caption; returns the legend
    handles and the labels (for `declutter`).
    """
    span = (daily.dates[-1] - daily.dates[0]).astype(int)
    nudge = max(1.0, span / 120)  # days between bars that share an end date
    by_end: dict[dt.date, list[Target]] = defaultdict(list)
    for f in figures:
        by_end[f.date_end].append(f)
    labels = []
    for end, group in by_end.items():
        for k, f in enumerate(group):
            offset = (k - (len(group) - 1) / 2) * nudge
            x = np.datetime64(end, "D") + np.timedelta64(round(offset), "D")
            first = daily.day_of(f.date_start)
            anchor = float(cumulative[f.segment][first - 1]) if first > 0 else 0.0
            labels.append(reported_bar(ax, x, anchor, f, numbers[f.id]))
    return reported_legend(figures), labels


def reported_bar(ax: Axes, x: np.datetime64, anchor: float, f: Target, number: int) -> Annotation:
    """One reported range, anchor + low to anchor + high, marker at anchor + value, numbered above."""
    colour = SEGMENT_COLOUR.get(f.segment, SEGMENT_COLOUR["other"])
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
    label = ax.annotate(
        str(number),
        (x, anchor + f.high),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=8,
        fontweight="bold",
        color=colour,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "lw": 0.6, "alpha": 0.9},
        arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.6, "shrinkA": 0, "shrinkB": 0},
        zorder=6,
    )
    label.set_in_layout(False)
    return label


def reported_legend(figures: list[Target]) -> list[Line2D]:
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


def declutter(fig: Figure, labels: list[Annotation], gap: float = 1.5) -> None:
    """Move labels up, in points, until none overlaps another (or the axes' legend) on the page.

    Lays the figure out first, so the positions are those the saved file has;
    the labels stay out of the layout, so moving them changes nothing else.
    """
    if not labels:
        return
    canvas = FigureCanvasAgg(fig)  # a bare Figure's canvas cannot measure text; Agg lays out as savefig will
    canvas.draw()
    renderer = canvas.get_renderer()
    placed = []  # what a label must not cover: the legends, the bars of the reported ranges, the labels placed
    for ax in {label.axes for label in labels}:
        if ax is None:
            continue
        legend = ax.get_legend()
        if legend is not None:
            placed.append(legend.get_window_extent(renderer))
        for container in ax.containers:
            if isinstance(container, ErrorbarContainer):
                for bars in container.lines[2]:
                    for segment in bars.get_segments():  # the vertical bar, from its data: dates and all
                        (x0, y0), (x1, y1) = (
                            ax.transData.transform(segment).min(axis=0),
                            ax.transData.transform(segment).max(axis=0),
                        )
                        placed.append(Bbox.from_extents(x0 - 2, y0, x1 + 2, y1))
    placed = [box for box in placed if np.isfinite(box.get_points()).all()]
    points = fig.dpi / 72.0
    for label in sorted(labels, key=lambda a: (a.xy[0], a.xy[1])):
        for _ in range(60):
            box = _box(label, renderer)
            hit = [other for other in placed if box.overlaps(other)]
            if not hit:
                break
            dx, dy = label.xyann
            rise = max(other.y1 for other in hit) - box.y0 + gap * points
            label.xyann = (dx, dy + rise / points)
        placed.append(_box(label, renderer))


def _box(label: Annotation, renderer: object) -> Bbox:
    """A label's box on the page where it is now: its text, padded for the frame (not the leader line)."""
    label.update_positions(renderer)
    box = Text.get_window_extent(label, renderer)  # type: ignore[arg-type]
    pad = 0.3 * label.get_fontsize() * label.figure.dpi / 72.0  # type: ignore[union-attr]
    return Bbox.from_extents(box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)


def describe(f: Target, place: str = "") -> str:
    """What a reported figure counts, in words: 'left Russia, IT workers, 24 Feb 2022 - 22 Mar 2022'."""
    segment = SEGMENT_LABEL.get(f.segment, f.segment)
    if f.measure == "stock_abroad":
        where = f"present in {place or f.location}" if f.location else "abroad"
        return f"{where}, {segment}, on {f.date_end:%d %b %Y}"
    return f"{MEASURE_NAME.get(f.measure, f.measure)}, {segment}, {f.date_start:%d %b %Y} - {f.date_end:%d %b %Y}"


def reported_caption(
    drawn: list[Target],
    skipped: list[tuple[Target, str]],
    has_targets: bool,
    numbers: dict[str, int],
    places: dict[str, str] | None = None,
    how: str | None = None,
    figures: Sequence[Target] = (),
) -> str:
    """The reported figures drawn, by number on the chart, each with its source's title and link.

    A source that points at another figure of the file by its id (`figures`)
    gets that figure's source in its place: readers have no ids.
    """
    others = {f.id: f.source for f in figures}
    if not has_targets:
        return "No reported figures: the scenario names no targets file."
    head = how or (
        "Reported figures: gross departures from Russia within [start, end], drawn at the end date as the reported "
        "range on top of the model's cumulative the day before the start; marker = reported value; hollow, dashed = "
        "forecast (weight 0), drawn but not fitted."
    )
    lines = textwrap.wrap(head + " Numbered on the chart; sources:", CAPTION_WIDTH)
    for f in sorted(drawn, key=lambda f: numbers[f.id]):
        place = (places or {}).get(f.location, "")
        reported = f"reported {persons(f.value)} (range {persons(f.low)}-{persons(f.high)})"
        forecast = ", a forecast" if f.kind == "forecast" else ", drawn, not fitted" if f.weight == 0 else ""
        entry = f"[{numbers[f.id]}] {describe(f, place)}: {reported}{forecast}. Source: {_cited(f.source, others)}"
        # links stay whole: no breaks at their hyphens or inside them
        lines += textwrap.wrap(
            entry, CAPTION_WIDTH, subsequent_indent="      ", break_on_hyphens=False, break_long_words=False
        )
    if skipped:
        lines += textwrap.wrap(_not_drawn(skipped), CAPTION_WIDTH)
    return "\n".join(lines)


def _cited(source: str, others: dict[str, str]) -> str:
    for fid, text in others.items():
        if fid in source.split() and text != source:
            source = " ".join(f"[{text}]" if word == fid else word for word in source.split(" "))
    return source


def _not_drawn(skipped: list[tuple[Target, str]]) -> str:
    """The figures left out, counted by what they measure: no ids, the caption is for readers."""
    outside = sum(1 for _, why in skipped if why == "dates")
    kinds = Counter(NOT_DRAWN.get(f.measure, f.measure) for f, why in skipped if why != "dates")
    parts = [f"{kind} ({n})" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])]
    if outside:
        parts.append(f"{outside} outside the simulated dates")
    return f"Not drawn here ({len(skipped)} reported figures): " + "; ".join(parts) + "."

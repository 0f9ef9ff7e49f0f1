"""What a calibration writes: the calibrated scenario, `fit.md` and `fit.png`."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from exodus.experiments.analyses.calibration.calibrate import averaged_relative_difference, conflicts
from exodus.experiments.analyses.parameters import Bounded
from exodus.experiments.core.targets import Target


def calibrated_scenario(
    base_file: Path,
    out_file: Path,
    name: str,
    params: Sequence[Bounded],
    values: Sequence[float],
    meta: dict[str, Any],
) -> str:
    """TOML that extends the input scenario and sets the fitted values."""
    extends = os.path.relpath(base_file.resolve(), out_file.resolve().parent)
    lines = [
        f"# Calibrated by `exodus calibrate` on {meta['date']} at commit {meta['commit']}.",
        "# Edit the input scenario it extends, then recalibrate; do not edit the fitted values by hand.",
        "",
        "[scenario]",
        f'extends = "{extends}"',
        f'name = "{name}"',
        f'description = "{name}: {base_file.name} with its free parameters fitted on {meta["date"]}."',
        "",
        "[calibration]",
    ]
    for key, value in meta.items():
        lines.append(f"{key} = {_toml_value(value)}")
    tables: dict[str, list[str]] = {}
    for p, v in zip(params, values, strict=True):
        table, _, key = p.path.rpartition(".")
        tables.setdefault(table, []).append(f"{key} = {float(v)!r}")
    for table, entries in tables.items():
        lines += ["", f"[{table}]", *entries]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def number(x: float) -> str:
    """A figure in a report: whole with thousands separators from 100 up, else three significant digits."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def fit_markdown(
    *,
    scenario_file: Path,
    targets: Sequence[Target],
    targets_file: Path,
    params: Sequence[Bounded],
    best: Sequence[float],
    fit_loss: float,
    scale_values: dict[str, list[float]],
    check_values: dict[str, list[float]],
    check_scale: float,
    predictive: dict[str, list[float]],
    posterior: np.ndarray | None,
    weights: np.ndarray | None,
    records: Sequence[dict[str, Any]],
    meta: dict[str, Any],
) -> str:
    """The fit report: parameters, one row per target, conflicts, scale bias, error measure."""
    check_means = {k: float(np.mean(v)) for k, v in check_values.items()}
    ard = averaged_relative_difference([t for t in targets if t.fitted], check_means)
    held_out = [t for t in targets if t.role == "holdout" and t.weight > 0]
    ard_held = averaged_relative_difference(held_out, check_means)
    out = [
        f"# Calibration of `{scenario_file}`",
        "",
        f"Fitted {meta['date']} at commit `{meta['commit']}`: {meta['method']}; the fit over "
        f"{len(meta['seeds'])} seeds {meta['seeds']} at scale {meta['scale']} (common random numbers), "
        f"{meta['evaluations']} evaluations; loss {fit_loss:.4g}. Check: {len(next(iter(check_values.values())))} "
        f"seeds at scale {check_scale}. Targets: `{targets_file.name}`.",
        "",
        f"**Averaged relative difference** (the measure Flee reports) over the fitted targets: **{ard:.3f}**; "
        f"over the {len(held_out)} held-out targets, never shown to the fit: **{ard_held:.3f}**.",
        "",
        "## Free parameters",
        "",
        "| parameter | bounds | fitted | posterior median | posterior 90% |",
        "|---|---|---|---|---|",
    ]
    for i, (p, x) in enumerate(zip(params, best, strict=True)):
        if posterior is not None and weights is not None:
            values = np.array([p.value(v, clip=False) for v in posterior[:, i]])
            q = _weighted_quantiles(values, weights, [0.05, 0.5, 0.95])
            post = f"{q[1]:.4g} | {q[0]:.4g} – {q[2]:.4g}"
        else:
            post = "– | –"
        scale_word = " (log)" if p.log else ""
        out.append(f"| `{p.path}` | {p.low:.4g} – {p.high:.4g}{scale_word} | {p.value(x, clip=False):.4g} | {post} |")
    out += [
        "",
        "## Targets",
        "",
        "Model mean: ensemble mean of the check runs (fitted parameters). Seeds 90%: the spread of those runs, "
        "noise alone. Posterior 90%: the posterior-predictive interval (ABC particles re-run), parameter "
        "uncertainty and noise together.",
        "",
        "| target | segment | place | window | role | weight | reported (range) | model mean | seeds 90% | "
        "posterior 90% | in range | miss |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        mean = check_means[t.id]
        pred = np.array(predictive.get(t.id, []), dtype=float)
        pred = pred[np.isfinite(pred)]
        band = _band(pred) if len(pred) else "–"
        inside = "yes" if t.miss(mean) == 0 else "**no**"
        seeds = _band(check_values[t.id])
        out.append(
            f"| `{t.id}` | {t.segment} | {t.location or '–'} | {t.date_start} – {t.date_end} | {t.role} | "
            f"{t.weight:g} | "
            f"{number(t.value)} ({number(t.low)} – {number(t.high)}) | {number(mean)} | {seeds} | {band} | {inside} | "
            f"{t.miss(mean):.1%} |"
        )
    out += ["", "## Targets that conflict", ""]
    found = conflicts(targets, records)
    if found:
        out.append(
            "Pairs each met by some evaluated parameter set but never both at once "
            f"(over {len(records)} evaluated sets):"
        )
        out.append("")
        for a, b, n_a, n_b, n in found:
            out.append(f"- `{a}` (met by {n_a}) and `{b}` (met by {n_b}): never together in {n}.")
    else:
        out.append(
            f"No pair of fitted targets was found that no evaluated parameter set ({len(records)}) meets together."
        )
    never = [t.id for t in targets if t.fitted and not _ever_met(t, records)]
    if never:
        out.append("")
        out.append("Never met by any evaluated parameter set: " + ", ".join(f"`{i}`" for i in never) + ".")
    missed = [t for t in targets if t.fitted and t.miss(check_means[t.id]) > 0]
    out += ["", "## What the fit cannot do", ""]
    if missed:
        for t in missed:
            side = "above" if check_means[t.id] > t.high else "below"
            out.append(
                f"- `{t.id}`: the model's {number(check_means[t.id])} is {side} the accepted "
                f"{number(t.low)} – {number(t.high)}. Source: {t.source}."
            )
        out.append("")
        out.append(
            "The figures come from leaks, politicians and lobbies and disagree; where a target is missed, "
            "the conflicts above say which other figures pull against it."
        )
    else:
        out.append("Every fitted target has its ensemble mean inside its accepted range.")
    unfitted = [t for t in targets if not t.fitted]
    if unfitted:
        out += [
            "",
            "Not fitted (held out, or weight 0: drawn only): what the fitted model says of figures it was not "
            "asked to meet.",
            "",
        ]
        for t in unfitted:
            mean = check_means[t.id]
            where = "inside" if t.miss(mean) == 0 else ("above" if mean > t.high else "below")
            place = f" in {t.location}" if t.location else ""
            why = "held out" if t.role == "holdout" else "weight 0"
            out.append(
                f"- `{t.id}` ({why}; {t.measure.replace('_', ' ')}{place}): the model's {number(mean)} is {where} the "
                f"reported {number(t.low)} – {number(t.high)}. {t.note}"
            )
    out += [
        "",
        "## Does the reduced scale bias the fit?",
        "",
        f"Each target at the fitted parameters, over the same {len(next(iter(scale_values.values())))} check seeds: "
        f"ensemble mean at the calibration scale ({meta['scale']}) against the check scale ({check_scale}). "
        "Seed noise is twice the standard error of the difference of the two means; a difference inside it is "
        "not evidence of bias.",
        "",
        "| target | at calibration scale | at check scale | difference | seed noise (2 SE) | verdict |",
        "|---|---|---|---|---|---|",
    ]
    one_seed = len(next(iter(scale_values.values()))) < 2  # no spread, so no noise to judge a difference by
    biased = []
    for t in targets:
        a, b = np.asarray(scale_values[t.id], dtype=float), np.asarray(check_values[t.id], dtype=float)
        diff = (a.mean() - b.mean()) / abs(b.mean()) if b.mean() else 0.0
        if one_seed:
            out.append(f"| `{t.id}` | {number(a.mean())} | {number(b.mean())} | {diff:+.1%} | – | untested |")
            continue
        noise = 2 * math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) / max(abs(b.mean()), 1e-12)
        moved = abs(diff) > noise
        if t.fitted and moved:
            biased.append(t.id)
        verdict = "**biased**" if moved else "within noise"
        out.append(f"| `{t.id}` | {number(a.mean())} | {number(b.mean())} | {diff:+.1%} | ±{noise:.1%} | {verdict} |")
    out.append("")
    if one_seed:
        out.append("One check seed: a difference cannot be told from seed noise. Give `--check-seeds` 2 or more.")
    elif biased:
        out.append(
            "Fitted targets moved by the reduced scale beyond seed noise: "
            + ", ".join(f"`{i}`" for i in biased)
            + ". Recalibrate at a larger `--scale` before trusting their fit."
        )
    else:
        out.append(f"No fitted target moves beyond seed noise between scale {meta['scale']} and {check_scale}.")
    out += ["", "## Sources", ""]
    out += [f"- `{t.id}`: {t.source}" for t in targets]
    return "\n".join(out) + "\n"


def _band(values: Sequence[float]) -> str:
    """The 5th to 95th percentile, as a table cell."""
    low, high = np.quantile(values, [0.05, 0.95])
    return f"{number(low)} – {number(high)}"


def _ever_met(target: Target, records: Sequence[dict[str, Any]]) -> bool:
    return any(target.miss(float(np.mean(r["values"][target.id]))) == 0 for r in records)


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> list[float]:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    cum /= cum[-1]
    return [float(values[order][min(np.searchsorted(cum, q), len(values) - 1)]) for q in qs]


def fit_figure(
    path: Path,
    curves: np.ndarray,
    best_curve: np.ndarray,
    start: dt.date,
    targets: Sequence[Target],
    title: str,
) -> None:
    """Outflow curves with the 90% posterior-predictive band and every target drawn on them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    from exodus.experiments.figures.plot import declutter, number_figures, reported_caption

    days = curves.shape[1]
    dates = np.array([start + dt.timedelta(days=i) for i in range(days)])
    drawn = [
        t for t in targets if t.measure == "gross_departures" and not t.location and (t.date_end - start).days < days
    ]
    numbers = number_figures(drawn)
    how = (
        "Reported figures: gross departures from Russia within [start, end], drawn at the end date as the reported "
        "range on top of the fitted cumulative the day before the start; hollow = weight 0, drawn but not fitted. "
        "Bands: 90% posterior-predictive (ABC particles re-run). Every other target (stocks, arrivals, returns, by "
        "destination) is in fit.md with its source."
    )
    caption = reported_caption(drawn, [], True, numbers, how=how, figures=targets)
    lines = caption.count("\n") + 1
    fig, (ax_daily, ax_cum) = plt.subplots(2, 1, figsize=(11, 9 + 0.12 * lines), sharex=True)
    colours = {"all": "tab:blue", "it": "tab:orange"}
    labels = []
    for label, segs in (("all", [0, 1]), ("it", [0])):
        daily = curves[:, :, segs].sum(axis=2)
        cum = np.cumsum(daily, axis=1)
        best_daily = best_curve[:, segs].sum(axis=1)
        colour = colours[label]
        name = "everyone" if label == "all" else "IT workers"
        ax_daily.fill_between(dates, *np.quantile(daily, [0.05, 0.95], axis=0), color=colour, alpha=0.25, lw=0)
        ax_daily.plot(dates, best_daily, color=colour, lw=1.2, label=f"{name}: fitted (mean of check seeds)")
        ax_cum.fill_between(
            dates,
            *np.quantile(cum, [0.05, 0.95], axis=0),
            color=colour,
            alpha=0.25,
            lw=0,
            label=f"{name}: 90% posterior-predictive band",
        )
        best_cum = np.cumsum(best_daily)
        ax_cum.plot(dates, best_cum, color=colour, lw=1.5, label=f"{name}: fitted")
        for t in drawn:
            if t.segment != label:
                continue
            first, last = (t.date_start - start).days, (t.date_end - start).days
            before = best_cum[first - 1] if first > 0 else 0.0
            hollow = t.weight == 0
            ax_cum.errorbar(
                [dates[last]],
                [before + t.value],
                yerr=[[t.value - t.low], [t.high - t.value]],
                fmt="o",
                mfc="white" if hollow else colour,
                mec=colour,
                ecolor=colour,
                capsize=4,
                ls="none",
                lw=1.5,
                alpha=0.9,
            )
            labels.append(
                ax_cum.annotate(
                    f"[{numbers[t.id]}]", (dates[last], before + t.high), textcoords="offset points", xytext=(4, 4),
                    fontsize=8, annotation_clip=False,
                )
            )  # fmt: skip
    ax_daily.set_yscale("log")
    ax_daily.set_ylabel("departures from Russia per day (persons, log)")
    ax_daily.legend(loc="upper right", fontsize=8)
    ax_daily.set_title(title)
    ax_cum.set_ylabel("cumulative departures from Russia (persons)")
    ax_cum.set_xlabel("date")
    ax_cum.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1e6:.1f}M"))
    ax_cum.legend(loc="lower right", fontsize=8)
    ax_cum.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax_cum.xaxis.set_minor_locator(mdates.MonthLocator())
    ax_cum.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    for ax in (ax_daily, ax_cum):
        ax.grid(alpha=0.3)
    bottom = (0.12 * lines + 0.3) / (9 + 0.12 * lines)
    fig.text(0.01, 0.005, caption, fontsize=6.5, va="bottom")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    declutter(fig, labels)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)

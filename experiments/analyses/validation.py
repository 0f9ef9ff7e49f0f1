"""`exodus validate`: a scenario against every reported figure, fitted and held out.

Runs the scenario over seeds 0..N-1 and writes, all at once, into DIR:

- `validation.md`: one row per target (its role, range, the model's mean and 5-95% band over the seeds,
  inside or not) and the averaged relative difference (Flee's measure) of the fitted and of the held-out
  targets apart, so out-of-sample skill can be read beside in-sample fit;
- `validation.png`: persons present in each destination over time (ensemble mean and band) against the
  stock figures, and the net flows (stock changes) against theirs;
- `validation.json`: the provenance record (scenario and its digest, seeds, scale, versions, git commit)
  and every run's value of every target.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from exodus.experiments.analyses.calibration.calibrate import averaged_relative_difference  # noqa: E402
from exodus.experiments.analyses.calibration.report import number  # noqa: E402
from exodus.experiments.analyses.run import targets_file  # noqa: E402
from exodus.experiments.core.outdir import OutputError, claim, staged_dir  # noqa: E402
from exodus.experiments.core.pool import default_workers  # noqa: E402
from exodus.experiments.core.provenance import record, utc_now, write_record  # noqa: E402
from exodus.experiments.core.runner import Job, in_order, run, run_many  # noqa: E402
from exodus.experiments.core.targets import Target, load_targets  # noqa: E402
from exodus.model import load_scenario  # noqa: E402

MARKER = "validation.json"


def run_targets_and_stock(job: Job, *, targets: Sequence[Target]) -> dict[str, Any]:
    """One seed: each target's model figure, and the persons present by day and location."""
    model = run(job)
    per_agent = model.workers.persons_per_agent
    return {
        "seed": job.seed,
        "values": {t.id: t.model_value(model.tally, model.scenario.start, per_agent, model.codes) for t in targets},
        "stock": model.tally.stock @ per_agent,  # [day, location] persons
        "codes": model.codes,
    }


def validation_markdown(
    scenario: Path, targets: Sequence[Target], values: dict[str, list[float]], seeds: list[int], scale: float
) -> str:
    means = {t.id: float(np.mean(values[t.id])) for t in targets}
    fitted = [t for t in targets if t.fitted]
    held = [t for t in targets if t.role == "holdout" and t.weight > 0]
    drawn = [t for t in targets if t.weight == 0]
    ard_fit, ard_held = averaged_relative_difference(fitted, means), averaged_relative_difference(held, means)
    inside = {t.id: t.miss(means[t.id]) == 0 for t in targets}
    out = [
        f"# Validation of `{scenario.name}`",
        "",
        f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]}) at scale {scale}. Model mean: the ensemble mean; band: "
        "5th-95th percentile over the seeds (seed noise only; the parameter uncertainty is in the calibration's "
        "fit.md).",
        "",
        "| part | targets | inside their range | averaged relative difference |",
        "|---|---|---|---|",
        f"| fitted | {len(fitted)} | {sum(inside[t.id] for t in fitted)} | {ard_fit:.3f} |",
        f"| held out (never shown to the fit) | {len(held)} | {sum(inside[t.id] for t in held)} | {ard_held:.3f} |",
        f"| drawn only (weight 0) | {len(drawn)} | {sum(inside[t.id] for t in drawn)} | – |",
        "",
        "The averaged relative difference is the mean of |model − reported| / |reported| (Flee 3 reports "
        "0.21-0.6 over ten conflicts).",
        "",
        "| target | role | segment | place | measure | window | reported (accepted range) | model mean | seeds "
        "5-95% | inside |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        role = t.role if t.weight > 0 else "drawn"
        band = np.percentile(values[t.id], [5, 95])
        out.append(
            f"| `{t.id}` | {role} | {t.segment} | {t.location or '–'} | {t.measure.replace('_', ' ')} | "
            f"{t.date_start} – {t.date_end} | {number(t.value)} ({number(t.low)} – {number(t.high)}) | "
            f"{number(means[t.id])} | {number(band[0])} – {number(band[1])} | {'yes' if inside[t.id] else '**no**'} |"
        )
    out += ["", "## How each figure became a target", ""]
    out += [f"- `{t.id}`: {t.reasoning or t.note} Source: {t.source}" for t in targets]
    return "\n".join(out) + "\n"


def validation_figure(
    path: Path, targets: Sequence[Target], stocks: np.ndarray, codes: list[str], start: dt.date, seeds: int
) -> None:
    """Persons present per destination (mean and 5-95% band over seeds) with the stock figures drawn on."""
    days = stocks.shape[1]
    dates = np.array([np.datetime64(start) + np.timedelta64(d, "D") for d in range(days)])
    named = {t.location for t in targets if t.measure in ("stock_abroad", "stock_change") and t.places}
    order = {c: i for i, c in enumerate(codes)}
    shown = sorted(named, key=lambda place: order.get(place.split("+")[0], len(codes))) + ["abroad"]
    cols = 4
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows + 1.6), squeeze=False)
    for ax, code in zip(axes.flat, shown, strict=False):
        where = list(range(1, len(codes))) if code == "abroad" else [codes.index(c) for c in code.split("+")]
        series = stocks[:, :, where].sum(axis=2)
        lo, mid, hi = np.percentile(series, [5, 50, 95], axis=0)
        ax.fill_between(dates, lo, hi, color="#92c5de", alpha=0.6, lw=0, label="model, 5-95% over seeds")
        ax.plot(dates, series.mean(axis=0), color="#2166ac", lw=1.4, label="model, mean")
        for t in targets:
            here = (not t.places and code == "abroad") or t.location == code
            if not here or t.measure not in ("stock_abroad", "stock_change") or t.segment != "all":
                continue
            colour = {"fit": "#b2182b", "holdout": "#e08214"}.get(t.role if t.weight > 0 else "", "0.45")
            end = np.datetime64(t.date_end)
            if t.measure == "stock_abroad":
                ax.errorbar(
                    [end],
                    [t.value],
                    yerr=[[t.value - t.low], [t.high - t.value]],
                    fmt="o",
                    ms=4,
                    color=colour,
                    capsize=3,
                    zorder=4,
                )
            else:  # a net flow: drawn as the change from the model's stock the day before the window
                first = (t.date_start - start).days
                base = float(series.mean(axis=0)[first - 1]) if first > 0 else 0.0
                ax.errorbar(
                    [end],
                    [base + t.value],
                    yerr=[[t.value - t.low], [t.high - t.value]],
                    fmt="s",
                    ms=4,
                    color=colour,
                    capsize=3,
                    zorder=4,
                    mfc="white",
                )
        ax.set_title("all abroad" if code == "abroad" else code, fontsize=10)
        ax.yaxis.set_major_formatter(
            plt.FuncFormatter(lambda v, _: f"{v / 1000:,.0f}k" if abs(v) >= 1000 else f"{v:,.0f}")
        )
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 7)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        ax.tick_params(labelsize=7)
        ax.set_ylabel("persons present", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    handles = [
        plt.Line2D([], [], color="#2166ac", label="model mean (band: 5-95% over seeds)"),
        plt.Line2D([], [], color="#b2182b", marker="o", ls="", label="stock figure, fitted"),
        plt.Line2D([], [], color="#e08214", marker="o", ls="", label="stock figure, held out"),
        plt.Line2D([], [], color="0.45", marker="o", ls="", label="stock figure, drawn only"),
        plt.Line2D([], [], color="0.3", marker="s", mfc="white", ls="", label="net flow (in - out) over a window"),
    ]
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=8, frameon=False)
    fig.text(
        0.01,
        0.005,
        f"Persons present by destination, {seeds} seeds. Figures: host-country registers, border counts and "
        "statistics (Georgian and Kazakh interior ministries, Geostat, Armenian migration service, Turkstat, "
        "Turkish migration directorate, Serbian MVD, Montenegro MVD, Frontex, German register, Kyrgyz registration "
        "department), Meduza and Re:Russia; every source with its link in validation.md.",
        fontsize=7,
        wrap=True,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def validate(
    scenario: str | Path,
    out: str | Path,
    seeds: int = 10,
    scale: float = 1.0,
    workers: int | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Run `scenario` over seeds 0..seeds-1 and write the validation folder `out`; return it."""
    started, clock = utc_now(), time.perf_counter()
    scenario, out = Path(scenario), Path(out)
    overrides = dict(overrides or {})
    with claim(out, MARKER, "a validation"):  # the only writer of `out`, checked before anything runs
        resolved = load_scenario(scenario, overrides)
        path = targets_file(resolved, scenario)
        if path is None:
            raise OutputError(f"{scenario}: field scenario.targets: a validation needs the targets the scenario names")
        targets = load_targets(path, resolved.start, resolved.days)
        jobs = [Job(str(scenario), tuple(overrides.items()), s, scale) for s in range(seeds)]
        task = partial(run_targets_and_stock, targets=tuple(targets))
        bar = {"desc": "validate", "unit": "run", "disable": not progress}
        with closing(run_many(jobs, task, workers=workers or default_workers(), progress=bar)) as runs:
            results = in_order(runs)
        values = {t.id: [r["values"][t.id] for r in results] for t in targets}
        stocks = np.stack([r["stock"] for r in results])  # [seed, day, location]
        with staged_dir(out, MARKER, "a validation") as staging:
            text = validation_markdown(scenario, targets, values, list(range(seeds)), scale)
            (staging / "validation.md").write_text(text, encoding="utf-8")
            validation_figure(staging / "validation.png", targets, stocks, results[0]["codes"], resolved.start, seeds)
            provenance = record(
                "validation",
                started,
                time.perf_counter() - clock,
                scenario={"path": str(scenario), "name": resolved.scenario.name, "digest": resolved.digest()},
                targets=str(path),
                seeds=list(range(seeds)),
                scale=scale,
                overrides=overrides,
                values=values,
            )
            write_record(staging / MARKER, provenance)
        return out


def summary(out: Path) -> dict[str, Any]:
    """The record a validation wrote (for tests and notebooks)."""
    return json.loads((Path(out) / MARKER).read_text(encoding="utf-8"))

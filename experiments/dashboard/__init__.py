"""The dashboard: a Mesa SolaraViz page on the real model, the chosen scenario beside the baseline.

`app.py` at the repository root is the page (`solara run app.py`, or
`exodus dashboard`); `dashboard.app` is the same page in an installed
package. SolaraViz drives a `Dashboard`, a `mesa.Model` whose `run` is a
`DashboardModel`: the real `RelocationModel` of the chosen scenario, built
from a `runner.Job` whose overrides are the policy levers, which steps the
calibrated baseline with the same seed and scale alongside, so every chart
shows the two (common random numbers: the difference is the levers' effect,
not noise). It runs at scale 0.05, the calibration's scale, at which
`calibration/baseline/fit.md` finds no fitted target moving beyond seed
noise against full scale.

Levers (each "as in the scenario" by default, so picking a scenario file shows
that scenario): the partial mobilisation on or off and its date (the IT
deferment and the end of the call-up move with it), the IT deferment, a
penalty tax on remote income from Russian employers (rate and date), the exit
closure for men of military age, the destination incentives (off as in
`experiments/data/drivers.toml`), and the entry bans (the Baltic states' and
Finland's, and Finland's border closure).
"""

from __future__ import annotations

import datetime as dt
import html
from functools import cache
from pathlib import Path
from typing import Any

import mesa
import numpy as np
from matplotlib.figure import Figure

from exodus.experiments.analyses.attribution import load_drivers
from exodus.experiments.core.runner import Job, build
from exodus.experiments.core.targets import Target, load_targets, targets_path
from exodus.model import DEFAULT_SCENARIO, RelocationModel, Scenario, load_scenario
from exodus.model.locations import HOME
from exodus.model.population import JOB_STATUS, SEGMENTS

SCENARIO_DIR = DEFAULT_SCENARIO.parent
BASELINE = DEFAULT_SCENARIO.name
SCALE = 0.05  # the calibration's scale; fit.md: unbiased against full scale within seed noise
SCALES = ("0.05", "0.1", "0.2")  # 0.02 is biased (fit.md, README): not offered
AS_SCENARIO = "as in the scenario"
ON, OFF = "on", "off"
SWITCH = [AS_SCENARIO, ON, OFF]
MOBILISATION_DATES = [AS_SCENARIO, "2022-03-01", "2022-05-01", "2022-07-01", "2022-09-21", "2022-11-01", "2023-01-01"]
PENALTY_DATES = [AS_SCENARIO, "2022-07-01", "2023-01-01", "2023-03-01", "2023-07-01", "2024-01-01"]
ENTRY_BANS = ("baltic_entry_ban", "finland_tourist_ban", "finland_border_closure")
DAYS_PER_RENDER = 61  # two simulated months between redraws (SolaraViz's slider takes odd numbers only)

SCENARIO_COLOUR, BASELINE_COLOUR = "#b2182b", "#1a1a1a"
PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#17becf"]


def scenario_files() -> list[str]:
    """The scenario files shipped in `scenarios/` (the picker's choices)."""
    return sorted(p.name for p in SCENARIO_DIR.glob("*.toml"))


@cache
def _destination_incentives_off() -> dict[str, Any]:
    return dict(load_drivers(names=["destination_incentives"])[0].off)


# the levers and their defaults ("as in the scenario"; no penalty tax): `lever_overrides`' keywords
LEVERS: dict[str, Any] = {
    "mobilisation": AS_SCENARIO,
    "mobilisation_date": AS_SCENARIO,
    "it_deferment": AS_SCENARIO,
    "penalty_tax": 0.0,
    "penalty_date": AS_SCENARIO,
    "border_closure": AS_SCENARIO,
    "destination_incentives": AS_SCENARIO,
    "entry_bans": AS_SCENARIO,
}


def lever_overrides(
    scenario: Scenario,
    *,
    mobilisation: str = AS_SCENARIO,
    mobilisation_date: str = AS_SCENARIO,
    it_deferment: str = AS_SCENARIO,
    penalty_tax: float = 0.0,
    penalty_date: str = AS_SCENARIO,
    border_closure: str = AS_SCENARIO,
    destination_incentives: str = AS_SCENARIO,
    entry_bans: str = AS_SCENARIO,
) -> dict[str, Any]:
    """The dotted scenario overrides that set the dashboard's levers on `scenario`."""
    policy = scenario.policy
    out: dict[str, Any] = {}

    def switch(key: str, value: str) -> None:
        if value != AS_SCENARIO and key in policy:
            out[f"policy.{key}.enabled"] = value == ON

    switch("partial_mobilisation", mobilisation)
    switch("mobilisation_in_force", mobilisation)  # the decree left in force goes with the call-up
    if mobilisation_date != AS_SCENARIO and "partial_mobilisation" in policy:
        event = policy["partial_mobilisation"]
        date = dt.date.fromisoformat(mobilisation_date)
        out["policy.partial_mobilisation.date"] = date.isoformat()
        if event.until is not None:
            out["policy.partial_mobilisation.until"] = (date + (event.until - event.date)).isoformat()
        in_force = policy.get("mobilisation_in_force")
        if in_force is not None and event.until is not None:  # in force from the day the call-up ended
            out["policy.mobilisation_in_force.date"] = (date + (in_force.date - event.date)).isoformat()
        deferment = policy.get("it_mobilisation_exemption")
        if deferment is not None:  # the deferment follows the call-up, as in 2022
            out["policy.it_mobilisation_exemption.date"] = (date + (deferment.date - event.date)).isoformat()
    switch("it_mobilisation_exemption", it_deferment)
    if penalty_tax > 0 and "penalty_tax" in policy:
        out["policy.penalty_tax.enabled"] = True
        out["policy.penalty_tax.level"] = float(penalty_tax)
    if penalty_date != AS_SCENARIO and "penalty_tax" in policy:
        out["policy.penalty_tax.date"] = penalty_date
    switch("border_closure", border_closure)
    if destination_incentives == OFF:
        out.update(_destination_incentives_off())
    for key in ENTRY_BANS:
        switch(key, entry_bans)
    return out


def model_params() -> dict[str, Any]:
    """SolaraViz's controls: the keyword arguments of `Dashboard` (and `DashboardModel`)."""
    return {
        "scenario_file": {"type": "Select", "value": BASELINE, "values": scenario_files(), "label": "Scenario"},
        "seed": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1, "label": "Seed"},
        "scale": {"type": "Select", "value": str(SCALE), "values": list(SCALES), "label": "Scale (agents)"},
        "mobilisation": {"type": "Select", "value": AS_SCENARIO, "values": SWITCH, "label": "Partial mobilisation"},
        "mobilisation_date": {
            "type": "Select",
            "value": AS_SCENARIO,
            "values": MOBILISATION_DATES,
            "label": "Mobilisation date",
        },
        "it_deferment": {"type": "Select", "value": AS_SCENARIO, "values": SWITCH, "label": "IT deferment"},
        "penalty_tax": {
            "type": "SliderFloat",
            "value": 0.0,
            "min": 0.0,
            "max": 0.6,
            "step": 0.05,
            "label": "Penalty tax",  # on remote pay from Russian employers; 0: as in the scenario
        },
        "penalty_date": {"type": "Select", "value": AS_SCENARIO, "values": PENALTY_DATES, "label": "Penalty tax from"},
        "border_closure": {
            "type": "Select",
            "value": AS_SCENARIO,
            "values": SWITCH,
            "label": "Exit closed to men of military age",
        },
        "destination_incentives": {
            "type": "Select",
            "value": AS_SCENARIO,
            "values": [AS_SCENARIO, OFF],
            "label": "Destination IT incentives",
        },
        "entry_bans": {"type": "Select", "value": AS_SCENARIO, "values": SWITCH, "label": "Entry bans (Baltics, FI)"},
    }


class DashboardModel(RelocationModel):
    """The chosen scenario with the levers applied, and the baseline with the same seed stepped alongside."""

    def __init__(self, scenario_file: str = BASELINE, seed: int = 0, scale: float | str = SCALE, **kwargs: Any) -> None:
        """`kwargs`: the levers (`LEVERS`, each at its default when not given), then dotted scenario overrides."""
        path = Path(scenario_file) if Path(scenario_file).is_absolute() else SCENARIO_DIR / scenario_file
        chosen = load_scenario(path)
        levers = {name: kwargs.pop(name, default) for name, default in LEVERS.items()}
        levers["penalty_tax"] = float(levers["penalty_tax"])
        self.overrides = {**lever_overrides(chosen, **levers), **kwargs}
        # the run core's job and its scenario, as `exodus run` and every analysis build theirs; stepped here a
        # render at a time instead of run to the end by `runner.run`
        self.job = Job(str(path), tuple(self.overrides.items()), int(seed), float(scale))
        super().__init__(self.job.resolve(), rng=self.job.seed, scale=self.job.scale)
        self.scenario_path = path
        self.levers = levers
        self.baseline = build(Job(str(SCENARIO_DIR / BASELINE), seed=self.job.seed, scale=self.job.scale))
        n = len(self.codes)
        self.flows = np.zeros((n, n))  # persons moved from i to j so far
        self.baseline_flows = np.zeros((n, n))
        self._where = self.workers.location.copy()
        self._baseline_where = self.baseline.workers.location.copy()

    def step(self) -> None:
        super().step()
        self._where = _count_moves(self, self._where, self.flows)
        if self.baseline.running and self.baseline.day < self.day:
            self.baseline.step()
            self._baseline_where = _count_moves(self.baseline, self._baseline_where, self.baseline_flows)


class Dashboard(mesa.Model):
    """What SolaraViz drives: a `mesa.Model` holding the `DashboardModel` (`run`) built from the controls.

    A wrapper rather than the model itself because Mesa 3.5's SolaraViz reads `model.scenario` as a Mesa
    scenario (and passes one to the constructor on reset), while `RelocationModel.scenario` is the
    project's scenario file. A `scenario` argument from Mesa is therefore accepted and ignored.
    """

    def __init__(self, seed: int = 0, scenario: Any = None, **kwargs: Any) -> None:
        """`kwargs`: the `DashboardModel`'s (the scenario file, the scale, the levers, scenario overrides)."""
        super().__init__(rng=int(seed))
        self.run = DashboardModel(seed=seed, **kwargs)
        self.running = self.run.running

    def step(self) -> None:
        self.run.step()
        self.running = self.run.running


def _count_moves(model: RelocationModel, before: np.ndarray, flows: np.ndarray) -> np.ndarray:
    w = model.workers
    moved = np.flatnonzero(before != w.location)
    np.add.at(flows, (before[moved], w.location[moved]), w.persons_per_agent[w.segment[moved]])
    return w.location.copy()


# series --------------------------------------------------------------------------------------------
def series(model: RelocationModel, column: str) -> np.ndarray:
    """A DataCollector column as an array (empty before the first step)."""
    return np.asarray(model.datacollector.model_vars.get(column, []), dtype=float)


def dates(model: RelocationModel, n: int | None = None) -> np.ndarray:
    n = model.day if n is None else n
    return np.datetime64(model.scenario.start, "D") + np.arange(n)


@cache
def reported_figures(scenario_path: Path) -> list[Target]:
    scenario = load_scenario(scenario_path)
    if scenario.scenario.targets is None:
        return []
    return load_targets(targets_path(scenario_path, scenario.scenario.targets), scenario.start, scenario.days)


def scenario_label(model: DashboardModel) -> str:
    return model.scenario.scenario.name + (" with the levers" if model.overrides else "")


def drawn_figures(model: DashboardModel) -> list[Target]:
    """The reported figures the departures chart draws (numbered in this order): departures from Russia."""
    return [t for t in reported_figures(model.scenario_path) if t.measure == "gross_departures" and not t.location]


# charts ---------------------------------------------------------------------------------------------
def _figure(rows: int = 1, height: float = 3.4) -> tuple[Figure, Any]:
    fig = Figure(figsize=(6.4, height), dpi=80, layout="constrained")
    return fig, fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]


def _style(ax: Any, model: RelocationModel, title: str, ylabel: str = "persons") -> None:
    start = np.datetime64(model.scenario.start, "D")
    ax.set_xlim(start, start + model.scenario.days)
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.yaxis.set_major_formatter(_persons)  # a function: matplotlib wraps it in a FuncFormatter per axis
    ax.axvline(start + model.day, color="0.6", lw=0.8)


def _persons(value: float, _pos: object = None) -> str:
    if abs(value) >= 1e9:
        return f"{value / 1e9:.1f}bn"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def _pair(ax: Any, model: DashboardModel, column: str, transform: Any = None, **line: Any) -> None:
    """The scenario (red) and the baseline (black, dashed) of one DataCollector column."""
    for m, colour, ls, label in (
        (model, SCENARIO_COLOUR, "-", scenario_label(model)),
        (model.baseline, BASELINE_COLOUR, "--", "baseline, same seed"),
    ):
        values = series(m, column)
        if transform is not None:
            values = transform(values)
        ax.plot(dates(m, len(values)), values, color=colour, ls=ls, label=label, **line)


def departures_figure(model: DashboardModel) -> Figure:
    """Daily and cumulative departures from Russia, the reported figures as ranges."""
    fig, (daily, total) = _figure(2, 4.4)
    _pair(daily, model, "departures", lw=0.9)
    _style(daily, model, "Departures from Russia, persons a day", "persons a day")
    daily.legend(fontsize=7, loc="upper left")
    for m, colour, ls in ((model, SCENARIO_COLOUR, "-"), (model.baseline, BASELINE_COLOUR, "--")):
        left = series(m, "left_russia_it") + series(m, "left_russia_other")
        total.plot(dates(m, len(left)), left, color=colour, ls=ls, lw=1.4)
    _style(total, model, "Cumulative departures; reported figures (ranges) to date", "persons")
    # history is the baseline: reported ranges sit on its cumulative the day before their window, so levers
    # move the model's curve, not the reported figures
    base = model.baseline
    it, other = series(base, "left_russia_it"), series(base, "left_russia_other")
    by_segment = {"all": it + other, "it": it, "other": other}
    for k, target in enumerate(drawn_figures(model)):
        if (target.date_end - model.scenario.start).days >= base.day:
            continue
        first = (target.date_start - model.scenario.start).days
        anchor = by_segment[target.segment][first - 1] if first > 0 else 0.0
        x = np.datetime64(target.date_end, "D")
        colour = {"all": "#b2182b", "it": "#2166ac", "other": "#4d4d4d"}[target.segment]
        total.errorbar(
            [x],
            [anchor + target.value],
            yerr=[[target.value - target.low], [target.high - target.value]],
            fmt="o" if target.weight > 0 else "D",
            ms=4,
            color=colour,
            mfc=colour if target.weight > 0 else "white",
            capsize=3,
        )
        total.annotate(
            str(k + 1), (x, anchor + target.high), xytext=(-2, 2), textcoords="offset points", fontsize=6, ha="right"
        )
    return fig


def stocks_figure(model: DashboardModel) -> Figure:
    """Persons living at each destination (the six largest in the scenario today)."""
    fig, (ax,) = _figure()
    codes = model.codes[1:]
    now = [series(model, f"stock_{c}")[-1] if model.day else 0.0 for c in codes]
    shown = [codes[i] for i in np.argsort(now)[::-1][:6]]
    for colour, code in zip(PALETTE, shown, strict=False):
        for m, ls in ((model, "-"), (model.baseline, "--")):
            values = series(m, f"stock_{code}")
            ax.plot(dates(m, len(values)), values, color=colour, ls=ls, lw=1.2, label=code if m is model else None)
    _style(ax, model, "Stock abroad by destination (solid: scenario, dashed: baseline)")
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    return fig


def returns_figure(model: DashboardModel) -> Figure:
    fig, (ax,) = _figure()
    _pair(ax, model, "returns", transform=np.cumsum, lw=1.4)
    _style(ax, model, "Returns to Russia, cumulative")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def jobs_figure(model: DashboardModel) -> Figure:
    fig, (ax,) = _figure()
    for colour, status in zip(PALETTE, JOB_STATUS[1:], strict=False):
        for m, ls in ((model, "-"), (model.baseline, "--")):
            values = series(m, f"jobs_{status}")
            label = status.replace("_", " ") if m is model else None
            ax.plot(dates(m, len(values)), values, color=colour, ls=ls, lw=1.2, label=label)
    _style(ax, model, "Persons abroad by job (solid: scenario, dashed: baseline)")
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    return fig


def queues_figure(model: DashboardModel) -> Figure:
    fig, (ax,) = _figure()
    routes = model.routes
    limited = [r for r in range(len(routes)) if routes.capacity[r] > 0]  # land borders and flights with seats
    peak = [model.tally.queue[: model.day, r].max(initial=0) for r in limited]
    shown = [limited[i] for i in np.argsort(peak)[::-1][:5]]
    for colour, r in zip(PALETTE, shown, strict=False):
        for m, ls in ((model, "-"), (model.baseline, "--")):
            rr = m.routes.names.index(routes.names[r]) if routes.names[r] in m.routes.names else None
            if rr is None:
                continue
            values = m.tally.queue[: m.day, rr]
            ax.plot(
                dates(m, len(values)),
                values,
                color=colour,
                ls=ls,
                lw=1.1,
                label=routes.names[r] if m is model else None,
            )
    _style(ax, model, "Waiting at land borders and for seats, end of day (dashed: baseline)")
    ax.legend(fontsize=7, loc="upper left")
    return fig


def tax_figure(model: DashboardModel) -> Figure:
    """Russia's take from relocators (abroad) a day, and the whole take's difference from the baseline."""
    fig, (abroad, gap) = _figure(2, 4.4)
    _pair(abroad, model, "tax_abroad_usd", lw=1.2)
    penalty = series(model, "tax_penalty_tax_usd")
    abroad.plot(dates(model, len(penalty)), penalty, color="#2166ac", lw=1.0, label="of which penalty tax")
    _style(abroad, model, "Russia's tax take from people abroad, USD a day", "USD a day")
    abroad.legend(fontsize=7, loc="upper left")
    take = [
        series(m, "tax_income_tax_usd") + series(m, "tax_insurance_premiums_usd") + series(m, "tax_penalty_tax_usd")
        for m in (model, model.baseline)
    ]
    n = min(len(take[0]), len(take[1]))
    gap.plot(dates(model, n), np.cumsum(take[0][:n] - take[1][:n]), color=SCENARIO_COLOUR, lw=1.4)
    gap.axhline(0, color="0.5", lw=0.8)
    _style(gap, model, "Whole take (home and abroad): scenario minus baseline, cumulative", "USD")
    return fig


def flow_map(model: DashboardModel) -> Figure:
    """Moves so far, from Russia to each destination and onward: line width by persons."""
    fig = Figure(figsize=(6.4, 4.4), dpi=80, layout="constrained")
    ax = fig.subplots()
    spec = model.scenario.locations
    where = {c: (spec[c].lon, spec[c].lat) for c in model.codes if spec[c].lat is not None and spec[c].lon is not None}
    flows = model.flows
    top = max(flows.max(), 1.0)
    for i, origin in enumerate(model.codes):
        for j, dest in enumerate(model.codes):
            if i == j or flows[i, j] <= 0 or origin not in where or dest not in where:
                continue
            (x0, y0), (x1, y1) = where[origin], where[dest]
            colour = SCENARIO_COLOUR if i == HOME else ("#2166ac" if j == HOME else "#1b9e77")
            ax.annotate(
                "",
                (x1, y1),
                (x0, y0),
                arrowprops={
                    "arrowstyle": "-|>",
                    "lw": 0.4 + 8.0 * flows[i, j] / top,
                    "color": colour,
                    "alpha": 0.55,
                    "connectionstyle": "arc3,rad=0.12",
                    "shrinkA": 4,
                    "shrinkB": 4,
                },
            )
    abroad = {c: series(model, f"stock_{c}")[-1] if model.day else 0.0 for c in model.codes[1:]}
    for code, (x, y) in where.items():
        size = 20 + 300 * abroad.get(code, 0.0) / max(max(abroad.values(), default=1.0), 1.0)
        ax.scatter([x], [y], s=size if code != "RU" else 60, color="0.25" if code == "RU" else "#e6ab02", zorder=3)
        label = code if code == "RU" else f"{code} {_persons(abroad.get(code, 0.0))}"
        ax.annotate(label, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.set_aspect(1 / np.cos(np.radians(45)))
    ax.set_xlabel("longitude", fontsize=7)
    ax.set_ylabel("latitude", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.2)
    ax.set_title(
        "Moves so far: red out of Russia, green onward, blue back (width: persons); dots: living there",
        fontsize=8,
        loc="left",
    )
    return fig


def summary(model: DashboardModel) -> str:
    """HTML: what is running, today's date and the scenario against the baseline (no Markdown: its maths
    renderer is fetched from a CDN, and the machines are offline)."""
    day = model.day
    date = model.scenario.date(day - 1) if day else model.scenario.start

    def last(m: RelocationModel, *columns: str) -> float:
        return sum(float(series(m, c)[-1]) if m.day else 0.0 for c in columns)

    def total(m: RelocationModel, column: str) -> float:
        return float(series(m, column).sum())

    base = model.baseline
    rows = [
        ("left Russia so far", *(last(m, "left_russia_it", "left_russia_other") for m in (model, base))),
        ("abroad now", *(last(m, "abroad_it", "abroad_other") for m in (model, base))),
        ("returned so far", *(total(m, "returns") for m in (model, base))),
        ("penalty tax so far, USD", *(total(m, "tax_penalty_tax_usd") for m in (model, base))),
    ]
    per_agent = ", ".join(f"{int(k)} ({s})" for s, k in zip(SEGMENTS, model.workers.persons_per_agent, strict=True))
    changed = ", ".join(f"<code>{html.escape(k)}={html.escape(str(v))}</code>" for k, v in model.overrides.items())
    cells = "".join(
        f"<tr><td>{name}</td><td style='text-align:right'>{a:,.0f}</td><td style='text-align:right'>{b:,.0f}</td></tr>"
        for name, a, b in rows
    )
    name = scenario_label(model)
    figures = " · ".join(f"{k + 1} {html.escape(t.id.replace('_', ' '))}" for k, t in enumerate(drawn_figures(model)))
    return (
        f"<p><b>{html.escape(name)}</b> against <b>baseline</b>, seed {model.seed}, "
        f"scale {model.scale:g} ({sum(model.population().values()):,} persons; one agent for {per_agent})</p>"
        f"<p class='exodus-day'>Day {day} of {model.scenario.days}: <b>{date.isoformat()}</b></p>"
        f"<p>Lever overrides: {changed or 'none'}</p>"
        f"<table><tr><th></th><th>scenario</th><th>baseline</th></tr>{cells}</table>"
        f"<p style='font-size:75%'>Reported departures in the chart: {figures}</p>"
    )


def components() -> list[Any]:
    """SolaraViz components: each a function of the model, redrawn after every render interval."""
    import solara

    def chart(draw: Any) -> Any:
        def component(dash: Dashboard) -> Any:
            return solara.FigureMatplotlib(draw(dash.run), format="png")

        component.__name__ = draw.__name__
        return component

    def info(dash: Dashboard) -> Any:
        return solara.HTML(tag="div", unsafe_innerHTML=summary(dash.run))

    charts = (departures_figure, stocks_figure, returns_figure, tax_figure, jobs_figure, queues_figure, flow_map)
    return [(info, 0), *((chart(draw), 0) for draw in charts)]


def page(**params: Any) -> Any:
    """The SolaraViz element on a fresh `Dashboard` (what `app.py` serves)."""
    from mesa.visualization import SolaraViz

    return SolaraViz(
        Dashboard(**params),
        components=components(),
        model_params=model_params(),
        name="exodus: Russian tech workers' emigration, scenario against baseline",
        play_interval=1,
        render_interval=DAYS_PER_RENDER,
    )

"""One run of one scenario with one seed, written to a folder.

The folder holds everything needed to look at the run again and to trace it
back: the daily tables (in persons), `run.json` (the resolved scenario, its
digest, seed, scale, code and library versions, times) and `outflow.png`.

`run.json` is a provenance record (`provenance.record`), keys: kind ("run"),
scenario_path, scenario_name, scenario_digest, overrides, seed, scale, days,
population (persons per segment), agents (per segment), persons_per_agent
(per segment), targets_path, outputs (sha256 of each table), scenario
(resolved), versions {package, mesa, numpy, python}, git {commit, dirty},
started, finished (UTC ISO), elapsed_seconds.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from exodus.experiments.core.outdir import RUN_MARKER, claim, staged_dir
from exodus.experiments.core.provenance import record, utc_now, write_record
from exodus.experiments.core.targets import Target, load_targets, scenario_targets
from exodus.experiments.figures.plot import plot_outflow
from exodus.model import DEFAULT_SCENARIO, RelocationModel, Scenario, load_scenario
from exodus.model.outputs import daily_table, firms_table, jobs_table, queues_table, tax_table
from exodus.model.population import SEGMENTS, agents_in_segment

RUNS_DIR = Path("runs")


def default_out(scenario_name: str, seed: int) -> Path:
    return RUNS_DIR / f"{scenario_name}-seed{seed}"


def targets_file(scenario: Scenario, scenario_path: Path) -> Path | None:
    """The reported figures the scenario names, checked now so that a bad file fails before the run."""
    if scenario.scenario.targets is None:
        return None
    return scenario_targets(scenario_path, scenario.scenario.targets, codes=scenario.locations)[0]


def scale_warnings(scenario: Scenario, scale: float, targets: list[Target]) -> list[str]:
    """What a reduced scale cannot resolve: an agent standing for more persons than a land border or a flight route
    lets through in a day (queues then move in lumps) or than the smallest reported figure it is compared with."""
    per_agent = {seg: agents_in_segment(spec, scale)[1] for seg, spec in scenario.population.items()}
    largest = max(per_agent.values())
    out = []
    capacities = [(name, r.capacity_per_day) for name, r in scenario.routes.items() if r.enabled and r.capacity_per_day]
    if capacities:
        name, capacity = min(capacities, key=lambda item: item[1])
        if largest > capacity:
            out.append(
                f"scale {scale:g}: an agent stands for {largest:,} persons, more than the {capacity:,.0f} a day that "
                f"the route {name} lets through; its queue moves in lumps"
            )
    counted = [t for t in targets if t.measure != "share_returned"]
    if counted:
        smallest = min(counted, key=lambda t: abs(t.value) / max(per_agent.get(t.segment, largest), 1))
        agent = per_agent.get(smallest.segment, largest)
        if agent > abs(smallest.value) / 10:
            out.append(
                f"scale {scale:g}: an agent stands for {agent:,} persons, over a tenth of the reported figure "
                f"{smallest.id} ({abs(smallest.value):,.0f}); the model cannot resolve it"
            )
    return out


def run_scenario(
    scenario: str | Path = DEFAULT_SCENARIO,
    seed: int = 0,
    scale: float = 1.0,
    out: str | Path | None = None,
    progress: bool = True,
    plot: bool = True,
    **overrides: Any,
) -> Path:
    """Run `scenario` and write its folder to `out` (default `runs/<name>-seed<N>`); return the folder.

    `overrides` set scenario fields by dotted path (pass a dict with `**`) or
    with `__` (`behaviour__hazard__alarm=2.0`). `plot=False` leaves out
    `outflow.png` (batches, where drawing takes longer than a small run). Raises `ScenarioError` for a
    bad scenario, `TargetsError` for a bad targets file and `OutputError` for an
    unusable `out`, all before running.
    """
    started, clock = utc_now(), time.perf_counter()
    scenario_path = Path(scenario)
    resolved = load_scenario(scenario_path, overrides)
    name = resolved.scenario.name
    out = Path(out) if out is not None else default_out(name, seed)
    with claim(out):  # the only writer of `out`, checked now: fail before the run, not after
        targets = targets_file(resolved, scenario_path)
        if targets is not None:
            for warning in scale_warnings(resolved, scale, load_targets(targets)):
                print(f"warning: {warning}", file=sys.stderr)

        model = RelocationModel(resolved, rng=seed, scale=scale)
        with tqdm(total=resolved.days, desc=name, unit="day", disable=not progress) as bar:

            def advance(days: int) -> None:
                bar.set_postfix_str(f"{bar.total - bar.n - days} days left", refresh=False)  # shown by update()
                bar.update(days)

            model.run(progress=advance)

        tables = _tables(model)
        per_agent = model.workers.persons_per_agent
        agents = np.bincount(model.workers.segment, minlength=len(SEGMENTS))
        with staged_dir(out) as staging:
            for file, text in tables.items():
                (staging / file).write_text(text, encoding="utf-8", newline="")
            if plot:
                plot_outflow(staging / "daily.csv", targets, staging / "outflow.png", _title(name, seed, scale))
            provenance = record(
                "run",
                started,
                time.perf_counter() - clock,
                scenario_path=str(scenario),
                scenario_name=name,
                scenario_digest=resolved.digest(),
                overrides={key.replace("__", "."): value for key, value in overrides.items()},
                seed=seed,
                scale=scale,
                days=resolved.days,
                population=model.population(),
                agents={seg: int(agents[s]) for s, seg in enumerate(SEGMENTS)},
                persons_per_agent={seg: int(per_agent[s]) for s, seg in enumerate(SEGMENTS)},
                targets_path=None if targets is None else str(targets),
                outputs={file: hashlib.sha256(text.encode()).hexdigest() for file, text in tables.items()},
                scenario=resolved.as_dict(),
            )
            write_record(staging / RUN_MARKER, provenance)
        return out


def _tables(model: RelocationModel) -> dict[str, str]:
    dates, codes, tally = model.dates(), model.codes, model.tally
    per_agent = model.workers.persons_per_agent
    return {
        "daily.csv": daily_table(tally, dates, codes, per_agent),
        "jobs.csv": jobs_table(tally, dates, per_agent),
        "queues.csv": queues_table(tally, dates, model.routes.names),
        "firms.csv": firms_table(tally, dates, codes),
        "tax.csv": tax_table(tally, dates),
    }


def _title(name: str, seed: int, scale: float) -> str:
    return f"Scenario '{name}', seed {seed}, scale {scale:g}: departures from Russia, model and reported figures"

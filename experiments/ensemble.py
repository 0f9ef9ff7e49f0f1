"""Run a scenario over several seeds and read target figures off each run.

Top-level functions only, so worker processes can import them. Every
evaluation of a parameter set uses the same seeds (common random numbers):
the difference between two parameter sets is their effect, not noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from exodus.experiments.targets import Target
from exodus.model import RelocationModel


@dataclass(frozen=True)
class Job:
    """One model run: scenario file, parameter overrides, seed, scale, horizon."""

    scenario: str
    overrides: tuple[tuple[str, Any], ...]
    seed: int
    scale: float
    days: int | None = None


def horizon(targets: Sequence[Target], start: Any) -> int:
    """Days a run needs to cover every target window."""
    return max((t.date_end - start).days for t in targets) + 1


def run_model(job: Job) -> RelocationModel:
    """Build the job's model and run it to its horizon."""
    overrides = dict(job.overrides)
    if job.days is not None:
        overrides["scenario.days"] = job.days
    return RelocationModel(job.scenario, rng=job.seed, scale=job.scale, **overrides).run()


def _figures(model: RelocationModel, targets: Sequence[Target]) -> dict[str, float]:
    per_agent = model.workers.persons_per_agent
    return {t.id: t.model_value(model.tally, model.scenario.start, per_agent, model.codes) for t in targets}


def _outflow(model: RelocationModel) -> np.ndarray:
    return model.tally.departures[:, 0, :] * model.workers.persons_per_agent[None, :]


def run_job(job: Job, targets: Sequence[Target]) -> dict[str, float]:
    """Run once; return each target's model figure (persons)."""
    return _figures(run_model(job), targets)


def run_daily_outflow(job: Job) -> np.ndarray:
    """Daily departures from Russia in persons, [day, segment]."""
    return _outflow(run_model(job))


def run_outflow_and_targets(args: tuple[Job, Sequence[Target]]) -> tuple[np.ndarray, dict[str, float]]:
    """One run's daily departures [day, segment] and every target's figure, in persons."""
    job, targets = args
    model = run_model(job)
    return _outflow(model), _figures(model, targets)


def _run_job_star(args: tuple[Job, Sequence[Target]]) -> dict[str, float]:
    return run_job(*args)


def ensemble(
    scenario: str | Path,
    params: Mapping[str, float],
    seeds: Sequence[int],
    scale: float,
    targets: Sequence[Target],
    days: int | None = None,
    executor: Executor | None = None,
) -> dict[str, list[float]]:
    """Each target's model figure per seed, for one parameter set."""
    jobs = [Job(str(scenario), tuple(sorted(params.items())), s, scale, days) for s in seeds]
    mapper = executor.map if executor is not None else map
    results = list(mapper(_run_job_star, [(job, targets) for job in jobs]))
    return {t.id: [r[t.id] for r in results] for t in targets}

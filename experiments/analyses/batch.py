"""Scenario batches: each scenario over the same seeds, and an ensemble summary per scenario.

Every scenario runs with seeds 0..N-1, the same seeds for all (common random
numbers: a scenario's difference from another, seed by seed, is its effect
and not noise). The batch folder is written all at once, like a run's:

    DIR/batch.json                      provenance: scenarios (path, name, digest), seeds, scale,
                                        overrides, versions, git, times, runs
    DIR/<scenario name>/ensemble.csv    per date, location, segment (it, other, all) and quantity
                                        (stock, arrivals, departures, returns, onward): mean, median,
                                        p05, p95 over the seeds, in persons
    DIR/<scenario name>/seed<k>/        what `exodus run` writes (daily.csv, run.json, ...);
                                        outflow.png only with plots=True
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

from exodus.experiments.analyses.run import run_scenario, targets_file
from exodus.experiments.core.outdir import OutputError, claim, staged_dir
from exodus.experiments.core.pool import default_workers
from exodus.experiments.core.provenance import record, utc_now, write_record
from exodus.experiments.core.results import BATCH_MARKER, SUMMARY, load_runs, summary_table
from exodus.experiments.core.runner import Job, run_many
from exodus.model import load_scenario
from exodus.model.population import check_scale


def write_run(job: Job, *, staging: str, plot: bool) -> float:
    """One run of a batch, in a worker process: its folder `staging/<job name>`; returns the seconds it took."""
    clock = time.perf_counter()
    out = str(Path(staging) / job.name)
    run_scenario(
        job.scenario, seed=job.seed, scale=job.scale, out=out, progress=False, plot=plot, **dict(job.overrides)
    )
    return time.perf_counter() - clock


def run_batch(
    scenarios: Sequence[str | Path],
    seeds: int | Iterable[int],
    out: str | Path,
    *,
    scale: float = 1.0,
    workers: int | None = None,
    overrides: dict[str, Any] | None = None,
    plots: bool = False,
    progress: bool = True,
) -> Path:
    """Run every scenario over the seeds (an int N: seeds 0..N-1) and write the batch folder `out`; return it.

    Raises `ScenarioError`, `TargetsError` or `OutputError` before running anything.
    """
    started, clock = utc_now(), time.perf_counter()
    out = Path(out)
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise OutputError("a batch needs at least one seed")
    overrides = dict(overrides or {})
    with claim(out, BATCH_MARKER, "a batch"):  # the only writer of `out`, checked before anything runs
        specs = []
        for path in scenarios:  # every scenario is checked before anything runs
            resolved = load_scenario(path, overrides)
            targets_file(resolved, Path(path))
            check_scale(resolved, scale)
            specs.append((str(path), resolved))
        names = [resolved.scenario.name for _, resolved in specs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise OutputError(f"scenario name(s) {', '.join(repeated)} given twice: each scenario gets a folder")
        workers = workers or default_workers()

        with staged_dir(out, BATCH_MARKER, "a batch") as staging:
            jobs = [
                Job(path, tuple(overrides.items()), seed, scale, name=f"{name}/seed{seed}")
                for (path, _), name in zip(specs, names, strict=True)
                for seed in seeds
            ]
            elapsed: dict[str, float] = {}
            workers = min(workers, len(jobs))
            task = partial(write_run, staging=str(staging), plot=plots)
            bar = {"desc": "batch", "unit": "run", "disable": not progress}
            with closing(run_many(jobs, task, workers=workers, progress=bar)) as results:
                for k, seconds in results:
                    elapsed[jobs[k].name] = round(seconds, 3)
            for name in names:
                folders = [staging / name / f"seed{seed}" for seed in seeds]
                ensemble = load_runs(folders, name, "batch", out / name)
                (staging / name / SUMMARY).write_text(summary_table(ensemble), encoding="utf-8", newline="")
            provenance = record(
                "batch",
                started,
                time.perf_counter() - clock,
                scenarios=[
                    {"path": path, "name": name, "digest": resolved.digest(), "days": resolved.days}
                    for (path, resolved), name in zip(specs, names, strict=True)
                ],
                seeds=seeds,
                scale=scale,
                overrides=overrides,
                workers=workers,
                plots=plots,
                runs=[{"folder": folder, "elapsed_seconds": s} for folder, s in sorted(elapsed.items())],
            )
            write_record(staging / BATCH_MARKER, provenance)
        return out

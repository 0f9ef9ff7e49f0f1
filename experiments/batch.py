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
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from exodus.experiments.outdir import OutputError, claim, staged_dir
from exodus.experiments.pool import default_workers, process_pool, stop
from exodus.experiments.provenance import git_state, record_json, utc_now, versions
from exodus.experiments.results import BATCH_MARKER, SUMMARY, load_runs, summary_table
from exodus.experiments.run import run_scenario, targets_file
from exodus.model import load_scenario
from exodus.model.population import check_scale


def _run_one(job: tuple[str, int, float, str, bool, dict[str, Any]]) -> tuple[str, int, float]:
    """One run of a batch, in a worker process; returns (folder, seed, seconds)."""
    scenario, seed, scale, out, plot, overrides = job
    clock = time.perf_counter()
    run_scenario(scenario, seed=seed, scale=scale, out=out, progress=False, plot=plot, **overrides)
    return out, seed, time.perf_counter() - clock


def _results(jobs: list[tuple[Any, ...]], pool: ProcessPoolExecutor | None) -> Iterator[tuple[str, int, float]]:
    if pool is None:
        yield from map(_run_one, jobs)
        return
    pending: set[Future] = {pool.submit(_run_one, job) for job in jobs}
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            yield future.result()


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
                (path, seed, scale, str(staging / name / f"seed{seed}"), plots, overrides)
                for (path, _), name in zip(specs, names, strict=True)
                for seed in seeds
            ]
            elapsed: dict[str, float] = {}
            workers = min(workers, len(jobs))
            pool = process_pool(workers) if workers > 1 else None  # before the progress bar: see pool.py
            try:
                with tqdm(total=len(jobs), desc="batch", unit="run", disable=not progress) as bar:
                    for folder, _, seconds in _results(jobs, pool):
                        elapsed[str(Path(folder).relative_to(staging))] = round(seconds, 3)
                        bar.update(1)
            except BaseException:
                if pool is not None:
                    stop(pool)
                raise
            if pool is not None:
                pool.shutdown()
            for name in names:
                folders = [staging / name / f"seed{seed}" for seed in seeds]
                ensemble = load_runs(folders, name, "batch", out / name)
                (staging / name / SUMMARY).write_text(summary_table(ensemble), encoding="utf-8", newline="")
            record = {
                "kind": "batch",
                "scenarios": [
                    {"path": path, "name": name, "digest": resolved.digest(), "days": resolved.days}
                    for (path, resolved), name in zip(specs, names, strict=True)
                ],
                "seeds": seeds,
                "scale": scale,
                "overrides": overrides,
                "workers": workers,
                "plots": plots,
                "runs": [{"folder": folder, "elapsed_seconds": s} for folder, s in sorted(elapsed.items())],
                "versions": versions(),
                "git": git_state(),
                "started": started,
                "finished": utc_now(),
                "elapsed_seconds": round(time.perf_counter() - clock, 3),
            }
            (staging / BATCH_MARKER).write_text(record_json(record), encoding="utf-8")
        return out

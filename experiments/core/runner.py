"""The run core: one job type, one way to run a job, one way to run many.

Every command that runs the model more than once (batch, sweep,
sensitivity, attribution, calibration, validation) describes each run as a
`Job` and hands the jobs to `run_many`, which runs a task over them in this
process, in local worker processes (`pool.py`) or on a dask cluster, and
yields `(key, result)` pairs as runs finish, the key being the job's
position in the list given, so that callers put results back in order.

    jobs = [Job("scenarios/baseline.toml", (("behaviour.hazard.alarm", 2.0),), seed, 0.05) for seed in range(4)]
    task = partial(run_metrics, names=["cumulative_departures:all:2022-12-31"])
    for k, metrics in run_many(jobs, task, workers=2):
        ...

A task is a top-level function of one job (or a `functools.partial` of one),
so worker processes can import it; it runs where the job runs and returns
what is sent back (a few numbers, arrays, bytes). The default task, `run`,
returns the finished model, which does not travel between processes: it
serves in this process only (one worker).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

from tqdm import tqdm

from exodus.experiments.core.pool import process_pool, stop
from exodus.model import RelocationModel, load_scenario
from exodus.model.scenario import Scenario, set_path, validate


@dataclass(frozen=True)
class Job:
    """One model run: scenario, parameter overrides, seed, scale, horizon.

    `scenario` is a scenario file, or a scenario's raw tables (a dict, as `read_raw` gives; it travels with the
    job, so a dask worker needs no files). `overrides` set dotted fields, in order; `days`, if given, sets
    `scenario.days` after them. `name` is what the run is called in errors and outputs (a sweep's run id, a
    batch's folder); it does not change the run.
    """

    scenario: str | Path | Mapping[str, Any]
    overrides: tuple[tuple[str, Any], ...] = ()
    seed: int = 0
    scale: float = 1.0
    days: int | None = None
    name: str = ""

    def all_overrides(self) -> dict[str, Any]:
        """The overrides with the horizon, as one dict (dotted path: value)."""
        overrides = dict(self.overrides)
        if self.days is not None:
            overrides["scenario.days"] = self.days
        return overrides

    def resolve(self, source: str | None = None) -> Scenario:
        """The job's scenario, validated. A file is read with `load_scenario` (which also checks the horizon);
        raw tables are copied, overridden and validated, errors naming `source` (default: the job's name)."""
        if isinstance(self.scenario, Mapping):
            raw = copy.deepcopy(dict(self.scenario))
            for path, value in self.all_overrides().items():
                set_path(raw, path, value)
            return validate(raw, source or self.name or "scenario tables")
        return load_scenario(self.scenario, self.all_overrides())


def build(job: Job, source: str | None = None) -> RelocationModel:
    """The job's model, built and not run."""
    return RelocationModel(job.resolve(source), rng=job.seed, scale=job.scale)


def run(job: Job) -> RelocationModel:
    """Build the job's model and run it to its horizon."""
    return build(job).run()


def run_metrics(job: Job, *, names: Sequence[str]) -> dict[str, float]:
    """Run the job; return the named metrics of `metrics.py` (a task for `run_many`)."""
    from exodus.experiments.core.metrics import evaluate

    return evaluate(run(job), names)


# many runs -------------------------------------------------------------------------------------------------------
Task = Callable[[Any], Any]


class Runner:
    """Where runs go: this process (one worker), local worker processes, or a dask cluster (`scheduler`).

    A context manager: entering starts the workers (before any progress bar, whose monitor thread would rule out
    forking them: see pool.py), leaving ends them; leaving on an error (or Ctrl-C) stops them at once and the
    runs in flight are lost. One runner serves many `run_many` calls (a calibration's evaluations).
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None, tag: str = "exodus") -> None:
        self.workers = max(1, int(workers))
        self.scheduler = scheduler
        self.tag = tag
        self.pool: ProcessPoolExecutor | None = None
        self.client: Any = None

    def __enter__(self) -> Runner:
        if self.scheduler:
            self.client = _connect(self.scheduler)
        elif self.workers > 1:
            self.pool = process_pool(self.workers)
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if self.pool is not None:
            if kind is None:
                self.pool.shutdown()
            else:
                stop(self.pool)
            self.pool = None
        if self.client is not None:
            self.client.close()
            self.client = None

    def run_many(self, jobs: Sequence[Any], task: Task = run) -> Iterator[tuple[int, Any]]:
        """`(k, task(jobs[k]))` as each finishes; at most twice as many jobs in flight as workers."""
        if task is run and (self.client is not None or (self.pool is not None and len(jobs) > 1)):
            raise TypeError(
                "a finished model does not travel between processes: give a task that returns what is "
                "needed (run_metrics, ...), or run in this process (one worker)"
            )
        if self.client is not None:
            yield from _dask(self.client, jobs, task, self.tag)
        elif self.pool is None or len(jobs) <= 1:
            for k, job in enumerate(jobs):
                yield k, task(job)
        else:
            yield from _local(self.pool, jobs, task, self.workers)


class LostRunError(RuntimeError):
    """A worker process or a cluster lost the runs in hand (out of memory, killed, a machine gone)."""


class SchedulerError(ValueError):
    """A dask scheduler that cannot be used (dask.distributed missing, no answer)."""


def run_many(
    jobs: Sequence[Any],
    task: Task = run,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Mapping[str, Any] | None = None,
    runner: Runner | None = None,
) -> Iterator[tuple[int, Any]]:
    """Run `task` over `jobs`; yield `(k, result)` pairs as runs finish, k the job's position in `jobs`.

    Without `runner`, one is started for these jobs (workers: at most one a job; in this process for one) and
    ended when the last result is taken, or at once if the caller stops early or fails. `progress`: keyword
    arguments of a tqdm bar (desc, unit, total, initial, disable), started after the workers and moved on as
    each result has been dealt with; None: no bar.
    """
    if runner is None:
        runner = Runner(min(workers, max(1, len(jobs))), scheduler)
        with runner:
            yield from run_many(jobs, task, progress=progress, runner=runner)
        return
    if progress is None:
        yield from runner.run_many(jobs, task)
        return
    with tqdm(**({"total": len(jobs)} | dict(progress))) as bar:
        for pair in runner.run_many(jobs, task):
            yield pair
            bar.update(1)


def in_order(pairs: Iterator[tuple[int, Any]]) -> list[Any]:
    """The results of `run_many` in the order of its jobs."""
    return [result for _, result in sorted(pairs, key=lambda pair: pair[0])]


def _local(pool: ProcessPoolExecutor, jobs: Sequence[Any], task: Task, workers: int) -> Iterator[tuple[int, Any]]:
    from concurrent.futures.process import BrokenProcessPool

    queue = iter(enumerate(jobs))
    pending: dict[Future, int] = {}

    def submit(items: Iterator[tuple[int, Any]]) -> None:
        for k, job in items:
            pending[pool.submit(task, job)] = k

    submit(islice(queue, 2 * workers))
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            k = pending.pop(future)
            try:
                result = future.result()
            except BrokenProcessPool as err:
                raise LostRunError(
                    "a worker process died (out of memory?); the runs it had in hand were not recorded"
                ) from err
            submit(islice(queue, 1))
            yield k, result


def _connect(scheduler: str) -> Any:
    from distributed import Client

    try:
        return Client(scheduler, timeout="30s", set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise SchedulerError(f"--scheduler {scheduler}: cannot connect ({err})") from None


def _dask(client: Any, jobs: Sequence[Any], task: Task, tag: str) -> Iterator[tuple[int, Any]]:
    """On a dask cluster (workers need this project importable; start them with --nthreads 1)."""
    from distributed import as_completed

    slots = sum(client.nthreads().values()) or 1
    queue = iter(enumerate(jobs))
    session = os.urandom(4).hex()  # keys of an earlier, interrupted session may linger on the scheduler
    keys: dict[str, int] = {}

    def submit(k: int, job: Any) -> Any:
        key = f"{tag}-{getattr(job, 'name', '') or k}-{session}"
        keys[key] = k
        return client.submit(task, job, key=key, pure=False, retries=0)

    futures = as_completed([submit(k, job) for k, job in islice(queue, 2 * slots)], loop=client.loop)
    for future in futures:
        try:
            result = future.result()
        except Exception as err:
            raise LostRunError(
                f"the cluster lost a run ({type(err).__name__}: {err}); the runs in hand were not recorded"
            ) from None
        k = keys.pop(future.key)
        future.release()
        for item in islice(queue, 1):
            futures.add(submit(*item))
        yield k, result

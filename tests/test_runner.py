"""The run core: a job gives the same numbers however it is run, and results come back keyed to their jobs."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from exodus.experiments.core.runner import Job, in_order, run, run_many, run_metrics
from exodus.model import ScenarioError
from exodus.model.scenario import read_raw

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"
NAMES = ("cumulative_departures:all:2022-04-30", "stock_abroad:it:2022-04-30")
DAYS, SCALE = 70, 0.002


def _jobs() -> list[Job]:
    return [
        Job(str(BASELINE), (("behaviour.hazard.alarm", a),), seed, SCALE, DAYS) for a in (1.5, 3.0) for seed in (0, 1)
    ]


def test_run_many_gives_each_job_its_own_result_in_process_and_on_workers() -> None:
    jobs = _jobs()
    task = partial(run_metrics, names=NAMES)
    alone = [task(job) for job in jobs]
    assert in_order(run_many(jobs, task)) == alone
    keyed = dict(run_many(jobs, task, workers=2))
    assert sorted(keyed) == list(range(len(jobs))) and [keyed[k] for k in range(len(jobs))] == alone
    assert alone[0] != alone[2]  # the override acts


def test_a_job_on_raw_tables_runs_as_the_file_does() -> None:
    job = _jobs()[1]
    tables = Job(read_raw(BASELINE), job.overrides, job.seed, job.scale, job.days, name="p0001-s1")
    assert run_metrics(tables, names=NAMES) == run_metrics(job, names=NAMES)
    assert run(tables).scenario.days == DAYS


def test_errors_of_a_task_reach_the_caller_and_a_model_does_not_cross_processes() -> None:
    bad = [Job(str(BASELINE), (("behaviour.hazard.alarm", -1.0),), 0, SCALE, DAYS)] * 2
    with pytest.raises(ScenarioError, match="alarm"):
        list(run_many(bad, partial(run_metrics, names=NAMES), workers=2))
    with pytest.raises(TypeError, match="does not travel"):
        list(run_many(_jobs(), workers=2))

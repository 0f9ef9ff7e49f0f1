"""Parameter sweeps: run a sweep file's design over its seeds, resumably, locally or on a dask cluster.

The output folder DIR:

    DIR/sweep.json             provenance (`provenance.record`): the sweep file's path and SHA-256, the base
                               scenario's digest, the design, the runs' ids, one entry per session (start, end,
                               backend, runs done, versions, git); versions, git and times of the latest session
    DIR/sweep.toml             a copy of the sweep file
    DIR/done/<run_id>.json     one finished run: parameters, seed, status (ok/error), error, metrics, timing
    DIR/series/<run_id>.parquet  its daily series: run_id, date, location, segment, stock, arrivals,
                               departures, returns, onward (persons); a Parquet dataset, one file a run
    DIR/runs.csv               one row a finished run, in design order: run_id, point, seed, the parameters,
                               status, error, the metrics

Loss-free and resumable: only this process writes to DIR, and a run counts
as finished when its done file exists. The series goes in first, then the
done file, each written to DIR/.tmp and renamed into place, so a kill at any
moment (even SIGKILL) leaves every finished run whole and no half-written
file where it counts. Started again with the same command, a sweep runs only
what has no done file; `runs.csv` is rebuilt from the done files (after
each batch of completions, at most every few seconds, and at the end), so
it comes out the same as an uninterrupted sweep's. A resumed sweep refuses
to go on if the sweep file, the base scenario or the model's code changed
meanwhile (`accept_code_change` overrides the last, and says so in sweep.json).

A run that fails (an invalid parameter value, say) is recorded with its
error and the sweep goes on; `retry_errors` runs such runs again. A worker
process or machine that dies loses only the runs it had in hand: the sweep
stops, and running it again finishes them.

On a dask cluster (`scheduler="tcp://HOST:PORT"`), the scheduler and the
workers must have this project importable, as dask wants one environment
everywhere (`pip install -e .` on each machine); the base scenario travels
with the tasks, so workers need no scenario files. A run keeps one core
busy: start workers with `--nthreads 1` and as many workers as cores. Only
the machine that runs `exodus sweep` writes to DIR.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from exodus.experiments.analyses.sweep_file import Run, Sweep, SweepError, load_sweep
from exodus.experiments.core.outdir import exclusive, write_atomic
from exodus.experiments.core.pool import default_workers
from exodus.experiments.core.provenance import (
    code_digest,
    git_state,
    record,
    record_json,
    utc_now,
    versions,
    write_record,
)
from exodus.experiments.core.results import SWEEP_MARKER
from exodus.experiments.core.runner import Job, LostRunError, Runner, SchedulerError, build, run_many
from exodus.experiments.core.targets import targets_path

DONE, SERIES, TMP = "done", "series", ".tmp"
RUNS_CSV = "runs.csv"
LOCK = ".lock"
REFRESH_SECONDS = 2.0  # runs.csv is rewritten at most this often while the sweep goes on
SERIES_COLUMNS = ("stock", "arrivals", "departures", "returns", "onward")


# the work of one run: a top-level function, for worker processes and dask workers ---------------------------------
def execute(job: Job, *, metrics: Sequence[str], source: str) -> dict[str, Any]:
    """Run one job of the sweep (raw base tables, the run's parameters as overrides, its run id as name); an
    error in the run is returned, not raised, so the sweep records it and goes on.

    Returns run_id, status, error, traceback, metrics, series (Parquet bytes), elapsed_seconds.
    """
    from exodus.experiments.core.metrics import evaluate

    clock = time.perf_counter()
    result: dict[str, Any] = {"run_id": job.name, "status": "ok", "error": "", "traceback": ""}
    try:
        model = build(job, f"{source}, run {job.name}").run()
        result["metrics"] = evaluate(model, metrics)
        result["series"] = series_parquet(model, job.name)
    except Exception as err:  # noqa: BLE001 - any failure of a run is a result to record
        result |= {"status": "error", "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        result.pop("metrics", None)
        result.pop("series", None)
    result["elapsed_seconds"] = round(time.perf_counter() - clock, 3)
    return result


def series_parquet(model: Any, run_id: str) -> bytes:
    """The run's daily series in persons, long format, as Parquet bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from exodus.model.population import SEGMENTS

    tally, per_agent = model.tally, model.workers.persons_per_agent
    days, n_loc, n_seg = tally.stock.shape
    returns = np.zeros_like(tally.arrivals)
    returns[:, 0] = tally.arrivals[:, 0]
    values = {"stock": tally.stock, "arrivals": tally.arrivals, "departures": tally.departures}
    values |= {"returns": returns, "onward": tally.onward}
    start = np.datetime64(model.scenario.start, "D")
    dates = start + np.arange(days).astype("timedelta64[D]")
    n = days * n_loc * n_seg

    def codes(labels: list[str], index: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(labels, pa.string()))

    loc_index = np.broadcast_to(np.arange(n_loc)[None, :, None], (days, n_loc, n_seg)).ravel()
    seg_index = np.broadcast_to(np.arange(n_seg)[None, None, :], (days, n_loc, n_seg)).ravel()
    columns = {
        "run_id": codes([run_id], np.zeros(n, dtype=np.int32)),
        "date": pa.array(np.repeat(dates, n_loc * n_seg), pa.date32()),
        "location": codes(list(model.codes), loc_index),
        "segment": codes(list(SEGMENTS), seg_index),
    }
    for name in SERIES_COLUMNS:
        columns[name] = pa.array((values[name] * per_agent[None, None, :]).ravel().astype(np.int64))
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


# the output folder --------------------------------------------------------------------------------------------------
def _locked(out: Path) -> contextlib.AbstractContextManager[None]:
    """One sweep at a time writes a folder (the lock file stays in it)."""
    return exclusive(out / LOCK, f"{out}: another sweep is writing to this folder", SweepError, remove=False)


def _describe(sweep: Sweep) -> dict[str, Any]:
    from exodus.model.scenario import validate

    base = validate(sweep.base, str(sweep.scenario_file))
    targets = None
    if base.scenario.targets is not None:
        targets = str(targets_path(sweep.scenario_file, base.scenario.targets))
    return {
        "name": sweep.name,
        "description": sweep.spec.sweep.description,
        "sweep_file": str(sweep.file),
        "sweep_sha256": sweep.sha256,
        "scenario_file": str(sweep.scenario_file),
        "scenario_digest": base.digest(),
        "code_digest": code_digest(),
        "targets_path": targets,
        "seeds": sweep.spec.sweep.seed_list,
        "scale": sweep.spec.sweep.scale,
        "days": base.days,
        "metrics": sweep.metrics,
        "parameters": sweep.paths,
        "fixed": sweep.spec.set,
        "design": {
            "method": sweep.spec.design.method,
            "seed": sweep.spec.design.seed,
            "points": sweep.points,
            "unit": sweep.unit,
        },
        "runs": [r.run_id for r in sweep.runs],
    }


def _prepare(out: Path, sweep: Sweep, accept_code_change: bool = False) -> dict[str, Any]:
    """Start DIR or check it belongs to this sweep; returns what sweep.json records beside the provenance."""
    state = _describe(sweep)
    marker = out / SWEEP_MARKER
    if marker.is_file():
        old = json.loads(marker.read_text(encoding="utf-8"))
        if old.get("sweep_sha256") != sweep.sha256:
            raise SweepError(
                f"{out}: was started with a different sweep file ({old.get('sweep_file')}, SHA-256 "
                f"{str(old.get('sweep_sha256'))[:12]}...; {sweep.file} now has {sweep.sha256[:12]}...). "
                "Restore that file to resume, or give another --out"
            )
        if old.get("scenario_digest") != state["scenario_digest"]:
            raise SweepError(
                f"{out}: the base scenario {sweep.scenario_file} changed since the sweep started (digest "
                f"{str(old.get('scenario_digest'))[:12]}... then, {state['scenario_digest'][:12]}... now). "
                "Restore it to resume, or give another --out"
            )
        if old.get("code_digest") != state["code_digest"]:
            if not accept_code_change:
                raise SweepError(
                    f"{out}: the model's code (model/*.py, experiments/core/metrics.py, targets.py) changed since the "
                    "sweep started; runs made by the new code may not agree with those already done. Give another "
                    "--out to start afresh, or --accept-code-change to go on all the same (recorded in sweep.json)"
                )
            state["code_changed"] = True
        if old.get("design") != state["design"] or old.get("runs") != state["runs"]:
            raise SweepError(
                f"{out}: the same sweep file now gives another design (a different scipy or SALib?); "
                "resume with the versions that started it, or give another --out"
            )
        state["sessions"] = old.get("sessions", [])
        state["code_changed"] = state.get("code_changed") or old.get("code_changed", False)
        for session in state["sessions"]:
            if session.get("outcome") == "running":
                session["outcome"] = "ended without a word (killed?)"
        return state
    if out.exists():
        if not out.is_dir():
            raise SweepError(f"{out}: exists and is not a folder")
        leftovers = {p.name for p in out.iterdir()} - {LOCK, TMP, "sweep.toml"}
        if leftovers:
            raise SweepError(f"{out}: exists and does not hold a sweep ({SWEEP_MARKER} missing); not writing there")
    state["sessions"] = []
    state["code_changed"] = False
    return state


def _read_done(out: Path, ids: set[str]) -> dict[str, dict[str, Any]]:
    done = {}
    for path in (out / DONE).glob("*.json"):
        if path.stem in ids:
            try:
                done[path.stem] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # written whole or not at all, unless the disk failed: run it again
                continue
    return done


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def runs_table(sweep: Sweep, done: dict[str, dict[str, Any]]) -> str:
    """`runs.csv`: the finished runs in design order (point, then seed). No timings: the same results, the
    same bytes, however many sessions the sweep took."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["run_id", "point", "seed", *sweep.paths, "status", "error", *sweep.metrics])
    for run in sweep.runs:
        rec = done.get(run.run_id)
        if rec is None:
            continue
        metrics = rec.get("metrics") or {}
        error = " | ".join(line.strip() for line in rec.get("error", "").splitlines() if line.strip())
        writer.writerow(
            [
                run.run_id,
                run.point,
                run.seed,
                *(_cell(run.params[p]) for p in sweep.paths),
                rec["status"],
                error,
                *(_cell(metrics[m]) if m in metrics else "" for m in sweep.metrics),
            ]
        )
    return buf.getvalue()


# running --------------------------------------------------------------------------------------------------------------
def _job(sweep: Sweep, run: Run) -> Job:
    """The run as a job: the base tables travel with it (dask workers need no scenario files)."""
    return Job(sweep.base, tuple(run.params.items()), run.seed, sweep.spec.sweep.scale, name=run.run_id)


@dataclass
class SweepResult:
    out: Path
    total: int
    ok: int
    errors: int
    ran: int  # in this session

    def __str__(self) -> str:
        errors = f", {self.errors} failed (see the error column)" if self.errors else ""
        return f"{self.out}: {self.ok + self.errors} of {self.total} runs done, {self.ok} ok{errors}"


def run_sweep(
    sweep_file: str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retry_errors: bool = False,
    accept_code_change: bool = False,
    progress: bool = True,
) -> SweepResult:
    """Run (or resume) the sweep described by `sweep_file` into `out`."""
    sweep = load_sweep(sweep_file)
    out = Path(out)
    _check_metrics(sweep)
    state = _prepare(out, sweep, accept_code_change)
    clock = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        tmp = out / TMP
        shutil.rmtree(tmp, ignore_errors=True)  # what a killed session was writing
        for sub in (tmp, out / DONE, out / SERIES):
            sub.mkdir(exist_ok=True)
        if not (out / SWEEP_MARKER).is_file():
            shutil.copyfile(sweep.file, tmp / "sweep.toml")
            os.replace(tmp / "sweep.toml", out / "sweep.toml")
        ids = {r.run_id for r in sweep.runs}
        done = _read_done(out, ids)
        todo = [r for r in sweep.runs if r.run_id not in done or (retry_errors and done[r.run_id]["status"] != "ok")]
        workers = workers or default_workers()
        session = {
            "started": utc_now(),
            "backend": f"dask {scheduler}" if scheduler else f"local, {workers} worker(s)",
            "runs_before": len(done),
            "runs_to_do": len(todo),
            "runs_run": 0,
            "finished": None,
            "outcome": "running",
            "versions": versions(),
            "git": git_state(),
        }
        state["sessions"].append(session)

        def save() -> None:
            """sweep.json as it stands: what the sweep is, its sessions, and the provenance of this one."""
            provenance = record("sweep", session["started"], time.perf_counter() - clock, **state)
            write_record(out / SWEEP_MARKER, provenance, tmp)

        save()

        jobs = [_job(sweep, r) for r in todo]
        task = partial(execute, metrics=sweep.metrics, source=str(sweep.file))
        bar = {
            "total": len(sweep.runs),
            "initial": len(sweep.runs) - len(todo),
            "desc": f"sweep {sweep.name}",
            "unit": "run",
            "disable": not progress,
        }
        last_write = time.monotonic()
        by_id = {r.run_id: r for r in sweep.runs}
        tag = f"exodus-sweep-{sweep.sha256[:8]}"
        runner = Runner(min(workers, max(1, len(jobs))), scheduler if jobs else None, tag=tag)
        results = run_many(jobs, task, progress=bar, runner=runner)
        try:
            with runner:  # the workers before the progress bar, whose monitor thread would rule out forking them
                for _, result in results:
                    done[result["run_id"]] = _record_result(out, by_id[result["run_id"]], result, tmp)
                    session["runs_run"] += 1
                    if result["status"] != "ok":
                        tqdm.write(f"run {result['run_id']} failed: {result['error'].splitlines()[0]}")
                    if time.monotonic() - last_write >= REFRESH_SECONDS:
                        write_atomic(out / RUNS_CSV, runs_table(sweep, done), tmp)
                        save()
                        last_write = time.monotonic()
            session["outcome"] = "complete"
        except (LostRunError, SchedulerError) as err:
            session["outcome"] = "stopped: SweepError"
            resume = ": run the same command again to resume" if isinstance(err, LostRunError) else ""
            raise SweepError(f"{err}{resume}") from None
        except BaseException as err:
            session["outcome"] = f"stopped: {type(err).__name__}"  # runs in flight are lost; they run again on resume
            raise
        finally:
            results.close()
            write_atomic(out / RUNS_CSV, runs_table(sweep, done), tmp)
            session["finished"] = utc_now()
            state["complete"] = all(r.run_id in done for r in sweep.runs)
            save()
    ok = sum(1 for r in done.values() if r["status"] == "ok")
    return SweepResult(out, len(sweep.runs), ok, len(done) - ok, session["runs_run"])


def _record_result(out: Path, run: Run, result: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Series first, then the done file that makes the run count."""
    series = result.pop("series", None)
    if series is not None:
        write_atomic(out / SERIES / f"{run.run_id}.parquet", series, tmp)
    rec = {
        "run_id": run.run_id,
        "point": run.point,
        "seed": run.seed,
        "params": run.params,
        "status": result["status"],
        "error": result["error"],
        "traceback": result["traceback"],
        "metrics": result.get("metrics"),
        "elapsed_seconds": result["elapsed_seconds"],
        "finished": utc_now(),
    }
    write_atomic(out / DONE / f"{run.run_id}.json", record_json(rec), tmp)
    return rec


def _check_metrics(sweep: Sweep) -> None:
    """Metric arguments (dates in the run, locations, statuses) checked on the base model, before any run."""
    from exodus.experiments.core.metrics import MetricError, evaluate
    from exodus.model import RelocationModel
    from exodus.model.scenario import validate

    scenario = validate(sweep.base, str(sweep.scenario_file))
    model = RelocationModel(scenario, rng=0, scale=sweep.spec.sweep.scale)  # built, not run
    try:
        evaluate(model, sweep.metrics)
    except MetricError as err:
        raise SweepError(f"{sweep.file}: field sweep.metrics: {err}") from None

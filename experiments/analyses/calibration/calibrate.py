"""Calibration: fit a scenario's free parameters to the reported figures.

The method, in the order it runs:

1. Loss. For each target with non-zero weight, the ensemble mean over a
   fixed set of seeds (common random numbers: every evaluation sees the
   same seeds, so the loss is a deterministic function of the parameters)
   is compared with the accepted range: the miss is the distance outside
   the range relative to the reported value, squared and weighted. A small
   pull toward the middle of the range (`CENTRE_PULL`) makes the optimum
   unique where the ranges leave it flat. It pulls toward the middle, not
   the reported value, because many reported values are the range's own
   edge ("more than 260,000"): a fit drawn to an edge falls outside it at
   the next seed or at full scale.
2. Point fit. SciPy's `differential_evolution`, seeded, with deferred
   updating so a seed gives one sequence of trials; trials run in parallel
   over local processes, at a reduced scale (`fit.md` reports how far the
   reduced scale moves each target against full scale). Every evaluation
   is appended to `evaluations.jsonl`; a re-run reads it back and only runs
   what is missing, so a killed calibration resumes and a repeated one
   reproduces the same parameters. Nelder-Mead then polishes the best
   point (`polish`), within the bounds.
3. Uncertainty. Approximate Bayesian computation (pyabc's ABC-SMC) with
   uniform priors over the declared bounds and the same loss as distance;
   its particles give the posterior of the parameters and, re-run, the
   posterior-predictive band of the outflow curves.
4. Check. The fitted scenario over many seeds at full scale: the ensemble
   mean of every target against its range.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution, minimize

from exodus.experiments.analyses.parameters import Bounded
from exodus.experiments.core.outdir import write_atomic
from exodus.experiments.core.provenance import code_digest
from exodus.experiments.core.runner import Job, Runner, Task, in_order, run, run_many
from exodus.experiments.core.targets import Target, scenario_targets
from exodus.model import RelocationModel, load_scenario
from exodus.model.scenario import Scenario, ScenarioError, get_path

CENTRE_PULL = 0.01


# runs: what one run of a calibration gives back -----------------------------------------------------------------
def horizon(targets: Sequence[Target], start: Any) -> int:
    """Days a run needs to cover every target window."""
    return max((t.date_end - start).days for t in targets) + 1


def target_figures(model: RelocationModel, targets: Sequence[Target]) -> dict[str, float]:
    """Each target's figure in a finished run (persons)."""
    per_agent = model.workers.persons_per_agent
    return {t.id: t.model_value(model.tally, model.scenario.start, per_agent, model.codes) for t in targets}


def outflow(model: RelocationModel) -> np.ndarray:
    """Daily departures from Russia in persons, [day, segment]."""
    return model.tally.departures[:, 0, :] * model.workers.persons_per_agent[None, :]


def run_targets(job: Job, *, targets: Sequence[Target]) -> dict[str, float]:
    """Run once; return each target's model figure (persons)."""
    return target_figures(run(job), targets)


def run_outflow(job: Job) -> np.ndarray:
    """Run once; return the daily departures from Russia in persons, [day, segment]."""
    return outflow(run(job))


def run_outflow_and_targets(job: Job, *, targets: Sequence[Target]) -> tuple[np.ndarray, dict[str, float]]:
    """One run's daily departures [day, segment] and every target's figure, in persons."""
    model = run(job)
    return outflow(model), target_figures(model, targets)


def ensemble(
    scenario: str | Path,
    params: Mapping[str, float],
    seeds: Sequence[int],
    scale: float,
    targets: Sequence[Target],
    days: int | None = None,
    workers: int = 1,
) -> dict[str, list[float]]:
    """Each target's model figure per seed, for one parameter set."""
    jobs = [Job(str(scenario), tuple(sorted(params.items())), s, scale, days) for s in seeds]
    results = in_order(run_many(jobs, partial(run_targets, targets=tuple(targets)), workers=workers))
    return {t.id: [r[t.id] for r in results] for t in targets}


# the problem ---------------------------------------------------------------------------------------------------
def free_parameters(scenario: Scenario, source: str) -> list[Bounded]:
    if not scenario.free_parameters:
        raise ScenarioError(f"{source}: field free_parameters: expected at least one parameter to calibrate")
    # the bounds were checked when the scenario was validated
    return [Bounded(path=path, **spec.model_dump()) for path, spec in scenario.free_parameters.items()]


def loss(targets: Sequence[Target], values: dict[str, list[float]]) -> float:
    """Weighted squared misses of the ensemble means outside the accepted ranges."""
    total = 0.0
    for t in targets:
        if not t.fitted:  # weight 0 or held out: never shown to the fit
            continue
        mean = float(np.mean(values[t.id]))
        centre = (t.low + t.high) / 2
        total += t.weight * (t.miss(mean) ** 2 + CENTRE_PULL * ((mean - centre) / abs(t.value)) ** 2)
    return total


def averaged_relative_difference(targets: Sequence[Target], means: dict[str, float]) -> float:
    """Mean of |model - reported| / |reported| over the given targets (Flee's validation measure)."""
    return float(np.mean([t.relative_difference(means[t.id]) for t in targets])) if targets else float("nan")


class EvaluationLog:
    """Every evaluation, one JSON line each; read back to resume or reproduce."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that evaluation runs again
                self.records[record["key"]] = record

    @staticmethod
    def key(stage: str, x: Sequence[float]) -> str:
        return stage + ":" + ",".join(repr(float(v)) for v in x)

    def add(self, record: dict[str, Any]) -> None:
        self.records[record["key"]] = record
        with self.path.open("a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class Calibration:
    """Everything one calibration needs; `evaluate` is its only way to run the model."""

    scenario_file: Path
    out: Path
    seeds: Sequence[int] = (0, 1, 2)
    scale: float = 0.05
    workers: int = 2
    progress: Callable[[int], None] | None = None
    only: Sequence[str] | None = None  # fit these free parameters only (the others keep the scenario's values)
    scenario: Scenario = field(init=False)
    targets: list[Target] = field(init=False)
    params: list[Bounded] = field(init=False)
    days: int = field(init=False)
    log: EvaluationLog = field(init=False)
    runner: Runner = field(init=False, default_factory=Runner)  # in this process until entered

    def __post_init__(self) -> None:
        self.scenario = load_scenario(self.scenario_file)
        if not self.scenario.scenario.targets:
            raise ScenarioError(f"{self.scenario_file}: field scenario.targets: expected a targets file to fit")
        s = self.scenario
        self.targets_file, self.targets = scenario_targets(
            self.scenario_file, s.scenario.targets, s.start, s.days, s.locations
        )
        self.params = free_parameters(self.scenario, str(self.scenario_file))
        if self.only is not None:
            unknown = sorted(set(self.only) - {p.path for p in self.params})
            if unknown:
                missing = ", ".join(unknown)
                raise ScenarioError(f"{self.scenario_file}: field free_parameters: no parameter(s) {missing}")
            self.params = [p for p in self.params if p.path in self.only]
        self.days = horizon(self.targets, self.scenario.start)
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_same_problem()
        self.log = EvaluationLog(self.out / "evaluations.jsonl")

    def _check_same_problem(self) -> None:
        """Logged evaluations are reused only for the scenario, targets and model code that made them."""
        problem = {
            "scenario": self.scenario.digest(),
            "targets": hashlib.sha256(self.targets_file.read_bytes()).hexdigest(),
            "free_parameters": [[p.path, p.low, p.high, p.log] for p in self.params],
            "code": code_digest(),
        }
        path = self.out / "problem.json"
        if path.exists():
            old = json.loads(path.read_text())
            changed = [k for k in problem if old.get(k) != problem[k]]
            if changed:
                raise ScenarioError(
                    f"{self.out}: holds a calibration whose {', '.join(changed)} differ(s) from this one; its "
                    "logged evaluations do not apply. Give another --out, or delete that folder to start afresh"
                )
        else:
            write_atomic(path, json.dumps(problem, indent=1) + "\n")

    def __enter__(self) -> Calibration:
        self.runner = Runner(self.workers).__enter__()  # fork only when safe; workers die with this process
        return self

    def __exit__(self, *exc: Any) -> None:
        self.runner.__exit__(*exc)
        self.runner = Runner()

    def map(self, task: Task, jobs: Sequence[Job]) -> list[Any]:
        """`task` over the jobs on the calibration's workers; the results in the jobs' order."""
        return in_order(self.runner.run_many(jobs, task))

    def overrides(self, x: Sequence[float]) -> dict[str, float]:
        return {p.path: p.value(v, clip=False) for p, v in zip(self.params, x, strict=True)}

    def jobs(self, x: Sequence[float], seeds: Iterable[int], scale: float, days: int) -> list[Job]:
        """One run per seed of the scenario with parameters `x`."""
        overrides = tuple(sorted(self.overrides(x).items()))
        return [Job(str(self.scenario_file), overrides, s, scale, days) for s in seeds]

    # evaluation -------------------------------------------------------------
    def evaluate(
        self, xs: Sequence[Sequence[float]], stage: str, seeds: Sequence[int] | None = None, scale: float | None = None
    ) -> list[dict[str, Any]]:
        """Run every parameter vector over its seeds; logged results are read, not re-run."""
        seeds = list(self.seeds if seeds is None else seeds)
        scale = self.scale if scale is None else scale
        keys = [EvaluationLog.key(f"{stage}@{scale}x{len(seeds)}", x) for x in xs]
        todo = [(k, x) for k, x in zip(keys, xs, strict=True) if k not in self.log.records]
        todo = list(dict(todo).items())
        jobs = [job for _, x in todo for job in self.jobs(x, seeds, scale, self.days)]
        results = self.map(partial(run_targets, targets=self.targets), jobs)
        for n, (key, x) in enumerate(todo):
            runs = results[n * len(seeds) : (n + 1) * len(seeds)]
            values = {t.id: [r[t.id] for r in runs] for t in self.targets}
            self.log.add(
                {
                    "key": key,
                    "stage": stage,
                    "x": [float(v) for v in x],
                    "params": self.overrides(x),
                    "seeds": seeds,
                    "scale": scale,
                    "values": values,
                    "loss": loss(self.targets, values),
                }
            )
        if self.progress is not None:
            self.progress(len(xs))
        return [self.log.records[k] for k in keys]

    # 2. point fit ------------------------------------------------------------
    def fit(self, seed: int = 0, popsize: int = 6, maxiter: int = 12) -> tuple[np.ndarray, float]:
        """Differential evolution over the free parameters; returns (x, loss)."""

        def objective(x: np.ndarray) -> float:  # only used if scipy evaluates one point alone
            return float(self.evaluate([x], "fit")[0]["loss"])

        def vectorised_map(_fn: Callable[[Any], float], population: Iterable[np.ndarray]) -> list[float]:
            return [r["loss"] for r in self.evaluate(list(population), "fit")]

        result = differential_evolution(
            objective,
            bounds=[p.bounds for p in self.params],
            seed=seed,
            popsize=popsize,
            maxiter=maxiter,
            tol=0.0,
            atol=0.0,
            polish=False,
            init="sobol",
            x0=self.start(),
            updating="deferred",
            workers=vectorised_map,
        )
        return np.asarray(result.x), float(result.fun)

    def start(self) -> np.ndarray:
        """The input scenario's own values of the free parameters, in search space and inside the bounds: the
        modeller's best guess joins the evolution's first population (scipy's `x0`), so the fit cannot end
        worse than the scenario it starts from."""
        raw = self.scenario.as_dict()
        return np.array([p.space(get_path(raw, p.path)) for p in self.params])

    def polish(self, x0: Sequence[float], evaluations: int = 40) -> tuple[np.ndarray, float]:
        """Nelder-Mead from the evolution's best, inside the bounds: the last few per cent that a population
        spread over the whole box is slow to find. Logged like every evaluation, so it resumes too."""

        def objective(x: np.ndarray) -> float:
            return float(self.evaluate([x], "polish")[0]["loss"])

        start = float(self.evaluate([x0], "fit")[0]["loss"])
        result = minimize(
            objective,
            np.asarray(x0, dtype=float),
            method="Nelder-Mead",
            bounds=[p.bounds for p in self.params],
            options={"maxfev": evaluations, "xatol": 1e-4, "fatol": 1e-6, "adaptive": True},
        )
        if result.fun < start:
            return np.asarray(result.x), float(result.fun)
        return np.asarray(x0, dtype=float), start

    # 3. uncertainty -----------------------------------------------------------
    def abc(self, seed: int = 0, population: int = 40, generations: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """ABC-SMC posterior: (particles [n, params] in search space, weights)."""
        import pyabc  # heavy; only calibration needs it

        names = [f"p{i}" for i in range(len(self.params))]
        bounds = [p.bounds for p in self.params]
        prior = pyabc.Distribution(
            **{n: pyabc.RV("uniform", lo, hi - lo) for n, (lo, hi) in zip(names, bounds, strict=True)}
        )
        targets, scenario_file, days, scale = self.targets, str(self.scenario_file), self.days, self.scale
        params = self.params

        def simulate(pars: dict[str, float]) -> dict[str, float]:
            x = [float(pars[n]) for n in names]
            overrides = tuple(sorted((p.path, p.value(v, clip=False)) for p, v in zip(params, x, strict=True)))
            run_seed = 10_000 + zlib.crc32(repr(overrides).encode()) % 1_000_000
            values = run_targets(Job(scenario_file, overrides, run_seed, scale, days), targets=targets)
            return {"loss": loss(targets, {k: [v] for k, v in values.items()})}

        def distance(sim: dict[str, float], _observed: dict[str, float]) -> float:
            return float(sim["loss"])

        np.random.seed(seed)
        sampler = pyabc.sampler.MulticoreEvalParallelSampler(n_procs=self.workers)
        smc = pyabc.ABCSMC(simulate, prior, distance, population_size=population, sampler=sampler)
        db = f"sqlite:///{(self.out / 'abc.db').resolve()}"
        # pyabc keeps every finished generation in abc.db: the same set-up continues its run, asked for more
        # generations it goes on from the last, and a killed run loses only the generation it was in
        setup = {"population": population, "scale": self.scale, "seed": seed, "params": [p.path for p in params]}
        state_file = self.out / "abc.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        if state.get("setup") == setup and (self.out / "abc.db").exists():
            history = smc.load(db, state["id"])
            done = max(0, (history.max_t if history.max_t is not None else -1) + 1)
        else:
            history = smc.new(db, {"loss": 0.0})
            write_atomic(state_file, json.dumps({"setup": setup, "id": history.id}, indent=1) + "\n")
            done = 0
        if generations > done:
            history = smc.run(max_nr_populations=generations - done, minimum_epsilon=0.0)
        frame, weights = history.get_distribution(m=0, t=history.max_t)
        particles = frame[names].to_numpy(dtype=float)
        return particles, np.asarray(weights, dtype=float) / np.sum(weights)

    def posterior_predictive(
        self, particles: np.ndarray, weights: np.ndarray, draws: int = 24, seed: int = 0
    ) -> tuple[np.ndarray, dict[str, list[float]], np.ndarray]:
        """Re-run `draws` particles drawn by weight: (daily departures [draw, day, seg], target values, xs)."""
        rng = np.random.default_rng(seed)
        chosen = particles[rng.choice(len(particles), size=draws, p=weights)]
        days = self.days + 31
        jobs = [self.jobs(x, [20_000 + i], self.scale, days)[0] for i, x in enumerate(chosen)]
        runs = self.map(partial(run_outflow_and_targets, targets=self.targets), jobs)
        curves = np.stack([curve for curve, _ in runs])
        values = {t.id: [figures[t.id] for _, figures in runs] for t in self.targets}
        return curves, values, chosen


def conflicts(targets: Sequence[Target], records: Iterable[dict[str, Any]]) -> list[tuple[str, str, int, int, int]]:
    """Pairs of fitted targets each met by some evaluated parameter set but never both together.

    Returns (a, b, sets meeting a, sets meeting b, evaluated sets).
    """
    fitted = [t for t in targets if t.fitted]
    inside = []
    for r in records:
        means = {t.id: float(np.mean(r["values"][t.id])) for t in fitted}
        inside.append({t.id: t.miss(means[t.id]) == 0.0 for t in fitted})
    found = []
    for i, a in enumerate(fitted):
        for b in fitted[i + 1 :]:
            n_a = sum(row[a.id] for row in inside)
            n_b = sum(row[b.id] for row in inside)
            both = sum(row[a.id] and row[b.id] for row in inside)
            if n_a and n_b and not both:
                found.append((a.id, b.id, n_a, n_b, len(inside)))
    return found

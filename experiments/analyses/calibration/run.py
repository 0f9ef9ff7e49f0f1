"""The calibration pipeline: fit, uncertainty, check, report (see `calibrate.py`)."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from exodus.experiments.analyses.calibration.calibrate import Calibration, run_outflow
from exodus.experiments.analyses.calibration.report import calibrated_scenario, fit_figure, fit_markdown
from exodus.experiments.core.outdir import exclusive, write_atomic
from exodus.experiments.core.provenance import git_state


def calibrate(
    scenario: Path,
    out: Path,
    *,
    seed: int = 0,
    seeds: int = 4,
    scale: float = 0.05,
    popsize: int = 6,
    maxiter: int = 12,
    polish: int = 40,
    abc_population: int = 40,
    abc_generations: int = 3,
    draws: int = 24,
    check_seeds: int = 10,
    check_scale: float = 1.0,
    workers: int | None = None,
    name: str | None = None,
    install: Path | None = None,
    progress: bool = True,
) -> Path:
    """Calibrate `scenario`; returns the calibrated scenario file in `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    busy = f"{out}: another calibration is writing to it; wait for it to finish or give another folder"
    with exclusive(out.parent / f".{out.name}.lock", busy):  # one writer of the log at a time
        workers = workers or os.cpu_count() or 1
        bar = tqdm(desc="calibrate", unit="eval", disable=not progress)
        calibration = Calibration(Path(scenario), out, seeds=tuple(range(seeds)), scale=scale, workers=workers)
        calibration.progress = bar.update
        # differential evolution's Sobol start rounds the population up to a power of two, and keeps that size
        population = 2 ** math.ceil(math.log2(max(5, popsize * len(calibration.params))))
        bar.total = population * (maxiter + 1) + 2
        with calibration:
            bar.set_description("calibrate: differential evolution")
            best, fit_loss = calibration.fit(seed=seed, popsize=popsize, maxiter=maxiter)
            if polish > 0:
                bar.set_description("calibrate: Nelder-Mead polish")
                bar.total += polish + 1
                best, fit_loss = calibration.polish(best, evaluations=polish)
            bar.set_description(f"calibrate: check at scale {check_scale:g}")
            check_seed_list = list(range(100, 100 + check_seeds))
            check = calibration.evaluate([best], "check", seeds=check_seed_list, scale=check_scale)[0]
            # the same seeds at the fitting scale: their difference from the check is the scale's doing, not the seeds'
            scale_twin = calibration.evaluate([best], "scale", seeds=check_seed_list, scale=scale)[0]
            posterior = weights = None
            predictive: dict[str, list[float]] = {}
            days = calibration.days + 31
            if abc_population > 0:
                bar.set_description("calibrate: ABC-SMC")
                posterior, weights = calibration.abc(seed=seed, population=abc_population, generations=abc_generations)
                bar.set_description("calibrate: posterior predictive")
                curves, predictive, _ = calibration.posterior_predictive(posterior, weights, draws=draws, seed=seed)
            else:
                draw_jobs = calibration.jobs(best, range(100, 100 + draws), scale, days)
                curves = np.stack(calibration.map(run_outflow, draw_jobs))
            best_jobs = calibration.jobs(best, range(100, 100 + min(check_seeds, 4)), check_scale, days)
            best_curve = np.mean(np.stack(calibration.map(run_outflow, best_jobs)), axis=0)
        bar.close()

        git = git_state()
        meta = {
            "date": dt.date.today().isoformat(),
            "commit": git.get("commit") or "unknown",
            "dirty": bool(git.get("dirty")),
            "method": " + ".join(
                ["differential_evolution"]
                + ["Nelder-Mead polish"] * (polish > 0)
                + ["pyabc ABC-SMC"] * (abc_population > 0)
            ),
            "loss": fit_loss,
            "seed": seed,
            "seeds": list(calibration.seeds),
            "scale": scale,
            "evaluations": len(calibration.log.records),
            "targets": os.path.relpath(calibration.targets_file, out.resolve()),
        }
        name = name or calibration.scenario.scenario.name
        calibrated = out / "calibrated.toml"
        write_atomic(
            calibrated,
            calibrated_scenario(
                Path(scenario), calibrated, name, calibration.params, calibration.overrides(best).values(), meta
            ),
        )
        if install is not None:
            meta_installed = dict(
                meta, targets=os.path.relpath(calibration.targets_file, Path(install).resolve().parent)
            )
            write_atomic(
                Path(install),
                calibrated_scenario(
                    Path(scenario),
                    Path(install),
                    name,
                    calibration.params,
                    calibration.overrides(best).values(),
                    meta_installed,
                ),
            )
        report = fit_markdown(
            scenario_file=Path(scenario),
            targets=calibration.targets,
            targets_file=calibration.targets_file,
            params=calibration.params,
            best=best,
            fit_loss=fit_loss,
            scale_values=scale_twin["values"],
            check_values=check["values"],
            check_scale=check_scale,
            predictive=predictive,
            posterior=posterior,
            weights=weights,
            records=[r for r in calibration.log.records.values() if r["stage"] in ("fit", "polish")],
            meta=meta,
        )
        write_atomic(out / "fit.md", report)
        fit_figure(
            out / "fit.png",
            curves,
            best_curve,
            calibration.scenario.start,
            calibration.targets,
            f"{name}: calibrated outflow from Russia, 90% posterior-predictive band",
        )
        return calibrated

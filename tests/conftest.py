"""Shared helpers for the tests: small cached runs with a log of every move.

Runs are small (tens of thousands of agents, each standing for many
persons) and short, and cached by their arguments, so several tests can
look at one run. Two runs that share a
seed draw the same random numbers wherever their scenarios agree
(`model/streams.py`), so comparing them measures the mechanism, not noise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

from exodus.model import RelocationModel  # noqa: E402
from exodus.model.locations import HOME  # noqa: E402
from exodus.model.population import IT, OTHER  # noqa: E402

SCENARIOS = ROOT / "scenarios"
SEED = 7
# 20,000 IT agents (50 persons each) and 20,000 others (4,000 each): enough that the
# counts compared run to hundreds. A run costs ~1.5 s, mostly per day, not per agent.
SCALE = 0.02
DAYS = 260  # to 2022-11-11: past the mobilisation and its end


@dataclass(repr=False)
class Run:
    """A finished run, every change of location in it, and every change of job in place."""

    model: RelocationModel
    day: np.ndarray  # [move] day of the move
    agent: np.ndarray  # [move] agent index
    origin: np.ndarray  # [move] location index before
    dest: np.ndarray  # [move] location index after
    job_change: dict[str, np.ndarray]  # day, agent, before, after: job changes of workers who stayed put

    def __repr__(self) -> str:
        sc = self.model.scenario.scenario
        return f"Run({sc.name}, seed {self.model.seed}, scale {self.model.scale}, {sc.days} days)"

    @property
    def tally(self) -> Any:
        return self.model.tally

    @property
    def workers(self) -> Any:
        return self.model.workers

    def d(self, date: str) -> int:
        """Day index of an ISO date."""
        return self.model.scenario.day_of(dt.date.fromisoformat(date))

    def loc(self, code: str) -> int:
        return self.model.codes.index(code)

    def _window(self, start: str | None, end: str | None) -> np.ndarray:
        first = 0 if start is None else self.d(start)
        last = self.model.scenario.days if end is None else self.d(end)
        return (self.day >= first) & (self.day < last)

    def moves(
        self,
        *,
        origin: str | list[str] | None = None,
        dest: str | list[str] | None = None,
        start: str | None = None,
        end: str | None = None,
        who: np.ndarray | None = None,
    ) -> np.ndarray:
        """Indices (into the move log) of moves matching the filters; `end` is exclusive."""
        keep = self._window(start, end)
        for codes, column in ((origin, self.origin), (dest, self.dest)):
            if codes is not None:
                wanted = [self.loc(c) for c in ([codes] if isinstance(codes, str) else codes)]
                keep &= np.isin(column, wanted)
        if who is not None:
            keep &= who[self.agent]
        return np.flatnonzero(keep)

    def count(self, **filters: Any) -> int:
        """Number of moves (in agents) matching the filters of `moves`."""
        return len(self.moves(**filters))

    def left_russia(self, start: str | None = None, end: str | None = None, who: np.ndarray | None = None) -> int:
        """Departures from Russia (agents) in [start, end), optionally of a group of workers."""
        dests = [c for c in self.model.codes if c != "RU"]
        return self.count(origin="RU", dest=dests, start=start, end=end, who=who)

    def leavers(self, start: str | None = None, end: str | None = None, who: np.ndarray | None = None) -> int:
        """Workers (agents) who left Russia at least once in [start, end), optionally of a group."""
        dests = [c for c in self.model.codes if c != "RU"]
        return len(np.unique(self.agent[self.moves(origin="RU", dest=dests, start=start, end=end, who=who)]))

    def job_switches(self, before: int, after: int, start: str | None = None, who: np.ndarray | None = None) -> int:
        """Workers (agents) who changed job status `before` -> `after` in place, from `start` on."""
        jc = self.job_change
        keep = (jc["before"] == before) & (jc["after"] == after)
        if start is not None:
            keep &= jc["day"] >= self.d(start)
        if who is not None:
            keep &= who[jc["agent"]]
        return int(keep.sum())

    def it(self) -> np.ndarray:
        return self.workers.segment == IT

    def other(self) -> np.ndarray:
        return self.workers.segment == OTHER


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _columns(log: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
    if not log:
        return [np.empty(0, dtype=int) for _ in range(4)]
    return [np.concatenate(column) for column in zip(*log, strict=True)]


_CACHE: dict[tuple, Run] = {}


def simulate(
    scenario: str = "baseline", *, seed: int = SEED, scale: float = SCALE, days: int = DAYS, **overrides: Any
) -> Run:
    """Run `scenarios/<scenario>.toml` with overrides (dotted paths), logging every move; cached."""
    key = (scenario, seed, scale, days, _freeze(overrides))
    if key in _CACHE:
        return _CACHE[key]
    path = SCENARIOS / f"{scenario}.toml"
    model = RelocationModel(path, rng=seed, scale=scale, **{"scenario.days": days}, **overrides)
    w = model.workers
    moves: list[tuple[np.ndarray, ...]] = []
    jobs: list[tuple[np.ndarray, ...]] = []
    location, job = w.location.copy(), w.job.copy()
    while model.running:
        t = model.day
        model.step()
        moved = np.flatnonzero(w.location != location)
        if len(moved):
            moves.append((np.full(len(moved), t), moved, location[moved].astype(int), w.location[moved].astype(int)))
        switched = np.flatnonzero((w.job != job) & (w.location == location))
        if len(switched):
            jobs.append((np.full(len(switched), t), switched, job[switched].astype(int), w.job[switched].astype(int)))
        location, job = w.location.copy(), w.job.copy()
    move_columns = _columns(moves)
    job_columns = dict(zip(("day", "agent", "before", "after"), _columns(jobs), strict=True))
    run = Run(model, *move_columns, job_change=job_columns)
    _CACHE[key] = run
    return run


@pytest.fixture(scope="session")
def baseline() -> Run:
    """The baseline to mid-November 2022 at the default scale and seed."""
    return simulate()


__all__ = ["HOME", "IT", "OTHER", "Run", "SCALE", "SEED", "simulate"]

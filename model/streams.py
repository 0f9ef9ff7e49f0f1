"""Random numbers that are safe to compare across scenarios.

Every decision draws from its own stream, named after the decision; each
agent has its own slot in it, and each day (or occurrence) its own
counter. A draw is a hash of (seed, stream, agent, counter), so it does not
depend on who else drew before it. Change one policy and every other draw
stays the same: the difference between two scenarios run with one seed is
the policy's effect, not noise (common random numbers, as in Starsim).

The hash is SplitMix64's finaliser, vectorised in numpy; its output passes
BigCrush as a counter-based generator and costs a few array operations.
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 1.0 / float(1 << 53)
SEED_MAX = (1 << 64) - 1  # a seed is a 64-bit unsigned integer: the streams keep no more of it


def check_seed(seed: object) -> int:
    """The seed as an int, refused (ValueError) unless it is a whole number in 0..2**64-1, the range the streams use
    (a larger one would silently equal a smaller one)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed: expected a whole number from 0 to {SEED_MAX} (2**64 - 1), got {seed!r}")
    if not 0 <= int(seed) <= SEED_MAX:
        raise ValueError(f"seed: expected a whole number from 0 to {SEED_MAX} (2**64 - 1), got {seed}")
    return int(seed)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def stream_key(seed: int, name: str) -> np.uint64:
    """A 64-bit key for a named stream under a seed."""
    with np.errstate(over="ignore"):
        base = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN
        return _mix(np.array([base ^ np.uint64(zlib.crc32(name.encode()))], dtype=np.uint64))[0]


class Stream:
    """One decision's random numbers: `uniform(agents, counter)`."""

    def __init__(self, seed: int, name: str) -> None:
        self.name = name
        self.key = stream_key(seed, name)

    def bits(self, agents: np.ndarray, counter: int | np.ndarray = 0) -> np.ndarray:
        agents = np.asarray(agents, dtype=np.uint64)
        counter = np.asarray(counter, dtype=np.uint64)
        with np.errstate(over="ignore"):
            z = self.key ^ _mix(agents * _GOLDEN + (counter << np.uint64(40)) * _M2)
            return _mix(z + _GOLDEN)

    def uniform(self, agents: np.ndarray, counter: int | np.ndarray = 0) -> np.ndarray:
        """U(0,1) per agent, never exactly 0."""
        return ((self.bits(agents, counter) >> np.uint64(11)).astype(np.float64) + 0.5) * _TO_UNIT

    def exponential(self, agents: np.ndarray, counter: int | np.ndarray = 0) -> np.ndarray:
        return -np.log(self.uniform(agents, counter))

    def gumbel(self, agents: np.ndarray, counter: int | np.ndarray, n_alternatives: int) -> np.ndarray:
        """Gumbel noise, one row per agent and a column per alternative."""
        agents = np.asarray(agents, dtype=np.uint64)
        slots = agents[:, None] * np.uint64(64) + np.arange(n_alternatives, dtype=np.uint64)[None, :]
        return -np.log(-np.log(self.uniform(slots, counter)))

    def generator(self) -> np.random.Generator:
        """A sequential generator for set-up draws (the population at day 0)."""
        return np.random.default_rng(int(self.key))

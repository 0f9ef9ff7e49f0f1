"""Fused loops for the two passes the engine makes over every agent every day.

numpy makes one pass over all the agents per operation: the home hazard took
eight (who is home, the propensity, two gathers, two products, the clock,
the threshold) over two million agents a day, the abroad hazard a dozen over
those abroad. Each loop here makes one, with the same arithmetic in the same
order and the same types (float32 where the arrays are float32), so the
results are bit for bit those of the numpy expressions they replace
(`tests/test_kernels.py` checks it). Exponentials stay in numpy: numba's
would call another library, which may round differently.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

_DEFERRED = {signal.SIGINT, signal.SIGTERM}


def kernel(function: Callable[..., Any]) -> Callable[..., Any]:
    """`njit(cache=True, nogil=True)`, with Ctrl-C and SIGTERM held back during every call: the command line turns
    those signals into an exception, and one raised inside numba's own Python callbacks is not an interrupt any more.
    Raised inside LLVM's set-up (a first call, compiling or loading from the cache) it left LLVM half-initialised
    ("ImportError: initialization failed") and the interpreter crashed on exit (SIGSEGV); raised inside the
    dispatcher's unpickling of a later call it came out as a `SystemError` with a traceback instead of a clean stop
    (both seen in tests/test_kill.py). The signal arrives as soon as the call returns; a call takes milliseconds."""
    compiled = njit(cache=True, nogil=True)(function)

    @functools.wraps(function)
    def call(*args: Any) -> Any:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
        try:
            return compiled(*args)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    return call


_HOME = 0  # locations.HOME
_REMOTE_RU, _FOREIGN, _RELOCATED, _NO_WORK, _GREY = 1, 2, 3, 4, 5  # population's job statuses abroad


@kernel
def home_clocks(
    location: np.ndarray,
    queued: np.ndarray,
    propensity: np.ndarray,
    circle: np.ndarray,
    circle_term: np.ndarray,
    risk_class: np.ndarray,
    class_term: np.ndarray,
    clock: np.ndarray,
    threshold: np.ndarray,
) -> np.ndarray:
    """Add today's home hazard (propensity x circle term x class term, float32) to the clock of every worker at
    home and not queued; return the workers whose clock has reached its threshold, in index order."""
    passed = np.empty(len(clock), dtype=np.int64)
    k = 0
    for i in range(len(clock)):
        if location[i] == _HOME and queued[i] < 0:
            clock[i] += propensity[i] * circle_term[circle[i]] * class_term[risk_class[i]]
        if clock[i] >= threshold[i]:
            passed[k] = i
            k += 1
    return passed[:k].copy()  # not a view of the whole buffer: it would keep all of it alive


@kernel
def abroad_drive(
    idx: np.ndarray,
    location: np.ndarray,
    job: np.ndarray,
    wage: np.ndarray,
    segment: np.ndarray,
    income: np.ndarray,
    savings: np.ndarray,
    since: np.ndarray,
    arrived: np.ndarray,
    local_wage_factor: np.ndarray,
    income_tax_it: np.ndarray,
    wage_local: np.ndarray,
    stepping_stone: np.ndarray,
    cost_of_living: np.ndarray,
    day: int,
    penalty_tax: float,
    grey_discount: float,
    income_tax: float,
    money: float,
    alarm_term: float,
    transit: float,
    transit_days: float,
) -> np.ndarray:
    """The exponent of the abroad hazard (`Rules.abroad_hazard`) for workers `idx`: money strain, pay lost since
    arrival, savings run out, the news and transit, term by term as numpy evaluates them."""
    drive = np.empty(len(idx), dtype=np.float64)
    for k in range(len(idx)):
        i = idx[k]
        loc = location[i]
        w = np.float64(wage[i])
        status = job[i]
        net = 0.0
        if status == _REMOTE_RU:
            net = w * (1.0 - penalty_tax)
        elif status == _GREY:
            net = w * (1.0 - grey_discount)
        elif status == _RELOCATED:
            net = w * (1.0 - income_tax_it[loc]) / (1.0 - income_tax)
        elif status == _FOREIGN:
            net = wage_local[loc] * local_wage_factor[segment[i]] * (1.0 - income_tax_it[loc])
        col = cost_of_living[loc]
        strain = (col - net) / col
        strain = 0.0 if strain < 0.0 else (1.0 if strain > 1.0 else strain)
        came_with = income[i]
        fallen = 0.0
        if came_with > 0:
            lost = 1.0 - net / np.float64(max(came_with, np.float32(1.0)))
            fallen = 0.0 if lost < 0.0 else (1.0 if lost > 1.0 else lost)
        monthly = np.float64(income[i]) - col
        now = np.float64(savings[i]) + monthly * np.float64(day - since[i]) / 30.0
        broke = 1.0 if now <= 0 else 0.0
        in_transit = 1.0 if (stepping_stone[loc] and day - arrived[i] < transit_days) else 0.0
        drive[k] = money * (strain + fallen + broke) + alarm_term + transit * in_transit
    return drive


@kernel
def away(location: np.ndarray) -> np.ndarray:
    """The workers not at home, in index order: `np.flatnonzero(location != HOME)` in one pass."""
    found = np.empty(len(location), dtype=np.int64)
    k = 0
    for i in range(len(location)):
        if location[i] != _HOME:
            found[k] = i
            k += 1
    return found[:k].copy()  # not a view of the whole buffer: it would keep all of it alive


@kernel
def abroad_clocks(
    idx: np.ndarray, hazard: np.ndarray, clock: np.ndarray, threshold: np.ndarray, deadline: np.ndarray, day: int
) -> np.ndarray:
    """Add today's hazard (float32) to the clocks of workers `idx`; return those whose clock has reached its
    threshold or whose stay runs out today (`deadline <= day`), in the order of `idx`."""
    passed = np.empty(len(idx), dtype=np.int64)
    k = 0
    for j in range(len(idx)):
        i = idx[j]
        clock[i] += hazard[j]
        if clock[i] >= threshold[i] or deadline[i] <= day:
            passed[k] = i
            k += 1
    return passed[:k].copy()


@kernel
def job_options(
    idx: np.ndarray,
    dest: np.ndarray,
    wage: np.ndarray,
    segment: np.ndarray,
    remote: np.ndarray,
    grey_ok: np.ndarray,
    firm_location: np.ndarray,
    local_wage_factor: np.ndarray,
    income_tax_it: np.ndarray,
    wage_local: np.ndarray,
    job_finding: np.ndarray,
    penalty_tax: float,
    grey_discount: float,
    income_tax: float,
) -> tuple[np.ndarray, np.ndarray]:
    """`Rules.job_options` for workers `idx` at places `dest` [agent, k]: the best-paid job open to them (a local
    one at its expected pay), the first of equals in the order remote, foreign, relocated, none, grey, and its
    pay; no work where the best pays nothing. `firm_location` is [agent] (HOME outside IT)."""
    n, m = dest.shape
    status = np.empty((n, m), dtype=np.int8)
    income = np.empty((n, m), dtype=np.float64)
    for a in range(n):
        i = idx[a]
        w = np.float64(wage[i])
        factor = local_wage_factor[segment[i]]
        for j in range(m):
            d = dest[a, j]
            local_tax = income_tax_it[d]
            best, pay = np.int8(_REMOTE_RU), -np.inf
            if remote[i]:
                pay = w * (1.0 - penalty_tax)
            value = wage_local[d] * factor * (1.0 - local_tax) * job_finding[d]
            if value > pay:
                best, pay = np.int8(_FOREIGN), value
            if firm_location[a] == d and d != _HOME:
                value = w * (1.0 - local_tax) / (1.0 - income_tax)
                if value > pay:
                    best, pay = np.int8(_RELOCATED), value
            if pay < 0.0:
                best, pay = np.int8(_NO_WORK), 0.0
            if remote[i] and grey_ok[i] and penalty_tax > 0:
                value = w * (1.0 - grey_discount)
                if value > pay:
                    best, pay = np.int8(_GREY), value
            status[a, j] = best if pay > 0 else np.int8(_NO_WORK)
            income[a, j] = pay
    return status, income


@kernel
def _merge_increasing(a: np.ndarray, b: np.ndarray) -> tuple[bool, np.ndarray]:
    """(True, the sorted union) of two strictly increasing arrays; (False, anything) if one is not."""
    for k in range(1, len(a)):
        if a[k] <= a[k - 1]:
            return False, a[:0].copy()
    for k in range(1, len(b)):
        if b[k] <= b[k - 1]:
            return False, a[:0].copy()
    out = np.empty(len(a) + len(b), dtype=np.int64)
    i = j = k = 0
    while i < len(a) and j < len(b):
        if a[i] < b[j]:
            out[k] = a[i]
            i += 1
        elif b[j] < a[i]:
            out[k] = b[j]
            j += 1
        else:
            out[k] = a[i]
            i += 1
            j += 1
        k += 1
    while i < len(a):
        out[k] = a[i]
        i += 1
        k += 1
    while j < len(b):
        out[k] = b[j]
        j += 1
        k += 1
    return True, out[:k].copy()


def union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`np.union1d(a, b)` of agent indices: one merge when both are sorted without repeats (the engine's lists of
    agents are, in index order), else numpy's sort of both."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == np.int64 and b.dtype == np.int64 and a.ndim == 1 and b.ndim == 1:
        merged, out = _merge_increasing(a, b)
        if merged:
            return out
    return np.union1d(a, b)


# Home clocks kept lazily -------------------------------------------------------------------------------------------
# A worker at home adds propensity x circle term x class term (float32) to the clock each day and considers when the
# clock reaches the threshold: two million clocks read and written every day, almost none of which pass. The clocks
# of those at home are instead brought up to date only when they may have passed. Workers share their hazard's daily
# factors with everyone in the same circle and risk class (a group); the float64 running sum B of the factors'
# product per group bounds how far a clock can have come: a worker's clock, exact as of day `synced`, cannot reach
# the threshold before p x (B - B at `synced`) comes within a margin of what was left (`due`: the B at which it
# might, the margin covering the float32 roundings of the daily sums). Each day only the groups whose B reached
# their lowest `due` are looked at, and their members due are brought up to date by replaying the same float32
# additions, day by day, from the stored factors: the clocks are bit for bit the daily ones.


@kernel
def lazy_register(
    idx: np.ndarray,
    location: np.ndarray,
    queued: np.ndarray,
    propensity: np.ndarray,
    group: np.ndarray,
    chunk: np.ndarray,
    clock: np.ndarray,
    threshold: np.ndarray,
    lazy: np.ndarray,
    synced: np.ndarray,
    due: np.ndarray,
    chunk_due: np.ndarray,
    total: np.ndarray,
    day: int,
    margin: float,
) -> None:
    """Workers `idx`, whose clock is exact as of `day - 1` (reset, back from a queue, or at the start): kept
    lazily from `day` on if at home and not queued, else not at all (the model steps their clocks abroad)."""
    for j in range(len(idx)):
        i = idx[j]
        if location[i] == _HOME and queued[i] < 0:
            lazy[i] = True
            synced[i] = day - 1
            due[i] = _due(total[group[i]], clock[i], threshold[i], propensity[i], margin)
            if due[i] < chunk_due[chunk[i]]:
                chunk_due[chunk[i]] = due[i]
        else:
            lazy[i] = False


@njit(cache=True, nogil=True)
def _due(total: float, clock: np.float32, threshold: np.float32, propensity: np.float32, margin: float) -> float:
    """The group sum B at which a clock exact at `total` may reach its threshold."""
    left = np.float64(threshold) - np.float64(clock) - margin * np.float64(threshold)
    if left <= 0.0:
        return total
    if propensity <= 0:
        return np.inf
    return total + left / np.float64(propensity)


@kernel
def lazy_home_clocks(
    circle_term: np.ndarray,
    class_term: np.ndarray,
    circle_terms: np.ndarray,
    class_terms: np.ndarray,
    propensity: np.ndarray,
    circle: np.ndarray,
    risk_class: np.ndarray,
    clock: np.ndarray,
    threshold: np.ndarray,
    lazy: np.ndarray,
    synced: np.ndarray,
    due: np.ndarray,
    chunk_due: np.ndarray,
    total: np.ndarray,
    members: np.ndarray,
    chunk_group: np.ndarray,
    chunk_start: np.ndarray,
    day: int,
    margin: float,
) -> np.ndarray:
    """Today's factors (float32, stored as row `day` of `circle_terms` and `class_terms`) added to every group's
    B; the clocks of the lazy workers who may have reached their threshold brought up to date; returns those whose
    clock has reached it, in index order (they leave the lazy set: their clocks are reset). A group's members are
    looked at in chunks of a few dozen (`chunk_start`; `chunk_group`, the group of each), each with the lowest `due`
    of its lazy members (`chunk_due`): a firm of thousands is not scanned whole each time one of them may pass."""
    circle_terms[day] = circle_term
    class_terms[day] = class_term
    n_classes = len(class_term)
    passed = [np.int64(x) for x in range(0)]
    factor = np.empty(n_classes, dtype=np.float64)
    for k in range(n_classes):
        factor[k] = np.float64(class_term[k])
    for c in range(len(circle_term)):
        term = np.float64(circle_term[c])
        for k in range(n_classes):
            total[c * n_classes + k] += term * factor[k]
    for ch in range(len(chunk_due)):
        g = chunk_group[ch]
        if total[g] < chunk_due[ch]:
            continue
        lowest = np.inf
        for m in range(chunk_start[ch], chunk_start[ch + 1]):
            i = members[m]
            if not lazy[i]:
                continue
            if due[i] <= total[g]:
                value = clock[i]
                for d in range(synced[i] + 1, day + 1):
                    value += propensity[i] * circle_terms[d, circle[i]] * class_terms[d, risk_class[i]]
                clock[i] = value
                synced[i] = day
                if value >= threshold[i]:
                    lazy[i] = False
                    passed.append(i)
                    continue
                due[i] = _due(total[g], value, threshold[i], propensity[i], margin)
            lowest = min(lowest, due[i])
        chunk_due[ch] = lowest
    out = np.array(passed, dtype=np.int64)
    out.sort()
    return out


@kernel
def lazy_sync(
    circle_terms: np.ndarray,
    class_terms: np.ndarray,
    propensity: np.ndarray,
    circle: np.ndarray,
    risk_class: np.ndarray,
    clock: np.ndarray,
    lazy: np.ndarray,
    synced: np.ndarray,
    day: int,
) -> None:
    """Bring every lazy clock up to date as of `day` (the last day added), as the daily sums would have it."""
    for i in range(len(clock)):
        if lazy[i]:
            value = clock[i]
            for d in range(synced[i] + 1, day + 1):
                value += propensity[i] * circle_terms[d, circle[i]] * class_terms[d, risk_class[i]]
            clock[i] = value
            synced[i] = day


# The streams' draws (streams.Stream.uniform), one agent at a time: SplitMix64's finaliser on uint64, wrapping as
# numpy's does, and the same conversion to a float64 in (0, 1), so the numbers are the streams' bit for bit.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / float(1 << 53)


@njit(cache=True, nogil=True)
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _uniform(key: np.uint64, agent: np.int64, counter: np.int64) -> float:
    z = key ^ _mix(np.uint64(agent) * _GOLDEN + (np.uint64(counter) << np.uint64(40)) * _M2)
    return (np.float64(_mix(z + _GOLDEN) >> np.uint64(11)) + 0.5) * _TO_UNIT


@kernel
def uniforms(key: np.uint64, agents: np.ndarray, counter: int) -> np.ndarray:
    """`Stream(seed, name).uniform(agents, counter)` for a stream of key `key` (tests/test_kernels.py)."""
    out = np.empty(len(agents), dtype=np.float64)
    for j in range(len(agents)):
        out[j] = _uniform(key, np.int64(agents[j]), np.int64(counter))
    return out


@kernel
def visas_granted(
    key: np.uint64,
    abroad: np.ndarray,
    passport: np.ndarray,
    schengen: np.ndarray,
    segment: np.ndarray,
    rate: np.ndarray,
    day: int,
) -> np.ndarray:
    """Of workers `abroad`, those with an international passport and no Schengen visa whose draw today falls below
    their segment's daily rate (`rate / 365`), in the order of `abroad`: `_obtain_visas` in one pass."""
    granted = np.empty(len(abroad), dtype=np.int64)
    k = 0
    for j in range(len(abroad)):
        i = abroad[j]
        seeking = passport[i] and not schengen[i]
        if seeking and _uniform(key, np.int64(i), np.int64(day)) < rate[segment[i]] / 365.0:
            granted[k] = i
            k += 1
    return granted[:k].copy()


@kernel
def work_found(
    key: np.uint64,
    abroad: np.ndarray,
    job: np.ndarray,
    location: np.ndarray,
    job_finding: np.ndarray,
    search_days: float,
    penalised: bool,
    day: int,
) -> np.ndarray:
    """Of workers `abroad`, those looking for work (without work, or remote under a penalty tax) whose draw today
    falls below the place's job-finding chance / `search_days`, in the order of `abroad`."""
    found = np.empty(len(abroad), dtype=np.int64)
    k = 0
    for j in range(len(abroad)):
        i = abroad[j]
        looking = job[i] == _NO_WORK or (job[i] == _REMOTE_RU and penalised)
        if looking and _uniform(key, np.int64(i), np.int64(day)) < job_finding[location[i]] / search_days:
            found[k] = i
            k += 1
    return found[:k].copy()

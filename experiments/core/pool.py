"""Worker processes on the local cores, for the run core (`runner.py`).

Workers are forked from the parent when it runs a single thread on Linux
(they start at once, with the model already imported); otherwise (a parent
running threads, such as a dask client's or a progress bar's monitor, which a
fork could leave holding a lock; or another platform) they start from a fork
server that has imported the model, or are spawned. Workers ignore Ctrl-C,
which the parent handles, and exit by themselves within a second or so when
the process that made the pool dies, even killed with SIGKILL: an orphan
worker (and a fork server, which lives as long as its workers) would
otherwise wait for work forever.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

PRELOAD = ["numpy", "mesa", "exodus.model", "exodus.experiments.analyses.run", "exodus.experiments.core.runner"]
ORPHAN_CHECK_SECONDS = 1.0


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # only takes effect when the server first starts
        return context
    return multiprocessing.get_context("spawn")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed parent not yet reaped by its own parent is a zombie: dead all the same
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _exit_when_orphaned(parent: int) -> None:
    while True:
        time.sleep(ORPHAN_CHECK_SECONDS)
        if not _alive(parent):
            os._exit(1)


def _start_worker(parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # forked from a command that turns it into Ctrl-C: a worker just ends
    # the process that made the pool, not os.getppid(): with a fork server, that is the worker's parent, and it
    # lives as long as any worker does
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def process_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of `workers` processes; `initializer(*initargs)` runs once in each."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )


def stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (on Ctrl-C or a failure): runs in flight are lost."""
    processes = list(getattr(pool, "_processes", None) or {})  # pids; private, but no public way before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for pid in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def default_workers() -> int:
    return os.cpu_count() or 1

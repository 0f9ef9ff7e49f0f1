"""Write a run's folder all at once, or not at all.

A run that fails or is interrupted must not leave a folder that looks like a
result: files are written into a hidden folder beside the target and renamed
into place at the end. An existing result is renamed away first and deleted
only once the new one is in place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# A folder is only replaced if it is empty or holds a previous run: a mistyped
# `--out` must not delete somebody's work.
RUN_MARKER = "run.json"


class OutputError(ValueError):
    """The output folder cannot be used."""


def check_replaceable(out: Path, marker: str = RUN_MARKER, kind: str = "a run") -> None:
    """Refuse `out` unless it is absent, empty, or holds a result of this kind (its `marker` file)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; not replacing it")
    if any(out.iterdir()) and not (out / marker).is_file():
        raise OutputError(f"{out}: exists and does not hold {kind} ({marker} missing); not replacing it")


@contextlib.contextmanager
def staged_dir(out: Path, marker: str = RUN_MARKER, kind: str = "a run") -> Iterator[Path]:
    """Yield an empty folder to write into; on success it becomes `out`, on failure it is removed."""
    out = Path(out)
    check_replaceable(out, marker, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield staging
        check_replaceable(out, marker, kind)  # again: somebody may have written there meanwhile
        swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_atomic(path: Path, data: bytes | str, tmp_dir: Path | None = None) -> None:
    """Write a file whole or not at all: into a temporary file in `tmp_dir` (same file system; default: beside
    `path`), flushed to disk, then renamed over `path`. A reader never sees half a file, even after a kill."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = (tmp_dir or path.parent) / f".{path.name}.{os.getpid()}.tmp"
    with tmp.open("wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def swap_in(new: Path, out: Path) -> None:
    """Rename `new` to `out`; an existing `out` is renamed away, then deleted."""
    new.chmod(0o755)  # mkdtemp makes it private; a result folder is for reading
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()  # only the unique name is wanted
    out.rename(old)
    try:
        new.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)

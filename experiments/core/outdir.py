"""Write a run's folder all at once, or not at all.

A run that fails or is interrupted must not leave a folder that looks like a
result: files are written into a hidden folder beside the target and renamed
into place at the end. An existing result is renamed away first and deleted
only once the new one is in place.

One writer at a time: `claim(out)` checks the place (a folder, or nothing, in a
writable folder), takes a lock beside it (`.NAME.lock`, removed when done) and
removes the hidden `.NAME.<random>.partial` and `.NAME.<random>.old` folders a
killed writer left behind. `staged_dir` claims `out` itself if its caller has
not; `exodus run` and `batch` claim it before they simulate, so that a second
writer to the same folder is refused at once instead of replacing the first's
result.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# A folder is only replaced if it is empty or holds a previous run: a mistyped
# `--out` must not delete somebody's work.
RUN_MARKER = "run.json"


class OutputError(ValueError):
    """The output folder cannot be used."""


def check_place(out: Path) -> None:
    """Refuse `out` if it could not be written: the nearest folder above it that exists must be a writable folder."""
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{out}: cannot be created, {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot be written, no permission to write in {parent}")


def check_replaceable(out: Path, marker: str = RUN_MARKER, kind: str = "a run") -> None:
    """Refuse `out` unless it can be written and is absent, empty, or holds a result of this kind (its `marker`
    file)."""
    check_place(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; not replacing it")
    if any(out.iterdir()) and not (out / marker).is_file():
        raise OutputError(f"{out}: exists and does not hold {kind} ({marker} missing); not replacing it")


@contextlib.contextmanager
def exclusive(path: Path, busy: str, error: type[Exception] = OutputError, remove: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on the file `path`, or raise `error(busy)` at once if another process holds it.

    A POSIX record lock: it belongs to this process alone (forked workers do not inherit it) and goes with it,
    however it ends. With `remove`, the file is deleted on release; a writer that opened it meanwhile notices
    (the path no longer names the file it locked) and locks the new one."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    while True:
        fh = path.open("a")
        try:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            fh.close()
            if err.errno in (errno.EACCES, errno.EAGAIN):
                raise error(busy) from None
            raise
        try:
            same = os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        fh.close()
    try:
        yield
    finally:
        if remove:
            with contextlib.suppress(OSError):
                path.unlink()
        fh.close()


_CLAIMED: set[Path] = set()  # folders this process holds the lock of


def leftovers(out: Path) -> list[Path]:
    """The hidden staging folders of `out` beside it (`.NAME.<random>.partial`, `.NAME.<random>.old`)."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.[a-z0-9_]{{8}}\.(partial|old)")
    if not out.parent.is_dir():
        return []
    return sorted(p for p in out.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir())


@contextlib.contextmanager
def claim(out: Path, marker: str = RUN_MARKER, kind: str = "a run") -> Iterator[None]:
    """Be the one writer of `out` until the block ends: check the place, lock it and clear what a killed writer
    left beside it. Raises OutputError if the place cannot be used or another process is writing there."""
    out = Path(out)
    key = out.absolute()
    if key in _CLAIMED:
        yield
        return
    check_replaceable(out, marker, kind)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{out}: cannot create its folder {out.parent}: {err.strerror}") from None
    busy = f"{out}: another process is writing to it; wait for it to finish or give another folder"
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive(out.parent / f".{out.name}.lock", busy))
        except OSError as err:
            raise OutputError(f"{out}: cannot be written, {out.parent}: {err.strerror or err}") from None
        _CLAIMED.add(key)
        try:
            for stale in leftovers(out):  # only a writer holding this lock makes them, and none is running
                if stale.suffix == ".old" and not out.exists():
                    stale.rename(out)  # a swap killed between its two renames: the previous results come back
                else:
                    shutil.rmtree(stale, ignore_errors=True)
            yield
        finally:
            _CLAIMED.discard(key)


@contextlib.contextmanager
def staged_dir(out: Path, marker: str = RUN_MARKER, kind: str = "a run") -> Iterator[Path]:
    """Yield an empty folder to write into; on success it becomes `out`, on failure it is removed."""
    out = Path(out)
    with claim(out, marker, kind):
        check_replaceable(out, marker, kind)
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

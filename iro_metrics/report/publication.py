"""Putting a build's outputs in place: one build of a folder at a time, and a swap that survives kills.

A build writes into a scratch folder beside its target (``.<name>-XXXX``) and swaps it in at the end:
the previous outputs are first renamed to ``.<name>.previous``, the new ones renamed into place, then the
previous ones removed. Renames are atomic, so whatever moment a build is killed at, a complete set of
outputs is on disk: in the target, or (killed between the two renames) in ``.<name>.previous``.
Every build first repairs what an interrupted one left: it puts ``.previous`` back when the target is
missing, removes it when the target is there, and removes stale scratch folders. All of this happens
under a lock file (``.<name>.lock``), so two builds of one folder never meet: the second refuses (or
waits, when asked to: ``build --watch`` does). ``harvest`` takes the same lock while it writes.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from iro_metrics.errors import IroMetricsError, os_error_message


#: seconds a harvest, or a build asked to wait (``build --watch``), waits for another build of the folder
LOCK_WAIT = 120


class OutputsError(IroMetricsError):
    """The outputs folder cannot be written (busy, read-only, not a folder, disk full...)."""


def previous_of(target: Path) -> Path:
    return target.with_name(f".{target.name}.previous")


def lock_of(target: Path) -> Path:
    return target.with_name(f".{target.name}.lock")


def recover(target: Path) -> None:
    """Repair what an interrupted build left (call with the lock held): the previous outputs restored
    when the target is missing, else removed; stale scratch folders removed."""
    previous = previous_of(target)
    if previous.is_dir():
        if target.exists():
            shutil.rmtree(previous)
        else:
            os.replace(previous, target)
    for stale in target.parent.glob(f".{target.name}-*"):
        _remove_stale(stale)


def _remove_stale(folder: Path) -> None:
    """A scratch folder a killed build left. What that build started (the notebook's kernel, pandoc) may
    still be writing into it for a moment: it is renamed first, so nothing they write by its name lands
    in it, then removed."""
    gone = folder.with_name(f"{folder.name}.stale")
    try:
        os.replace(folder, gone)
    except OSError:
        gone = folder
    shutil.rmtree(gone, ignore_errors=True)


def swap(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new`` (call with the lock held, after :func:`recover`)."""
    previous = previous_of(target)
    had = target.exists()
    if had:
        os.replace(target, previous)
    os.replace(new, target)
    if had:
        shutil.rmtree(previous)


class Publication:
    """``with Publication(target) as pub:`` takes the lock (waiting up to ``wait`` seconds for another
    build or a harvest to finish), repairs an interrupted build and gives a
    scratch folder (``pub.work``); ``pub.commit()`` swaps it in. Leaving the block without committing
    removes the scratch and leaves the previous outputs as they were. An operating-system error about
    the outputs (read-only, a file in the way, disk full) becomes a clear :class:`OutputsError`."""

    def __init__(self, target: Path, what: str = "build", wait: float = 0):
        self.target, self.what, self.wait = Path(target), what, wait
        self._lock: FileLock | None = None
        self._work: Path | None = None

    def __enter__(self) -> Publication:
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            if self.target.exists() and not self.target.is_dir():
                raise OutputsError(f"{self.target}: this is a file, where the outputs folder should be; move or "
                                   "delete it, or choose another folder with --outputs")
            lock = FileLock(lock_of(self.target), timeout=self.wait)
            try:
                lock.acquire()
            except Timeout:
                raise OutputsError(f"{self.target}: another {self.what} of this folder is running (it holds "
                                   f"{lock_of(self.target)}); wait for it to finish, then run again. Nothing "
                                   "was changed") from None
            self._lock = lock
            recover(self.target)
        except OSError as e:
            self._release()
            raise self._explain(e) from None
        except BaseException:
            self._release()
            raise
        return self

    @property
    def work(self) -> Path:
        """The scratch folder, made on first use (readable by all: outputs are for reading)."""
        if self._work is None:
            try:
                self._work = Path(tempfile.mkdtemp(prefix=f".{self.target.name}-", dir=self.target.parent))
                self._work.chmod(0o755)
            except OSError as e:
                raise self._explain(e) from None
        return self._work

    def commit(self) -> None:
        try:
            swap(self.work, self.target)
        except OSError as e:
            raise self._explain(e) from None
        self._work = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._work is not None:
                shutil.rmtree(self._work, ignore_errors=True)
                self._work = None
            if exc is not None:  # a failure inside the swap: the previous outputs go back now
                recover(self.target)
        finally:
            self._release()
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError) and self._about_outputs(exc):
            raise self._explain(exc) from None

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _about_outputs(self, e: OSError) -> bool:
        """The error concerns a path in the outputs folder, or has no path (a write that hit a limit)."""
        name = e.filename or ""
        return (not name or Path(name).resolve().is_relative_to(self.target.parent.resolve())
                or e.errno in _FULL)

    def _explain(self, e: OSError) -> OutputsError:
        return OutputsError(f"{self.target}: the outputs could not be written: {os_error_message(e)}. The "
                            "previous outputs, if any, are unchanged")


_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}

"""The package's exceptions. Each carries enough context to tell a user what to fix."""

from __future__ import annotations

import errno
from dataclasses import dataclass


class IroMetricsError(Exception):
    """Base class: anything the CLI reports as a clear message with a non-zero exit."""


@dataclass(frozen=True)
class Problem:
    """One reason the data cannot be used: which file, which column, what was expected."""

    file: str
    message: str
    column: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class FatalDataError(IroMetricsError):
    """The input cannot be used at all (a missing file or column, not a CSV, no rows...)."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(IroMetricsError):
    """The command was called with arguments that cannot work (bad year, missing folder...)."""


class MetricError(IroMetricsError):
    """A metric could not be computed: the message names the section and the metric."""


_OS_ERRORS: dict[int, str] = {
    errno.ENOSPC: "the disk is full; free some space and run again",
    errno.EDQUOT: "your disk quota is used up; free some space and run again",
    errno.EFBIG: "a file grew beyond the file-size limit set for this session (ulimit -f); raise the limit "
                 "and run again",
    errno.EACCES: "permission denied; ask whoever manages the folder for write access, or choose another folder",
    errno.EPERM: "permission denied; ask whoever manages the folder for write access, or choose another folder",
    errno.EROFS: "the folder is on a read-only file system; choose another folder",
    errno.ENOTDIR: "a file is in the way where a folder is expected; move or delete it",
    errno.EEXIST: "a file is in the way where a folder is expected; move or delete it",
    errno.ENOENT: "no such file or folder",
}


def os_error_message(e: OSError) -> str:
    """What an operating-system error means for the user, naming the path, and what to do."""
    what = _OS_ERRORS.get(e.errno or 0, f"{e.strerror or e}")
    return f"{e.filename}: {what}" if e.filename else what


def describe(e: BaseException | None) -> dict | None:
    """A package error, or an operating-system one (a full disk...), as plain data, to carry it out of
    the notebook's kernel (:func:`revive`); None for any other exception, which is a bug, not bad input."""
    if isinstance(e, FatalDataError):
        return {"problems": [vars(p) for p in e.problems]}
    if isinstance(e, IroMetricsError):
        return {"message": str(e), "type": type(e).__name__}
    if isinstance(e, OSError) and e.errno is not None:
        return {"errno": e.errno, "strerror": e.strerror, "filename": e.filename}
    return None


def revive(d: dict) -> Exception:
    """The error :func:`describe` described, to report as if it had been raised here."""
    if "problems" in d:
        return FatalDataError([Problem(**p) for p in d["problems"]])
    if "errno" in d:
        return OSError(d["errno"], d["strerror"], d["filename"])
    kind = {k.__name__: k for k in (MetricError, UsageError)}.get(d.get("type", ""), IroMetricsError)
    return kind(d["message"])

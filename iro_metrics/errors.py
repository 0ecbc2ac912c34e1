"""The package's exceptions. Each carries enough context to tell a user what to fix."""

from __future__ import annotations

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

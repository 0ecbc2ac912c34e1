"""Collection years: ``YYYY-YY`` strings, 1 April to 31 March inclusive."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iro_metrics.errors import UsageError

if TYPE_CHECKING:  # pandas is imported when a date is asked for: a commentary-only rebuild needs none
    import pandas as pd

_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class CollectionYear:
    """A collection year, identified by the calendar year in which it starts."""

    start_year: int

    @classmethod
    def parse(cls, text: str) -> CollectionYear:
        m = _PATTERN.match(str(text).strip())
        if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
            raise UsageError(f"collection year {text!r}: expected YYYY-YY, e.g. 2024-25")
        return cls(int(m.group(1)))

    @property
    def label(self) -> str:
        return f"{self.start_year}-{(self.start_year + 1) % 100:02d}"

    @property
    def start(self) -> pd.Timestamp:
        """1 April, the first day of the year."""
        import pandas as pd

        return pd.Timestamp(self.start_year, 4, 1)

    @property
    def end(self) -> pd.Timestamp:
        """31 March, the last day of the year (the "year end")."""
        import pandas as pd

        return pd.Timestamp(self.start_year + 1, 3, 31)

    @property
    def end_date(self) -> dt.date:
        """31 March as a plain date (the date outputs carry)."""
        return dt.date(self.start_year + 1, 3, 31)

    def previous(self) -> CollectionYear:
        return CollectionYear(self.start_year - 1)

    def __str__(self) -> str:
        return self.label


def is_year_label(name: str) -> bool:
    """True for a collection-year label such as a data folder's name, ``2024-25``."""
    m = _PATTERN.match(name)
    return bool(m) and (int(m.group(1)) + 1) % 100 == int(m.group(2))


def year_of(dates: pd.Series) -> pd.Series:
    """Start year of the collection year each date falls in (NaN where the date is missing)."""
    return dates.dt.year - (dates.dt.month < 4).astype("Int64")


def year_range(spec: str) -> list[CollectionYear]:
    """``2020-21:2024-25`` -> the five years in order; a single year is a one-item list."""
    first, _, last = spec.partition(":")
    a = CollectionYear.parse(first)
    b = CollectionYear.parse(last) if last else a
    if b < a:
        raise UsageError(f"year range {spec!r}: the last year comes before the first")
    return [CollectionYear(y) for y in range(a.start_year, b.start_year + 1)]

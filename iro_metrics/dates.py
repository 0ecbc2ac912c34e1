"""Statutory date arithmetic: working days in England and calendar-month steps (``metrics.md`` §0).

All functions are vectorised over pandas Series of ``datetime64`` and return new Series.
"""

from __future__ import annotations

from functools import cache

import holidays
import numpy as np
import pandas as pd

_FIRST_YEAR, _LAST_YEAR = 1990, 2045


@cache
def bank_holidays() -> np.ndarray:
    """England's bank holidays (the maintained ``holidays`` calendar, GB subdivision ENG)."""
    cal = holidays.country_holidays("GB", subdiv="ENG", years=range(_FIRST_YEAR, _LAST_YEAR + 1))
    return np.array(sorted(cal.keys()), dtype="datetime64[D]")


def _days(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype="datetime64[D]")


def _back(values: np.ndarray, like: pd.Series) -> pd.Series:
    return pd.Series(values.astype("datetime64[s]"), index=like.index)


def add_working_days(dates: pd.Series, n: int) -> pd.Series:
    """The ``n``-th working day after each date (the date itself is day 0).

    A working day is not a Saturday, Sunday or bank holiday in England. A start date that is itself
    not a working day still counts as day 0: day 1 is the first working day after it.
    """
    d = _days(dates)
    ok = ~np.isnat(d)
    out = np.full(d.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    # rolling backward first makes "day 1" the first working day strictly after the date
    out[ok] = np.busday_offset(d[ok], n, roll="backward", holidays=bank_holidays())
    return _back(out, dates)


def working_days_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
    a, b = _days(start), _days(end)
    ok = ~(np.isnat(a) | np.isnat(b))
    out = np.full(a.shape, np.nan)
    out[ok] = np.busday_count(a[ok] + 1, b[ok] + 1, holidays=bank_holidays())
    return pd.Series(np.maximum(out, 0), index=start.index).astype("Int64").where(ok)


def add_months(dates: pd.Series, months: int | pd.Series) -> pd.Series:
    """Same day of the month ``months`` later; the last day of that month when it is too short."""
    d = _days(dates)
    ok = ~np.isnat(d)
    m = np.broadcast_to(np.asarray(months, dtype="int64"), d.shape)
    month0 = d.astype("datetime64[M]")
    day = (d - month0).astype("int64")  # 0-based day of month
    target = month0 + m.astype("timedelta64[M]")
    last_day = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype("int64") - 1
    out = target.astype("datetime64[D]") + np.minimum(day, last_day).astype("timedelta64[D]")
    out = np.where(ok, out, np.datetime64("NaT"))
    return _back(out, dates)


def age_in_years(dob: pd.Series, on: pd.Series | pd.Timestamp) -> pd.Series:
    """Completed years from ``dob`` to ``on`` (a birthday counts on the day itself)."""
    on = on if isinstance(on, pd.Series) else pd.Series(on, index=dob.index)
    years = on.dt.year - dob.dt.year
    before_birthday = (on.dt.month < dob.dt.month) | ((on.dt.month == dob.dt.month) & (on.dt.day < dob.dt.day))
    return (years - before_birthday.astype("Int64")).astype("Int64")

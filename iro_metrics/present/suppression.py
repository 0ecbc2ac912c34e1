"""Statistical disclosure control for published tables (``metrics.md`` §8).

* **Primary**: a count from 1 to ``threshold`` (default 5) is shown as ``c``. Zero is shown.
* **Secondary**: where a line of cells adds up to a published total, one suppressed cell could be
  recovered by subtraction, so the smallest other non-zero cell of that line is suppressed too;
  repeated across rows and columns until nothing can be recovered.
* A percentage whose numerator or denominator is suppressed is ``c``.
* Council-level headline totals are not suppressed (as DfE publishes them).

GSS symbols: ``c`` suppressed, ``z`` not applicable, ``x`` not available.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SUPPRESSED, NOT_APPLICABLE, NOT_AVAILABLE = "c", "z", "x"


def primary(counts: np.ndarray, threshold: int = 5) -> np.ndarray:
    """Cells to suppress because they are small: 1 to ``threshold``."""
    c = np.asarray(counts, dtype=float)
    return (c >= 1) & (c <= threshold)


def _secondary_line(values: np.ndarray, hidden: np.ndarray) -> bool:
    """In one line that sums to a published total: hide one more cell when exactly one is hidden.
    Returns True when a cell was added."""
    if hidden.sum() != 1:
        return False
    candidates = np.where(~hidden & (values > 0))[0]
    if len(candidates) == 0:
        return False
    hidden[candidates[np.argmin(values[candidates])]] = True
    return True


def suppress_counts(counts: pd.DataFrame, threshold: int = 5, rows_total: bool = True,
                    columns_total: bool = False, already: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which cells of a table of counts to show as ``c`` (a boolean frame of the same shape).

    ``rows_total``: each column adds up to a published total (the usual one-way breakdown, whose
    total is the council figure); ``columns_total``: each row adds up to a published total too;
    ``already``: cells hidden for another reason, to protect as well.
    """
    values = counts.to_numpy(dtype=float)
    hidden = primary(values, threshold)
    if already is not None:
        hidden |= already.to_numpy(dtype=bool)
    changed = True
    while changed:
        changed = False
        if rows_total:
            for j in range(values.shape[1]):
                col = hidden[:, j]
                changed |= _secondary_line(values[:, j], col)
                hidden[:, j] = col
        if columns_total:
            for i in range(values.shape[0]):
                row = hidden[i, :]
                changed |= _secondary_line(values[i, :], row)
                hidden[i, :] = row
    return pd.DataFrame(hidden, index=counts.index, columns=counts.columns)


COUNT_FORMAT, PERCENT_FORMAT = "{:,.0f}", "{:.1f}"
NO_CASES = "–"  # a percentage (or rate) of nothing: metrics.md §8
#: columns that are a share of something, besides ``*_pct``: missing only when there is nothing to share
RATES = ("per_100_children",)


def published(values: pd.DataFrame, hidden: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """The table as text: hidden cells ``c``, missing values ``x`` (``–`` for a percentage or rate,
    whose only missing value is a denominator of 0), the rest formatted (counts with thousands
    separators; columns named ``*_pct`` or in ``formats`` as given: percentages to one decimal place in
    tables, as ``metrics.md`` §8 says)."""
    formats = formats or {}

    def show(v, h, fmt, share):
        if h:
            return SUPPRESSED
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return NO_CASES if share else NOT_AVAILABLE
        return fmt.format(v) if isinstance(v, (int, float, np.integer, np.floating)) else str(v)

    out = values.copy().astype(object)
    for col in values.columns:
        fmt = formats.get(col, PERCENT_FORMAT if str(col).endswith("pct") else COUNT_FORMAT)
        h = hidden[col] if col in hidden.columns else pd.Series(False, index=values.index)
        share = str(col).endswith("pct") or col in RATES
        out[col] = [show(v, bool(x), fmt, share) for v, x in zip(values[col], h, strict=True)]
    return out

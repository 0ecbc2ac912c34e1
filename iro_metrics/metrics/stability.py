"""Placement stability (``metrics.md`` §4)."""

from __future__ import annotations

import pandas as pd

from iro_metrics.dates import add_months
from iro_metrics.metrics.registry import Indicator, metric, percent
from iro_metrics.model import Model, in_return_window


def placements_in_year(m: Model) -> pd.Series:
    """Per child: one placement for each period of care open during the year (the return's window:
    ended on or after 1 April) plus each move in it."""
    ep = m.episodes
    periods = m.periods
    open_periods = periods[in_return_window(periods, m.year_start, m.year_end, start="start", end="end")]
    n_periods = open_periods.groupby("child_id").size()
    moves = ep[ep["is_move"] & (ep["start_date"] >= m.year_start) & (ep["start_date"] <= m.year_end)]
    n_moves = moves.groupby("child_id").size()
    return n_periods.add(n_moves, fill_value=0).astype("int64")


@metric("placements_3plus_pct", "Children with 3 or more placements in the year (%)", "stability", "percent")
def placements_3plus_pct(m: Model) -> Indicator:
    """Of children looked after on 31 March, the percentage with three or more placements during the
    year. Placements are one for each period of care open during the year (started on or before
    31 March and not ended before 1 April: its placement on 1 April, or at the start of the period if
    later) plus each placement move in the year. A move is a
    new episode with reason P, B, T or U, except a temporary placement (T0-T4), the return from a
    temporary placement to the placement held before it, and a placement for adoption with the
    current foster carer (A3, A5)."""
    three = three_or_more_placements(m)
    return percent(int(three.sum()), len(three))


def three_or_more_placements(m: Model) -> pd.Series:
    """Per child looked after on 31 March: had 3 or more placements in the year."""
    return placements_in_year(m).reindex(m.cla_at_year_end, fill_value=0) >= 3


def long_term_cohort(m: Model) -> tuple[pd.Series, pd.Series]:
    """Per child looked after on 31 March: (in the long-term cohort, stable), as defined below."""
    cur = m.cla_episodes_at_year_end
    year_end = pd.Series(m.year_end, index=cur.index)
    age = m.age_on(cur.index, m.year_end)
    cohort = (age < 16).fillna(False) & (cur["period_start"] <= add_months(year_end, -30))
    return cohort, cohort & (cur["carer_start"] <= add_months(year_end, -24))


@metric("long_term_stability_pct", "Children in long-term care living with the same carer(s) for 2+ years (%)",
        "stability", "percent")
def long_term_stability_pct(m: Model) -> Indicator:
    """DfE's "living with the same carer(s) for at least 2 years": of children looked after on
    31 March, aged under 16 on 31 March and looked after continuously (in one period of care) for at
    least 2 and a half years up to 31 March, the percentage who on 31 March had been with the same
    carer(s) for at least 2 years. Counting back from 31 March, the time with the same carer(s) runs
    through changes of legal status only (RNE L), changes of placement with the same carer(s) (RNE T
    and U, such as short-term to long-term fostering with the same family), temporary placements
    (T0-T4) and the return that ends them, and placement for adoption with the current foster carer
    (A3, A5); it stops at an episode with a new carer (RNE P or B) or the start of the period of
    care. Durations are calendar months: for 31 March 2025, care began on or before 30 September 2022
    and the time with the same carer(s) on or before 31 March 2023."""
    cohort, stable = long_term_cohort(m)
    return percent(int(stable.sum()), int(cohort.sum()))

"""Placement stability (``metrics.md`` §4)."""

from __future__ import annotations

import pandas as pd

from iro_metrics.dates import add_months
from iro_metrics.metrics.registry import Indicator, metric, percent
from iro_metrics.model import Model, open_during


def placements_in_year(m: Model) -> pd.Series:
    """Per child: one placement for each period of care open during the year plus each move in it."""
    ep = m.episodes
    periods = m.periods
    open_periods = periods[open_during(periods, m.year_start, m.year_end, start="start", end="end")]
    n_periods = open_periods.groupby("child_id").size()
    moves = ep[ep["is_move"] & (ep["start_date"] >= m.year_start) & (ep["start_date"] <= m.year_end)]
    n_moves = moves.groupby("child_id").size()
    return n_periods.add(n_moves, fill_value=0).astype("int64")


@metric("placements_3plus_pct", "Children with 3 or more placements in the year (%)", "stability", "percent")
def placements_3plus_pct(m: Model) -> Indicator:
    """Of children looked after on 31 March, the percentage with three or more placements during the
    year. Placements are one for each period of care open at any time in the year (its placement on
    1 April, or at the start of the period if later) plus each placement move in the year. A move is a
    new episode with reason P, B, T or U, except a temporary placement (T0-T4), the return from a
    temporary placement to the placement held before it, and a placement for adoption with the
    current foster carer (A3, A5)."""
    counts = placements_in_year(m).reindex(m.cla_at_year_end, fill_value=0)
    return percent(int((counts >= 3).sum()), len(counts))


@metric("long_term_stability_pct", "Children in long-term care in the same placement for 2+ years (%)",
        "stability", "percent")
def long_term_stability_pct(m: Model) -> Indicator:
    """Of children looked after on 31 March, aged under 16 on 31 March and looked after continuously
    (in one period of care) for at least 2 and a half years up to 31 March, the percentage who had
    been in the same placement for at least 2 years on 31 March. Time in episodes that are not
    placement moves counts towards the placement, so a child placed for adoption with their foster
    carer counts their time with that carer before the adoption placement. Durations are calendar
    months: for 31 March 2025, care began on or before 30 September 2022 and the placement on or
    before 31 March 2023."""
    cur = m.cla_episodes_at_year_end
    year_end = pd.Series(m.year_end, index=cur.index)
    age = m.age_on(cur.index, m.year_end)
    care_since = add_months(year_end, -30)
    placed_since = add_months(year_end, -24)
    cohort = (age < 16).fillna(False) & (cur["period_start"] <= care_since)
    stable = cohort & (cur["placement_start"] <= placed_since)
    return percent(int(stable.sum()), int(cohort.sum()))

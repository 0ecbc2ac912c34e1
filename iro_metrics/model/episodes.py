"""Periods of care, placement moves and placement spells, computed once from the episodes.

The statutory rules are in ``metrics.md`` §0 and §4; metrics read these columns, they do not
recompute them.
"""

from __future__ import annotations

import pandas as pd

from iro_metrics import spec

SHORT_BREAK_LS = frozenset({"V3", "V4"})
MOVE_RNE = frozenset({"P", "B", "T", "U"})
#: reasons for a new episode that mean a new carer (T and U change the placement with the same carers)
NEW_CARER_RNE = frozenset({"P", "B"})
ADOPTION_PLACES = frozenset({"A3", "A4", "A5", "A6"})
ADOPTION_SAME_CARER = frozenset({"A3", "A5"})


def care_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes that count: short-break episodes (legal status V3/V4) set aside, sorted by child
    and start date, with ``period_id`` and the flags below added. Input is not mutated.

    Columns added:

    * ``period_id``, ``period_start``, ``period_end`` (NaT = still looked after), ``period_seq``
      (1 for the first episode of its period);
    * ``is_move``: the episode is a placement move (RNE P/B/T/U, not temporary T0-T4, not the return
      from a temporary placement to the placement held before it, not A3/A5 with the current carer);
    * ``placement_start``: the start of the placement (spell of non-move episodes) the episode is part of;
    * ``carer_start``: the start of the spell with the same carer(s) the episode is part of: a move
      with RNE P or B (new carers) or the start of the period begins one; T and U (same carers) do not;
    * ``adoption_placement``: the episode starts a placement for adoption (first of a run of A3-A6).
    """
    ep = episodes[~episodes["legal_status"].isin(SHORT_BREAK_LS)]
    ep = ep.sort_values(["child_id", "start_date", "end_date"], kind="stable", na_position="last")
    ep = ep.reset_index(drop=True)
    child = ep["child_id"]
    same_child = child.eq(child.shift()).fillna(False).astype(bool)
    prev_end = ep.groupby("child_id", sort=False)["end_date"].shift()
    prev_open = same_child & prev_end.isna()
    # same period: starts on (or, for overlapping episodes, before) the day the previous one ended
    contiguous = same_child & (prev_open | (ep["start_date"] <= prev_end).fillna(False))
    ep["period_id"] = (~contiguous).cumsum().astype("int64")
    g = ep.groupby("period_id", sort=False)
    ep["period_seq"] = g.cumcount() + 1
    ep["period_start"] = g["start_date"].transform("first")
    last_end = g["end_date"].transform("last")
    any_open = ep["end_date"].isna().groupby(ep["period_id"]).transform("any")
    ep["period_end"] = last_end.where(~any_open)

    temporary = spec.codes_where("PLACE", temporary=True)
    place = ep["placement"]
    is_temp = place.isin(temporary).fillna(False).astype(bool)
    # the last non-temporary placement before each episode, within its period
    held = place.where(~is_temp)
    before = held.groupby(ep["period_id"]).ffill().groupby(ep["period_id"]).shift()
    prev_temp = is_temp.groupby(ep["period_id"]).shift().fillna(False).astype(bool)
    returns = prev_temp & ~is_temp & place.eq(before).fillna(False).astype(bool)
    ep["is_move"] = (
        (ep["period_seq"] > 1)
        & ep["reason_new_episode"].isin(MOVE_RNE).fillna(False).astype(bool)
        & ~is_temp
        & ~returns
        & ~place.isin(ADOPTION_SAME_CARER).fillna(False).astype(bool)
    )
    new_spell = (ep["period_seq"] == 1) | ep["is_move"]
    spell = new_spell.cumsum()
    ep["placement_start"] = ep["start_date"].where(new_spell).groupby(spell).transform("first")
    new_carer = (ep["period_seq"] == 1) | (ep["is_move"] & ep["reason_new_episode"].isin(NEW_CARER_RNE)
                                           .fillna(False).astype(bool))
    ep["carer_start"] = ep["start_date"].where(new_carer).groupby(new_carer.cumsum()).transform("first")
    in_adoption = place.isin(ADOPTION_PLACES).fillna(False).astype(bool)
    prev_adoption = in_adoption.groupby(ep["period_id"]).shift().fillna(False).astype(bool)
    ep["adoption_placement"] = in_adoption & ~prev_adoption
    return ep


def periods_of_care(ep: pd.DataFrame) -> pd.DataFrame:
    """One row per period of care, from :func:`care_episodes` output.

    Columns: ``period_id``, ``child_id``, ``start``, ``end`` (NaT = open), ``first_rne``,
    ``category_of_need`` (at the start), ``reason_ceased`` (of the last episode).
    """
    g = ep.groupby("period_id", sort=True)
    out = pd.DataFrame({
        "child_id": g["child_id"].first(),
        "start": g["period_start"].first(),
        "end": g["period_end"].first(),
        "first_rne": g["reason_new_episode"].first(),
        "category_of_need": g["category_of_need"].first(),
        "reason_ceased": g["reason_ceased"].last(),
    })
    # a period still open has no reason for ceasing
    out.loc[out["end"].isna(), "reason_ceased"] = pd.NA
    # typed even when there are no episodes, so the review clock can join on it
    return out.reset_index().astype({"period_id": "int64", "start": "datetime64[s]", "end": "datetime64[s]"})


def open_on(frame: pd.DataFrame, day: pd.Timestamp, start: str = "start_date", end: str = "end_date") -> pd.Series:
    """Rows open on ``day``: start <= day and (end blank or end > day)."""
    return (frame[start] <= day) & (frame[end].isna() | (frame[end] > day))


def open_during(frame: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp,
                start: str = "start_date", end: str = "end_date") -> pd.Series:
    """Rows open on any day from ``first`` to ``last`` inclusive: start <= last and (end blank or
    end > first). For IRO records, whose end date is the first day a spell no longer applies."""
    return (frame[start] <= last) & (frame[end].isna() | (frame[end] > first))


def in_return_window(frame: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp,
                     start: str = "start_date", end: str = "end_date") -> pd.Series:
    """903 episodes (or periods) open during the year as the return counts them (``metrics.md`` §0):
    start <= 31 March and (end blank or end >= 1 April). An episode that ceased on 1 April was
    looked after during the year, and ceased in it."""
    return (frame[start] <= last) & (frame[end].isna() | (frame[end] >= first))

"""The review clock (``metrics.md`` §2): each review's due date, timeliness and sequence.

Vectorised: a review's due date depends only on the previous review's actual date, on whether
that one was the first of its period or the first after a placement for adoption, and on any
placement for adoption since, so no per-child loop is needed.
"""

from __future__ import annotations

import pandas as pd

from iro_metrics.dates import add_months, add_working_days

FIRST_REVIEW_WORKING_DAYS = 20
ADOPTION_REVIEW_DAYS = 28


def attach_periods(reviews: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """Each review with the period of care it falls in (start to end inclusive), or none."""
    r = reviews.reset_index(drop=True).copy()
    r["_order"] = range(len(r))
    left = r.sort_values("review_date", kind="stable")
    right = periods[["period_id", "child_id", "start", "end"]].sort_values("start", kind="stable")
    m = pd.merge_asof(left, right, left_on="review_date", right_on="start", by="child_id",
                      direction="backward")
    inside = m["start"].notna() & (m["end"].isna() | (m["review_date"] <= m["end"]))
    m.loc[~inside, ["period_id", "start", "end"]] = pd.NA
    return m.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def review_clock(reviews: pd.DataFrame, periods: pd.DataFrame, episodes: pd.DataFrame,
                 data_start: pd.Timestamp, as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Due dates and timeliness for every review held on or before ``as_of``.

    ``periods`` and ``episodes`` come from :mod:`iro_metrics.model.episodes`; ``data_start`` is
    1 April of the earliest collection year supplied (history before it is unknown).

    Returns ``(reviews, pending)``:

    * reviews in a period of care, with ``period_id``, ``seq`` (0 = first on record in the period),
      ``sequence`` (first / second / later), ``due_date`` (NaT = unknown), ``on_time`` (boolean, NA
      = unknown) and ``days_late``;
    * one row per period with the due date still pending after its last review up to ``as_of``
      (``pending_due``, NaT when unknown or when it falls after the period ended).
    """
    r = reviews[reviews["review_date"] <= as_of]
    r = attach_periods(r[["child_id", "review_date", "participation"]], periods)
    r = r[r["period_id"].notna()].copy()
    r["period_id"] = r["period_id"].astype("int64")
    r = r.sort_values(["period_id", "review_date"], kind="stable").reset_index(drop=True)
    r["seq"] = r.groupby("period_id").cumcount()

    known = periods.set_index("period_id")["start"] >= data_start
    r["known_history"] = r["period_id"].map(known).astype(bool)

    # placements for adoption: each belongs to the first review on or after it
    adopt = episodes.loc[episodes["adoption_placement"] & (episodes["start_date"] <= as_of),
                         ["period_id", "start_date"]].rename(columns={"start_date": "placed"})
    adopt = adopt.sort_values("placed", kind="stable")
    by_review = pd.merge_asof(adopt, r[["period_id", "review_date", "seq"]].sort_values("review_date"),
                              left_on="placed", right_on="review_date", by="period_id", direction="forward")
    claimed = by_review.dropna(subset=["review_date"]).groupby(["period_id", "seq"], as_index=False)["placed"].min()
    claimed["seq"] = claimed["seq"].astype("int64")
    r = r.merge(claimed, on=["period_id", "seq"], how="left")
    r["after_adoption"] = r["placed"].notna()

    prev_date = r.groupby("period_id")["review_date"].shift()
    prev_first_known = (r["seq"] == 1) & r["known_history"]
    prev_after_adoption = r.groupby("period_id")["after_adoption"].shift().fillna(False).astype(bool)
    short_step = prev_first_known | prev_after_adoption
    base = pd.Series(pd.NaT, index=r.index, dtype="datetime64[s]")
    first = r["seq"] == 0
    # reindex, not map: map casts dates through float when there are no reviews
    starts = pd.Series(periods.set_index("period_id")["start"].reindex(r["period_id"]).to_numpy(), index=r.index)
    known_first = first & r["known_history"]
    base[known_first] = add_working_days(starts[known_first], FIRST_REVIEW_WORKING_DAYS)
    later = ~first
    months = short_step.map({True: 3, False: 6})
    base[later] = add_months(prev_date[later], months[later])
    adoption_due = r["placed"] + pd.Timedelta(days=ADOPTION_REVIEW_DAYS)
    due = base.where(base.isna() | adoption_due.isna() | (base <= adoption_due), adoption_due)
    r["due_date"] = due.where(~(first & ~r["known_history"]))
    r["on_time"] = (r["review_date"] <= r["due_date"]).astype("boolean").where(r["due_date"].notna())
    r["days_late"] = (r["review_date"] - r["due_date"]).dt.days.where(r["on_time"] == False)  # noqa: E712
    r["sequence"] = pd.Series("later", index=r.index)
    r.loc[known_first, "sequence"] = "first"
    r.loc[(r["seq"] == 1) & r["known_history"], "sequence"] = "second"

    pending = _pending(r, periods, adopt, data_start, as_of)
    return r, pending


def _pending(r: pd.DataFrame, periods: pd.DataFrame, adopt: pd.DataFrame,
             data_start: pd.Timestamp, as_of: pd.Timestamp) -> pd.DataFrame:
    """The due date each period is waiting on after its last review (as of ``as_of``)."""
    p = periods[periods["start"] <= as_of].set_index("period_id")
    last = r.groupby("period_id").last()
    out = pd.DataFrame(index=p.index)
    out["child_id"] = p["child_id"]
    out["last_review"] = last["review_date"].reindex(p.index)
    n = r.groupby("period_id").size().reindex(p.index, fill_value=0)
    known = p["start"] >= data_start
    last_after_adoption = last["after_adoption"].reindex(p.index).fillna(False).astype(bool)
    base = pd.Series(pd.NaT, index=p.index, dtype="datetime64[s]")
    none = (n == 0) & known
    base[none] = add_working_days(p["start"][none], FIRST_REVIEW_WORKING_DAYS)
    some = n > 0
    months = ((n == 1) & known) | last_after_adoption
    base[some] = add_months(out["last_review"][some], months[some].map({True: 3, False: 6}))
    # a placement for adoption after the last review pulls the due date in
    unclaimed = adopt.merge(out[["last_review"]].reset_index(), on="period_id", how="inner")
    unclaimed = unclaimed[unclaimed["last_review"].isna() | (unclaimed["placed"] > unclaimed["last_review"])]
    placed = unclaimed.groupby("period_id")["placed"].min().reindex(p.index)
    adoption_due = placed + pd.Timedelta(days=ADOPTION_REVIEW_DAYS)
    due = base.where(base.isna() | adoption_due.isna() | (base <= adoption_due), adoption_due)
    ended = p["end"].notna() & (p["end"] <= as_of)
    out["pending_due"] = due.where(~(ended & (due > p["end"])))
    return out.reset_index()

"""Reviews held and their timeliness (``metrics.md`` §2)."""

from __future__ import annotations

import pandas as pd

from iro_metrics.metrics.registry import Indicator, count, metric, percent, table
from iro_metrics.model import Model

NEEDS = ("reviews",)


def held_in_year(m: Model) -> pd.DataFrame:
    """Reviews dated in the year that fall in a period of care (children not short-break)."""
    r = m.reviews
    return r[(r["review_date"] >= m.year_start) & (r["review_date"] <= m.year_end)]


@metric("reviews_held", "Reviews held", "reviews", "count", NEEDS)
def reviews_held(m: Model) -> Indicator:
    """Looked-after reviews dated from 1 April to 31 March, for children not looked after only under
    short breaks. A review dated outside every period of care is a data-quality finding, not a
    review here."""
    return count(len(held_in_year(m)))


@metric("reviews_on_time", "Reviews held on time", "reviews", "count", NEEDS)
def reviews_on_time(m: Model) -> Indicator:
    """Reviews held in the year on or before their due date. The first review of a period of care
    is due within 20 working days of its start, the second within 3 months of the first, each later
    one within 6 months of the one before, always counted from the date the previous review was
    actually held. A placement for adoption brings the next review forward to within 28 days of the
    placement, and the one after it to within 3 months."""
    return count(int((held_in_year(m)["on_time"] == True).sum()))  # noqa: E712


@metric("reviews_late", "Reviews held late", "reviews", "count", NEEDS)
def reviews_late(m: Model) -> Indicator:
    """Reviews held in the year after their due date (see reviews held on time for the due dates)."""
    return count(int((held_in_year(m)["on_time"] == False).sum()))  # noqa: E712


@metric("reviews_on_time_pct", "Reviews held on time (%)", "reviews", "percent", NEEDS)
def reviews_on_time_pct(m: Model) -> Indicator:
    """Reviews held on time as a percentage of reviews held in the year whose timeliness is known
    (on time plus late)."""
    h = held_in_year(m)
    on, late = int((h["on_time"] == True).sum()), int((h["on_time"] == False).sum())  # noqa: E712
    return percent(on, on + late)


@metric("reviews_timeliness_unknown", "Reviews with unknown timeliness", "reviews", "count", NEEDS)
def reviews_timeliness_unknown(m: Model) -> Indicator:
    """Reviews held in the year whose due date cannot be known: the child's period of care began
    before the earliest data supplied and no earlier review of that period is on record. Counted in
    reviews held, left out of the percentage on time."""
    return count(int(held_in_year(m)["on_time"].isna().sum()))


@metric("reviews_overdue_at_31_march", "Children with a review overdue at 31 March", "reviews", "count", NEEDS)
def reviews_overdue_at_31_march(m: Model) -> Indicator:
    """Children looked after on 31 March whose next review in their current period of care was due on
    or before 31 March and had not been held by then. A review missed in an earlier period that has
    ended does not count here (it counts against the child in the all-reviews-on-time measure)."""
    current = set(m.cla_episodes_at_year_end["period_id"])
    p = m.pending[m.pending["period_id"].isin(current)]
    return count(int((p["pending_due"].notna() & (p["pending_due"] <= m.year_end)).sum()))


def due_dates_in_year(m: Model) -> pd.DataFrame:
    """Every known due date falling in the year, with whether a review met it (by child)."""
    h = m.reviews[m.reviews["due_date"].notna()]
    met = pd.DataFrame({"child_id": h["child_id"], "due": h["due_date"], "met": h["on_time"] == True})  # noqa: E712
    p = m.pending[m.pending["pending_due"].notna()]
    missed = pd.DataFrame({"child_id": p["child_id"], "due": p["pending_due"], "met": False})
    missed = missed[missed["due"] <= m.year_end]
    d = pd.concat([met, missed], ignore_index=True)
    return d[(d["due"] >= m.year_start) & (d["due"] <= m.year_end)]


@metric("children_all_reviews_on_time_pct", "Children whose reviews were all on time (%)", "reviews", "percent", NEEDS)
def children_all_reviews_on_time_pct(m: Model) -> Indicator:
    """Of children looked after on 31 March with at least one known review due date falling in the
    year (in any of their periods of care), the percentage for whom every such due date was met by
    a review held on or before it. A due date that passed without a review, whether the review came
    late or not at all, fails the child."""
    d = due_dates_in_year(m)
    d = d[d["child_id"].isin(set(m.cla_at_year_end))]
    per_child = d.groupby("child_id")["met"].all()
    return percent(int(per_child.sum()), len(per_child))


@table("reviews_by_sequence", "Reviews held by sequence and timeliness", "reviews", NEEDS)
def reviews_by_sequence(m: Model) -> pd.DataFrame:
    """Reviews held in the year by their place in the period of care (first, second, later) and
    timeliness (on time, late, unknown)."""
    h = held_in_year(m)
    status = h["on_time"].map({True: "on time", False: "late"}).fillna("unknown")
    t = pd.crosstab(h["sequence"], status).reindex(index=["first", "second", "later"],
                                                   columns=["on time", "late", "unknown"], fill_value=0)
    t = t.astype("int64")
    t["total"] = t.sum(axis=1)
    return t.rename_axis(None, axis=1).reset_index()


@table("reviews_days_late", "Late reviews by days late", "reviews", NEEDS)
def reviews_days_late(m: Model) -> pd.DataFrame:
    """Reviews held late in the year by how many days after the due date they were held: 1 to 7,
    8 to 28, 29 or more."""
    days = held_in_year(m)["days_late"].dropna()
    bands = pd.cut(days, [0, 7, 28, float("inf")], labels=["1 to 7", "8 to 28", "29 or more"])
    c = bands.value_counts().reindex(["1 to 7", "8 to 28", "29 or more"], fill_value=0)
    return pd.DataFrame({"days_late": c.index.astype(str), "reviews": c.to_numpy(dtype="int64")})


@table("reviews_by_month", "Reviews held and held on time by month", "reviews", NEEDS)
def reviews_by_month(m: Model) -> pd.DataFrame:
    """Reviews held in each month of the year, April to March; of them, how many were held on time, as
    a percentage of those whose timeliness is known (on time plus late), as for the year."""
    months = pd.period_range(m.year_start, m.year_end, freq="M")
    h = held_in_year(m)
    month = h["review_date"].dt.to_period("M")
    c = month.value_counts().reindex(months, fill_value=0)
    on = month[h["on_time"] == True].value_counts().reindex(months, fill_value=0)  # noqa: E712
    late = month[h["on_time"] == False].value_counts().reindex(months, fill_value=0)  # noqa: E712
    pct = [percent(int(a), int(a + b)).value for a, b in zip(on, late, strict=True)]
    return pd.DataFrame({"month": [p.strftime("%Y-%m") for p in months], "reviews": c.to_numpy(dtype="int64"),
                         "on_time": on.to_numpy(dtype="int64"), "on_time_pct": pct})

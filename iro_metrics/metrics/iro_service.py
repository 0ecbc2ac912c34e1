"""The IRO service: staffing, caseloads, allocation and changes of IRO (``metrics.md`` §5)."""

from __future__ import annotations

import pandas as pd

from iro_metrics.dates import add_working_days
from iro_metrics.metrics.population import starts_in_year
from iro_metrics.metrics.registry import Indicator, metric, percent, round_half_up, table
from iro_metrics.model import Model, open_during, open_on

STAFF = ("iro_staff",)
BOTH = ("iro_staff", "iro_allocations")
ALLOC = ("iro_allocations",)
HANDBOOK_RANGE = (50, 70)


def _in_post(m: Model) -> pd.DataFrame:
    s = m.data["iro_staff"]
    return s[open_on(s, m.year_end)]


def _allocated_at_year_end(m: Model) -> pd.DataFrame:
    a = m.data["iro_allocations"]
    a = a[open_on(a, m.year_end) & a["child_id"].isin(set(m.cla_at_year_end))]
    return a.sort_values("start_date", kind="stable").drop_duplicates("child_id", keep="last")


@metric("iro_fte_at_31_march", "IRO full-time equivalents at 31 March", "iro_service", "count", STAFF)
def iro_fte_at_31_march(m: Model) -> Indicator:
    """Sum of the full-time equivalents of IROs in post on 31 March (a spell is in post on a day when
    it started on or before it and had not ended by it)."""
    return Indicator(round_half_up(float(_in_post(m)["fte"].sum()), 2))


@metric("iro_headcount_at_31_march", "IROs in post at 31 March", "iro_service", "count", STAFF)
def iro_headcount_at_31_march(m: Model) -> Indicator:
    """Number of IROs in post on 31 March (people, not full-time equivalents)."""
    n = _in_post(m)["iro_id"].nunique()
    return Indicator(int(n), int(n))


@metric("iro_caseload_per_fte", "Children per full-time IRO at 31 March", "iro_service", "ratio", BOTH)
def iro_caseload_per_fte(m: Model) -> Indicator:
    """Children looked after on 31 March with an IRO allocation open on 31 March, divided by the full-
    time equivalent IROs in post on 31 March, to one decimal place. The IRO Handbook suggests 50 to
    70 children per full-time IRO. An IRO whose FTE is impossible (a data-quality finding) is left
    out, with the children allocated to them."""
    staff = _in_post(m)
    unknown = staff.loc[staff["fte"].isna(), "iro_id"]
    alloc = _allocated_at_year_end(m)
    n = int((~alloc["iro_id"].isin(set(unknown))).sum())
    fte = float(staff["fte"].sum())
    if fte <= 0:
        return Indicator(None, n, None)
    return Indicator(round_half_up(n / fte, 1), n, None)


@table("iro_caseload_by_iro", "Distribution of caseloads per full-time IRO at 31 March", "iro_service", BOTH)
def iro_caseload_by_iro(m: Model) -> pd.DataFrame:
    """For IROs in post on 31 March, how many have a caseload per full-time equivalent (children
    allocated on 31 March divided by their FTE) under 50, 50 to 70, or over 70. IROs are never named:
    only the distribution is published."""
    staff = _in_post(m).groupby("iro_id")["fte"].sum()
    kids = _allocated_at_year_end(m).groupby("iro_id").size().reindex(staff.index, fill_value=0)
    per_fte = kids / staff
    lo, hi = HANDBOOK_RANGE
    bands = pd.Series(pd.NA, index=per_fte.index, dtype="string")
    bands[per_fte < lo] = f"under {lo}"
    bands[(per_fte >= lo) & (per_fte <= hi)] = f"{lo} to {hi}"
    bands[per_fte > hi] = f"over {hi}"
    order = [f"under {lo}", f"{lo} to {hi}", f"over {hi}"]
    c = bands.value_counts().reindex(order, fill_value=0)
    return pd.DataFrame({"caseload_per_fte": order, "iros": c.to_numpy(dtype="int64")})


@metric("iro_allocated_within_5wd_pct", "New entrants allocated an IRO within 5 working days (%)",
        "iro_service", "percent", ALLOC)
def iro_allocated_within_5wd_pct(m: Model) -> Indicator:
    """Of children who started to be looked after in the year (first occasion), the percentage whose
    first IRO allocation of that period of care started within 5 working days of the period's start.
    An allocation made before the period started, and still open when it started, counts as within."""
    s = starts_in_year(m)
    a = m.data["iro_allocations"].merge(s[["child_id", "start", "end"]], on="child_id")
    during = (a["end"].isna() | (a["start_date"] <= a["end"])) & (a["end_date"].isna() | (a["end_date"] > a["start"]))
    a = a[during]
    first = a.sort_values("start_date", kind="stable").drop_duplicates("child_id", keep="first")
    deadline = add_working_days(first["start"], 5)
    return percent(int((first["start_date"] <= deadline).sum()), len(s))


@table("iro_changes", "Children looked after at 31 March by number of different IROs in the year",
       "iro_service", ALLOC)
def iro_changes(m: Model) -> pd.DataFrame:
    """Children looked after on 31 March by the number of different IROs allocated to them at any time
    during the year (an allocation in force on at least one day from 1 April to 31 March; its end
    date is the first day it no longer applies, so one ending on 1 April was not): none recorded, 1,
    2, 3 or more."""
    a = m.data["iro_allocations"]
    a = a[open_during(a, m.year_start, m.year_end)]
    n = a.groupby("child_id")["iro_id"].nunique().reindex(m.cla_at_year_end, fill_value=0)
    labels = n.clip(upper=3).map({0: "none recorded", 1: "1", 2: "2", 3: "3 or more"})
    order = ["none recorded", "1", "2", "3 or more"]
    c = labels.value_counts().reindex(order, fill_value=0)
    return pd.DataFrame({"iros": order, "children": c.to_numpy(dtype="int64")})

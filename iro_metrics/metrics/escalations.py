"""Resolving concerns: the IRO dispute resolution process (``metrics.md`` §6)."""

from __future__ import annotations

import pandas as pd

from iro_metrics import spec
from iro_metrics.dates import add_working_days, working_days_between
from iro_metrics.metrics.registry import Indicator, count, metric, percent, table
from iro_metrics.model import Model

NEEDS = ("escalations",)
RESOLUTION_WORKING_DAYS = 20


def _raised(m: Model) -> pd.DataFrame:
    e = m.data["escalations"]
    return e[(e["date_raised"] >= m.year_start) & (e["date_raised"] <= m.year_end)]


def _resolved(m: Model) -> pd.DataFrame:
    e = m.data["escalations"]
    return e[e["date_resolved"].notna() & (e["date_resolved"] >= m.year_start) & (e["date_resolved"] <= m.year_end)]


@metric("escalations_raised", "Escalations raised", "escalations", "count", NEEDS)
def escalations_raised(m: Model) -> Indicator:
    """Escalations (formal or informal challenges by an IRO under the dispute resolution process)
    raised in the year, counted once each at the highest stage reached."""
    return count(len(_raised(m)))


@metric("escalations_resolved_within_20wd_pct", "Escalations resolved within 20 working days (%)",
        "escalations", "percent", NEEDS)
def escalations_resolved_within_20wd_pct(m: Model) -> Indicator:
    """Of escalations resolved in the year, the percentage resolved within 20 working days of being
    raised (the IRO Handbook expects the whole process to take no more than 20 working days)."""
    r = _resolved(m)
    deadline = add_working_days(r["date_raised"], RESOLUTION_WORKING_DAYS)
    return percent(int((r["date_resolved"] <= deadline).sum()), len(r))


@metric("escalations_open_at_31_march", "Escalations open at 31 March", "escalations", "count", NEEDS)
def escalations_open_at_31_march(m: Model) -> Indicator:
    """Escalations raised on or before 31 March and not resolved by then."""
    e = m.data["escalations"]
    open_ = (e["date_raised"] <= m.year_end) & (e["date_resolved"].isna() | (e["date_resolved"] > m.year_end))
    return count(int(open_.sum()))


def _by(m: Model, column: str, codes: str) -> pd.DataFrame:
    order = list(spec.labels(codes))
    c = _raised(m)[column].value_counts().reindex(order, fill_value=0)
    return pd.DataFrame({column: [spec.labels(codes)[k] for k in order], "escalations": c.to_numpy(dtype="int64")})


@table("escalations_by_stage", "Escalations raised by highest stage reached", "escalations", NEEDS)
def escalations_by_stage(m: Model) -> pd.DataFrame:
    """Escalations raised in the year by the highest stage reached: informal, formal stages 1 to 3,
    referral to Cafcass."""
    return _by(m, "stage", "ESCALATION_STAGE")


@table("escalations_by_theme", "Escalations raised by theme", "escalations", NEEDS)
def escalations_by_theme(m: Model) -> pd.DataFrame:
    """Escalations raised in the year by the theme of the concern."""
    return _by(m, "theme", "ESCALATION_THEME")


@table("escalations_resolution", "Escalations resolved: working days taken and outcome", "escalations", NEEDS)
def escalations_resolution(m: Model) -> pd.DataFrame:
    """Escalations resolved in the year by outcome, with the median number of working days from
    being raised to resolution."""
    r = _resolved(m)
    days = working_days_between(r["date_raised"], r["date_resolved"])
    order = list(spec.labels("ESCALATION_OUTCOME"))
    g = pd.DataFrame({"outcome": r["outcome"], "days": days.astype("float")}).groupby("outcome")
    out = pd.DataFrame({"escalations": g.size(), "median_working_days": g["days"].median()}).reindex(order)
    out["escalations"] = out["escalations"].fillna(0).astype("int64")
    out.index = [spec.labels("ESCALATION_OUTCOME")[k] for k in out.index]
    return out.rename_axis("outcome").reset_index()

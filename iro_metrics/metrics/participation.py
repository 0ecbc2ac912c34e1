"""Participation of children in their reviews (``metrics.md`` §3)."""

from __future__ import annotations

import pandas as pd

from iro_metrics.dates import age_in_years
from iro_metrics.metrics.registry import Indicator, metric, percent, table
from iro_metrics.metrics.reviews import NEEDS, held_in_year
from iro_metrics.model import Model

CODES = [f"PN{i}" for i in range(8)]
COUNTED = CODES[1:]  # PN0 (under 4) is left out of every denominator


def _codes(m: Model) -> pd.Series:
    return held_in_year(m)["participation"]


def _share(m: Model, numerator_codes: list[str]) -> Indicator:
    c = _codes(m)
    return percent(int(c.isin(numerator_codes).sum()), int(c.isin(COUNTED).sum()))


@metric("participation_pct", "Reviews where the child's views were conveyed (%)", "participation", "percent", NEEDS)
def participation_pct(m: Model) -> Indicator:
    """Reviews held in the year with participation code PN1 to PN6 (the child's views were conveyed
    in some way) as a percentage of reviews coded PN1 to PN7. Reviews coded PN0 (child under 4) are
    left out."""
    return _share(m, CODES[1:7])


@metric("attendance_pct", "Reviews the child attended (%)", "participation", "percent", NEEDS)
def attendance_pct(m: Model) -> Indicator:
    """Reviews held in the year coded PN1 to PN4 (the child attended) as a percentage of reviews
    coded PN1 to PN7."""
    return _share(m, CODES[1:5])


@metric("no_participation_pct", "Reviews with no participation (%)", "participation", "percent", NEEDS)
def no_participation_pct(m: Model) -> Indicator:
    """Reviews held in the year coded PN7 (the child did not attend and their views were not
    conveyed) as a percentage of reviews coded PN1 to PN7."""
    return _share(m, ["PN7"])


@table("participation_by_code", "Reviews held by participation code", "participation", NEEDS)
def participation_by_code(m: Model) -> pd.DataFrame:
    """Reviews held in the year by participation code, PN0 to PN7."""
    c = _codes(m).value_counts().reindex(CODES, fill_value=0)
    return pd.DataFrame({"code": CODES, "reviews": c.to_numpy(dtype="int64")})


@table("participation_by_age", "Participation by age at review", "participation", NEEDS)
def participation_by_age(m: Model) -> pd.DataFrame:
    """Reviews held in the year coded PN1 to PN7, by the child's age on the review date (4 to 9,
    10 to 15, 16 and over): reviews, reviews where views were conveyed (PN1-PN6) and that as a
    percentage."""
    h = held_in_year(m)
    h = h[h["participation"].isin(COUNTED)]
    dob = m.header["dob"].reindex(h["child_id"]).to_numpy()
    age = age_in_years(pd.Series(dob, index=h.index), h["review_date"])
    band = pd.cut(age.astype("float"), [3.5, 9.5, 15.5, 200], labels=["4 to 9", "10 to 15", "16 and over"])
    conveyed = h["participation"].isin(CODES[1:7])
    g = pd.DataFrame({"band": band, "conveyed": conveyed}).groupby("band", observed=False)["conveyed"]
    out = pd.DataFrame({"reviews": g.size(), "conveyed": g.sum()}).astype("int64")
    out["conveyed_pct"] = [percent(c, n).value for c, n in zip(out["conveyed"], out["reviews"], strict=True)]
    return out.rename_axis("age_band").reset_index().assign(age_band=lambda d: d["age_band"].astype(str))

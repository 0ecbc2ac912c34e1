"""Looked-after reviews on the statutory cadence, with a controllable share held late.

Vectorised over periods of care: one step per review in sequence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from iro_metrics.dates import add_months, add_working_days
from iro_metrics.synth.care import YEAR, birthday, to_dates

PARTICIPATION_MIX = {"PN1": 45, "PN2": 5, "PN3": 3, "PN4": 5, "PN5": 12, "PN6": 20, "PN7": 10}
#: young people of 16 and over more often take no part (PN7)
PARTICIPATION_MIX_16_PLUS = {"PN1": 36, "PN2": 4, "PN3": 3, "PN4": 5, "PN5": 10, "PN6": 17, "PN7": 25}


def _days(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype="datetime64[D]").astype(np.int64)


def simulate_reviews(p: pd.DataFrame, episodes: pd.DataFrame, last_day: int, late_share: float,
                     missed_share: float, rng: np.random.Generator) -> pd.DataFrame:
    """Reviews for every period: first within 20 working days, second within 3 months, then 6-monthly,
    with the adoption reset, each held early, on the day or (with ``late_share``) late. Young people
    of 16 and over take part less often (a difference between groups for the equalities section)."""
    n = len(p)
    start, end = p["start"].to_numpy(), np.minimum(p["end"].to_numpy(), last_day)
    placed = episodes[episodes["PLACE"].isin(["A5", "A6"]) & (episodes["RNE"] != "L")]
    placed = placed.groupby("pid")["DECOM"].min()
    adoption = np.full(n, 10**9, dtype=np.int64)  # no placement for adoption
    adoption[placed.index.to_numpy()] = placed.to_numpy()
    due = _days(add_working_days(to_dates(start), 20))
    prev = start - 1
    short = np.ones(n, dtype=bool)  # the step after this review is 3 months
    active = np.ones(n, dtype=bool)
    out = []
    while active.any():
        i = np.flatnonzero(active)
        pulled = (adoption[i] > prev[i]) & (adoption[i] + 28 < due[i])
        due[i] = np.where(pulled, adoption[i] + 28, due[i])
        u = rng.random(len(i))
        late = u < late_share
        missed = u < missed_share
        offset = np.where(late, rng.integers(1, 35, len(i)), -rng.integers(0, 20, len(i)))
        offset = np.where(missed, rng.integers(40, 120, len(i)), offset)
        date = np.maximum(due[i] + offset, prev[i] + 1)
        date = np.maximum(date, start[i])
        held = date <= end[i]
        j = i[held]
        out.append(pd.DataFrame({"pid": j, "REVIEW": date[held]}))
        after_adoption = (adoption[j] > prev[j]) & (adoption[j] <= date[held])
        months = np.where(short[j] | after_adoption, 3, 6)
        prev[j] = date[held]
        due[j] = _days(add_months(to_dates(date[held]), months))
        short[j] = False
        active[:] = False
        active[j[due[j] <= end[j]]] = True
    r = pd.concat(out, ignore_index=True)
    dob = p["dob"].to_numpy()[r["pid"].to_numpy()]
    four = _days(add_months(to_dates(dob), 48))
    young = r["REVIEW"].to_numpy() < four
    sixteen = r["REVIEW"].to_numpy() >= birthday(dob, 16)
    r["REVIEW_CODE"] = np.where(young, "PN0", _pn(rng, sixteen))
    r["CHILD_IDX"] = p["child"].to_numpy()[r["pid"].to_numpy()]
    r["age"] = (r["REVIEW"].to_numpy() - dob) / YEAR
    return r


def _pn(rng, sixteen: np.ndarray) -> np.ndarray:
    """A participation code per review, from the mix for its age: one uniform draw each, as
    ``rng.choice`` makes, so the random stream (and everything drawn after it) is unchanged."""
    keys = np.array(list(PARTICIPATION_MIX))
    cdf = {}
    for name, mix in (("young", PARTICIPATION_MIX), ("old", PARTICIPATION_MIX_16_PLUS)):
        w = np.array([mix[k] for k in keys], dtype=float)
        cdf[name] = np.cumsum(w / w.sum())
    u = rng.random(len(sixteen))
    pick = np.where(sixteen, np.searchsorted(cdf["old"], u, side="right"),
                    np.searchsorted(cdf["young"], u, side="right"))
    return keys[np.minimum(pick, len(keys) - 1)]

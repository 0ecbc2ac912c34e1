"""The other 903 tables, consistent with the simulated care histories: previous permanence,
missing episodes, placed for adoption, AD1 (adoptions) and OC2 (outcomes after 12 months)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from iro_metrics.synth.care import YEAR, _choice, birthday

ADOPTERS = [  # (number, sex, legal status, weight): combinations the DfE rules accept
    (1, "F1", "L0", 20), (1, "M1", "L0", 3), (2, "MF", "L11", 55), (2, "MF", "L3", 10), (2, "MM", "L12", 4),
    (2, "FF", "L12", 4), (2, "FF", "L4", 4)]


LA_CODES = ["202", "204", "208", "210", "316", "330", "340", "380"]  # DfE 3-digit codes of English councils


def previous_permanence(kids: pd.DataFrame, rng) -> pd.DataFrame:
    """One row per child: most had no previous permanence order; an order has its date and council."""
    n = len(kids)
    perm = _choice(rng, {"Z1": 92, "P2": 5, "P3": 2, "P1": 1}, n)
    before = kids["first_start"].to_numpy() - rng.integers(200, 2000, n)
    before = np.maximum(before, kids["dob"].to_numpy() + 1)
    has_order = perm != "Z1"
    return pd.DataFrame({"CHILD_IDX": kids.index.to_numpy(), "PREV_PERM": perm,
                         "DATE_PERM": np.where(has_order, before, -1),
                         "LA_PERM": np.where(has_order, np.array(LA_CODES)[rng.integers(0, len(LA_CODES), n)], "")})


def missing(p: pd.DataFrame, rng) -> pd.DataFrame:
    """Missing or away-without-authorisation episodes of teenagers, within their periods of care."""
    start, end, dob = p["start"].to_numpy(), p["end"].to_numpy(), p["dob"].to_numpy()
    from_11 = np.maximum(start + 7, dob + int(11 * YEAR))
    span = end - 10 - from_11
    rate = np.minimum(0.6 * rng.gamma(0.3, 1 / 0.3, len(p)), 6.0)
    n = np.where(span > 0, rng.poisson(rate * np.maximum(span, 0) / YEAR), 0)
    pid = np.repeat(np.arange(len(p)), n)
    begin = from_11[pid] + (rng.random(len(pid)) * span[pid]).astype(np.int64)
    m = pd.DataFrame({"pid": pid, "MIS_START": begin, "MIS_END": begin + rng.integers(0, 5, len(pid))})
    m = m.sort_values(["pid", "MIS_START"], kind="stable")
    latest_end = m.groupby("pid")["MIS_END"].cummax().groupby(m["pid"]).shift()
    m = m[~(m["MIS_START"] <= latest_end + 1).to_numpy()]  # never overlapping an earlier one
    # none open across a year end: a return holds no missing episode still open at 31 March
    starts = pd.to_datetime(m["MIS_START"], unit="D")
    year_end = pd.to_datetime((starts.dt.year + (starts.dt.month > 3)).astype(str) + "-03-31")
    m = m[(m["MIS_END"] <= (year_end - pd.Timestamp("1970-01-01")).dt.days).to_numpy()]
    m["MISSING"] = _choice(rng, {"M": 70, "A": 30}, len(m))
    m["CHILD_IDX"] = p["child"].to_numpy()[m["pid"].to_numpy()]
    return m.reset_index(drop=True)


def adoption(p: pd.DataFrame, episodes: pd.DataFrame, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The decision to place for adoption (PlacedAdoption) and the adoption itself (AD1)."""
    a = p[p["adoption"]]
    dur = (a["natural_end"] - a["start"]).to_numpy()
    decided = a["start"].to_numpy() + (0.35 * dur).astype(np.int64)
    # the decision comes before the placement order or the placement for adoption (rules 551, 553)
    order = episodes[episodes["LS"].isin(["E1", "D1"]) | episodes["PLACE"].isin(["A3", "A4", "A5", "A6"])]
    first_order = order.groupby("pid")["DECOM"].min().reindex(a.index).to_numpy()
    decided = np.where(np.isnan(first_order), decided,
                       np.maximum(a["start"].to_numpy(), np.fmin(decided, first_order - 1))).astype(np.int64)
    placed = episodes[episodes["PLACE"].isin(["A5", "A6"]) & (episodes["RNE"] != "L")]
    placed = placed.groupby("pid").agg(placed=("DECOM", "min"), same_carer=("PLACE", lambda s: s.iloc[0] == "A5"))
    placed = placed.reindex(a.index)
    decisions = pd.DataFrame({"pid": a.index.to_numpy(), "CHILD_IDX": a["child"].to_numpy(), "DATE_PLACED": decided})
    combo = rng.choice(len(ADOPTERS), size=len(a), p=np.array([c[3] for c in ADOPTERS]) / sum(c[3] for c in ADOPTERS))
    # (a child still waiting at the end of the data has no placement yet: no AD1 row is written for them)
    placed_day = placed["placed"].fillna(pd.Series(decided + 200, index=a.index)).to_numpy()
    match = np.maximum(decided, placed_day - rng.integers(10, 60, len(a)))
    ad1 = pd.DataFrame({
        "pid": a.index.to_numpy(), "CHILD_IDX": a["child"].to_numpy(), "adopted": a["end"].to_numpy(),
        "DATE_INT": decided, "DATE_MATCH": match, "FOSTER_CARE": placed["same_carer"].fillna(False).astype(int).to_numpy(),
        "NB_ADOPTR": [ADOPTERS[i][0] for i in combo], "SEX_ADOPTR": [ADOPTERS[i][1] for i in combo],
        "LS_ADOPTR": [ADOPTERS[i][2] for i in combo]})
    return decisions, ad1


def oc2(p: pd.DataFrame, y0: int, y1: int, rng) -> pd.DataFrame:
    """Outcomes for children looked after continuously for 12 months at 31 March: in care on 1 April
    and on 31 March, and neither starting nor leaving in between (the DfE validator's reading)."""
    moved = p[((p["start"] > y0) & (p["start"] <= y1)) | ((p["end"] >= y0) & (p["end"] < y1))]["child"]
    cohort = p[(p["start"] <= y0) & (p["end"] >= y1) & ~p["child"].isin(set(moved))]
    n = len(cohort)
    dob = cohort["dob"].to_numpy()
    age = (y1 - dob) / YEAR
    four, five = birthday(dob, 4), birthday(dob, 5)
    seventeen = birthday(dob, 17)
    yes = lambda share: (rng.random(n) < share).astype(float)  # noqa: E731
    substance = np.where(age >= 11, yes(0.04), 0.0)
    received = np.where(substance == 1, yes(0.6), np.nan)
    sdq_age = (four <= y1) & (seventeen >= y0)
    has_score = sdq_age & (rng.random(n) < 0.85)
    blank = np.full(n, np.nan)
    return pd.DataFrame({
        "CHILD_IDX": cohort["child"].to_numpy(),
        "SDQ_SCORE": np.where(has_score, rng.integers(0, 41, n), np.nan),
        "SDQ_REASON": np.where(sdq_age & ~has_score, _choice(rng, {"SDQ2": 30, "SDQ4": 40, "SDQ5": 30}, n), None),
        "CONVICTED": np.where(age >= 10, yes(0.02), blank),
        "HEALTH_CHECK": np.where(five > y1, yes(0.9), blank),
        "IMMUNISATIONS": yes(0.88), "TEETH_CHECK": yes(0.8), "HEALTH_ASSESSMENT": yes(0.9),
        "SUBSTANCE_MISUSE": substance,
        "INTERVENTION_RECEIVED": received,
        # offered is asked only when no intervention was received (DfE rules 158, 159)
        "INTERVENTION_OFFERED": np.where(received == 0, yes(0.7), blank),
    })


SW_CHANGE_REASONS = {"MANAGE": 25, "LEFTRL": 30, "ORGRST": 8, "TSPROC": 20, "ABSENC": 5, "CHCHAN": 3, "PCCHAN": 2,
                     "OTHERS": 7}


def _not_late_march(days: np.ndarray) -> np.ndarray:
    """Changes of worker are not dated in the last week of March: the DfE queries a worker episode
    ending then as a missing next episode (rules SW11a/b), so they move into April."""
    d = pd.to_datetime(pd.Series(days), unit="D")
    late = ((d.dt.month == 3) & (d.dt.day >= 24)).to_numpy()
    return np.where(late, days + 10, days)


def social_workers(p: pd.DataFrame, rng) -> pd.DataFrame:
    """Each child's social worker episodes: one unbroken chain from their first day in care to their
    last (a worker stays while a child is home between periods), changing every so often."""
    c = p.groupby("child").agg(first=("start", "min"), last=("end", "max"), open=("open", "max"))
    span = (c["last"] - c["first"]).to_numpy()
    n_changes = rng.poisson(0.6 * span / YEAR)
    child = np.repeat(c.index.to_numpy(), n_changes + 1)
    seq = np.concatenate([np.arange(k + 1) for k in n_changes]) if len(c) else np.array([], dtype=int)
    first = c["first"].to_numpy()[np.searchsorted(c.index.to_numpy(), child)]
    cspan = span[np.searchsorted(c.index.to_numpy(), child)]
    start = np.where(seq == 0, first, first + (rng.random(len(child)) * cspan).astype(np.int64))
    start = np.where(seq == 0, start, _not_late_march(start))
    sw = pd.DataFrame({"CHILD_IDX": child, "SW_DECOM": start}).sort_values(["CHILD_IDX", "SW_DECOM"], kind="stable")
    sw = sw[~(sw["CHILD_IDX"].eq(sw["CHILD_IDX"].shift()) & (sw["SW_DECOM"] - sw["SW_DECOM"].shift() < 14))]
    nxt = sw.groupby("CHILD_IDX")["SW_DECOM"].shift(-1)
    last = c.loc[sw["CHILD_IDX"], "last"].to_numpy()
    still_open = c.loc[sw["CHILD_IDX"], "open"].to_numpy()
    sw["SW_DEC"] = np.where(nxt.notna(), nxt.fillna(0).to_numpy(), np.where(still_open, -1, last)).astype(np.int64)
    ending = (sw["SW_DEC"] >= 0).to_numpy() & nxt.isna().to_numpy()
    sw.loc[ending, "SW_DEC"] = _not_late_march(sw.loc[ending, "SW_DEC"].to_numpy())
    first_of_child = ~sw["CHILD_IDX"].eq(sw["CHILD_IDX"].shift()).to_numpy()
    sw["SW_REASON"] = np.where(first_of_child, "FCONTA", _choice(rng, SW_CHANGE_REASONS, len(sw)))
    workers = max(5, len(c) // 40)
    sw["SW_ID"] = np.char.add("SW", np.char.zfill(rng.integers(1, workers + 1, len(sw)).astype(str), 5))
    return sw.reset_index(drop=True)


ACTIVITY = {"F2": 20, "P2": 5, "F5": 15, "P5": 8, "F4": 5, "F1": 7, "G4": 10, "G5": 22, "G6": 8}
ACCOMMODATION = {"D1": 25, "E1": 10, "U1": 20, "B1": 12, "Z1": 15, "C1": 5, "K1": 3, "S2": 2, "X2": 2, "D2": 3,
                 "U2": 3}


def care_leavers(p: pd.DataFrame, episodes: pd.DataFrame, y0: int, y1: int, rng) -> pd.DataFrame:
    """OC3 at the 19th birthday for young people who left care at 18 in the previous collection year
    and were "relevant" (13 weeks or more in care after their 14th birthday, counted, as the DfE rules
    count it, over the episodes of last year's return): the cohort the DfE rules expect (episodes in
    last year's return, rules 1001, 1002 and 1016), most in touch."""
    year_before = int(birthday(np.array([y0]), -1)[0])
    shown = episodes[(episodes["DEC"] >= year_before) | (episodes["DEC"] < 0)].groupby("pid")["DECOM"].min()
    seen_from = shown.reindex(p.index).fillna(np.iinfo(np.int64).max // 2).to_numpy()
    after_14 = p["end"] - np.maximum(seen_from, birthday(p["dob"].to_numpy(), 14))
    c = p[p["at18"] & ~p["open"] & (p["end"] >= year_before) & (p["end"] < y0) & (after_14 >= 91)]
    n = len(c)
    touch = _choice(rng, {"YES": 90, "NO": 6, "REFU": 4}, n)
    in_touch = touch == "YES"
    return pd.DataFrame({"CHILD_IDX": c["child"].to_numpy(), "IN_TOUCH": touch, "ACTIV": np.where(in_touch, _choice(rng, ACTIVITY, n), "0"),
                         "ACCOM": np.where(in_touch, _choice(rng, ACCOMMODATION, n), "0")})

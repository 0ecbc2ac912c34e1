"""Placement stability of the children looked after on 31 March tuned to a council's published numbers
(``synth --like``; ``metrics.md`` §4).

The long-term cohort (under 16, looked after for 2.5 years) is made when the children are chosen
(``calibrate.py``); here the children with the same carer for 2 years and the children with 3 or more
placements in the year are brought to the published numbers without changing anyone's legal status or
placement category on 31 March: a child gets a new carer of the same placement type (a new episode,
RNE P), or loses placement moves (the episodes of the moves folded into the one before, a change of
carer and legal status becoming a change of legal status only, RNE L). Moves are counted as the build
counts them (``iro_metrics/model/episodes.py``): RNE P, B, T or U, not a temporary placement, nor the
return from one, nor placement for adoption with the current carer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from iro_metrics.spec import codes_where
from iro_metrics.synth.care import REASON_PLACE_CHANGE, _choice, birthday, day, draw_providers, draw_urns, postcodes
from iro_metrics.synth.recode import rules
from iro_metrics.years import CollectionYear

GAP = 3  # days between two episodes' starts, at least
PLACEMENT_FIELDS = ["PLACE", "PLACE_PROVIDER", "URN", "PL_POST"]
SAME_CARER_ADOPTION = {"A3", "A5"}
KEEP_CARER = {"P1", "A3", "A4", "A5", "A6"}  # placements whose carer is never changed here
LONG_TERM_MONTHS, SAME_CARER_MONTHS = 30, 24


def _months_before(year: CollectionYear, months: int) -> int:
    return day(pd.Timestamp(year.end) - pd.DateOffset(months=months))


def annotate(ep: pd.DataFrame, first: int) -> pd.DataFrame:
    """The episodes the returns show (open on or after ``first``), sorted, with ``move`` (a placement
    move), ``carer_start`` and ``seen_start`` (the period's first episode shown)."""
    e = ep[(ep["DEC"] < 0) | (ep["DEC"] >= first)].sort_values(["pid", "DECOM"], kind="stable")
    temp = e["PLACE"].isin(codes_where("PLACE", temporary=True)).to_numpy()
    pid = e["pid"].to_numpy()
    same = np.r_[False, pid[1:] == pid[:-1]]
    held = e["PLACE"].where(~temp).groupby(e["pid"]).ffill().groupby(e["pid"]).shift().to_numpy()
    prev_temp = np.r_[False, temp[:-1]] & same
    back = prev_temp & ~temp & (e["PLACE"].to_numpy() == held)
    move = (e["RNE"].isin(["P", "B", "T", "U"]).to_numpy() & same & ~temp & ~back
            & ~e["PLACE"].isin(SAME_CARER_ADOPTION).to_numpy())
    new_carer = ~same | (move & e["RNE"].isin(["P", "B"]).to_numpy())
    e = e.assign(move=move, temp=temp, back=back)
    e["carer_start"] = e["DECOM"].where(new_carer).groupby(e["pid"]).ffill()
    e["seen_start"] = e.groupby("pid")["DECOM"].transform("min")
    return e


def measures(p: pd.DataFrame, ep: pd.DataFrame, children: np.ndarray, years: list[CollectionYear]
             ) -> pd.DataFrame:
    """Per child looked after on 31 March (the current episode's index in ``ep``): placements in the
    year, in the long-term cohort, with the same carer for 2 years."""
    year = years[-1]
    y0, y1 = day(year.start), day(year.end)
    e = annotate(ep, day(years[0].start))
    cur = e[(e["DECOM"] <= y1) & ((e["DEC"] < 0) | (e["DEC"] > y1)) & e["CHILD_IDX"].isin(children)]
    periods = p[(p["start"] <= y1) & (p["end"] >= y0)].groupby("child").size()
    moves = e[e["move"] & (e["DECOM"] >= y0) & (e["DECOM"] <= y1)].groupby("CHILD_IDX").size()
    dob = p["dob"].to_numpy()[cur["pid"].to_numpy()]
    child = cur["CHILD_IDX"]
    cohort = (birthday(dob, 16) > y1) & (cur["seen_start"] <= _months_before(year, LONG_TERM_MONTHS)).to_numpy()
    stable = cohort & (cur["carer_start"] <= _months_before(year, SAME_CARER_MONTHS)).to_numpy()
    placements = periods.reindex(child, fill_value=0).to_numpy() + moves.reindex(child, fill_value=0).to_numpy()
    return pd.DataFrame({"child": child.to_numpy(), "pid": cur["pid"].to_numpy(), "placements": placements,
                         "cohort": cohort, "stable": stable,
                         "DECOM": cur["DECOM"].to_numpy(), "PLACE": cur["PLACE"].to_numpy(), "dob": dob},
                        index=cur.index)


def tune(p: pd.DataFrame, ep: pd.DataFrame, wanted: dict[str, int | None], children: np.ndarray,
         years: list[CollectionYear], rng: np.random.Generator) -> pd.DataFrame:
    """Episodes with the published number of children with the same carer for 2 years (``stable``)
    and of children with 3 or more placements in the year (``three``), where published."""
    year = years[-1]
    y0, y1 = day(year.start), day(year.end)
    two_years = _months_before(year, SAME_CARER_MONTHS)
    m = measures(p, ep, children, years)
    if wanted.get("stable") is not None:
        gap = int(m["stable"].sum()) - wanted["stable"]
        if gap > 0:  # a new carer (same placement type) in the last two years
            free = m[m["stable"] & ~m["PLACE"].isin(KEEP_CARER) & (m["DECOM"] < y1 - 2 * GAP)]
            pick = free.sample(frac=1, random_state=rng).index[:gap]
            lo = np.maximum(m.loc[pick, "DECOM"].to_numpy() + GAP, two_years + 1)
            hi = np.where(lo <= y0 - GAP, y0 - GAP, y1 - GAP)  # before the year where it can be
            ep = _new_carer(ep, pick, lo + (rng.random(len(pick)) * (hi - lo)).astype(np.int64), rng)
        elif gap < 0:
            ep = _settle(ep, m[m["cohort"] & ~m["stable"]], -gap, two_years, day(years[0].start), rng)
        m = measures(p, ep, children, years)
    if wanted.get("three") is not None:
        for _ in range(3):  # a child may need two moves more, or two less
            three = m["placements"] >= 3
            gap = int(three.sum()) - wanted["three"]
            if gap < 0:
                free = m[~three & ~m["stable"] & ~m["PLACE"].isin(KEEP_CARER) & (m["DECOM"] < y1 - 2 * GAP)]
                pick = free.sort_values("placements", ascending=False, kind="stable").index[:-gap]
                lo = np.maximum(m.loc[pick, "DECOM"].to_numpy() + GAP, y0)
                ep = _new_carer(ep, pick, lo + (rng.random(len(pick)) * (y1 - GAP - lo)).astype(np.int64), rng)
            elif gap > 0:
                ep = _fewer_moves(ep, m[three].sort_values("placements", kind="stable"), gap, y0, y1,
                                  day(years[0].start))
            m = measures(p, ep, children, years)
    return ep


def _new_carer(ep: pd.DataFrame, rows: pd.Index, when: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Each episode in ``rows`` ends on ``when`` (a placement change, with a reason) and a new one with a
    new carer of the same placement type (RNE P) runs on from that day."""
    if not len(rows):
        return ep
    ep = ep.copy()
    after = ep.loc[rows].copy()
    place = after["PLACE"].to_numpy().astype(str)
    after["DECOM"], after["RNE"] = when, "P"
    after["PLACE_PROVIDER"], after["URN"] = draw_providers(rng, place), draw_urns(rng, place)
    after["PL_POST"] = postcodes(rng, len(after))
    ep.loc[rows, "DEC"], ep.loc[rows, "REC"] = when, "X1"
    ep.loc[rows, "REASON_PLACE_CHANGE"] = _choice(rng, REASON_PLACE_CHANGE, len(rows))
    ep = pd.concat([ep, after], ignore_index=True)
    return ep.sort_values(["CHILD_IDX", "DECOM"], kind="stable").reset_index(drop=True)


def _settle(ep: pd.DataFrame, unstable: pd.DataFrame, n: int, two_years: int, first: int,
            rng: np.random.Generator) -> pd.DataFrame:
    """``n`` of the ``unstable`` children have had their current carer for two years: from the start of
    the carer they had two years ago, every episode takes the current carer's placement fields, the
    moves since are folded away and a change of carer and legal status becomes one of legal status only
    (RNE L). Placement on 31 March is unchanged; children placed with a parent or an adopter, or whose
    current placement they were too young for then, keep their history."""
    floors = {code: rule.get("min_age", 0) for rule in rules()["placement"].values() for code in rule["codes"]}
    e = annotate(ep, first)
    then = e[(e["DECOM"] <= two_years) & ((e["DEC"] < 0) | (e["DEC"] > two_years))].set_index("pid")
    full = ep.sort_values(["pid", "DECOM"], kind="stable")
    fits = []
    for row, u in unstable.sample(frac=1, random_state=rng).iterrows():
        if len(fits) == n:
            break
        if u["pid"] not in then.index or u["PLACE"] in KEEP_CARER or e.at[row, "temp"]:
            continue
        history = full[full["pid"] == u["pid"]]
        k = int(np.searchsorted(history["DECOM"].to_numpy(), then.at[u["pid"], "carer_start"]))
        while k > 0 and history["RNE"].iloc[k] == "L":  # back to the carer's first episode
            k -= 1
        chain = history.iloc[k:]
        if birthday(np.array([u["dob"]]), floors.get(u["PLACE"], 0))[0] <= chain["DECOM"].iloc[0]:
            fits.append((row, chain))
    ep = ep.copy()
    drop = []
    for row, chain in fits:
        ep.loc[chain.index, PLACEMENT_FIELDS] = ep.loc[row, PLACEMENT_FIELDS].to_numpy()
        later = chain.iloc[1:]
        drop += later.index[later["RNE"].isin(["P", "T", "U"])].tolist()
        ep.loc[later.index[later["RNE"] == "B"], "RNE"] = "L"
    return _fold(ep, pd.Index(drop))


def _fewer_moves(ep: pd.DataFrame, busy: pd.DataFrame, n: int, y0: int, y1: int, first: int) -> pd.DataFrame:
    """``n`` of the ``busy`` children (3 or more placements) lose one move in the year: a move to a new
    carer (RNE P) followed by another move, folded into the episode before it."""
    e = annotate(ep, first)
    nxt_move = e.groupby("pid")["move"].shift(-1).fillna(False).astype(bool)
    nxt_temp = e.groupby("pid")["temp"].shift(-1).fillna(False).astype(bool)
    prev_temp = e.groupby("pid")["temp"].shift().fillna(False).astype(bool)
    foldable = (e["move"] & (e["RNE"] == "P") & nxt_move & ~nxt_temp & ~prev_temp
                & (e["DECOM"] >= y0) & (e["DECOM"] <= y1))
    drop = []
    for pid in busy["pid"]:
        hit = e.index[foldable & (e["pid"] == pid)]
        if len(hit) and len(drop) < n:
            drop.append(hit[0])
    return _fold(ep, pd.Index(drop))


def _fold(ep: pd.DataFrame, drop: pd.Index) -> pd.DataFrame:
    """Episodes in ``drop`` removed, the episode before each taking its end (DEC, REC, reason); an
    episode followed by a change of legal status only gives no reason for a placement change."""
    if not len(drop):
        return ep
    ep = ep.sort_values(["pid", "DECOM"], kind="stable")
    gone = ep.index.isin(drop)
    keep_id = pd.Series(np.where(gone, np.nan, np.arange(len(ep))), index=ep.index)
    owner = keep_id.groupby(ep["pid"]).ffill()  # the kept episode each dropped one folds into
    ends = ep.assign(owner=owner.to_numpy()).groupby("owner").tail(1).set_index("owner")
    ends = ends[["DEC", "REC", "REASON_PLACE_CHANGE"]]
    out = ep[~gone].copy()
    own = np.arange(len(ep))[~gone].astype(float)
    out[["DEC", "REC", "REASON_PLACE_CHANGE"]] = ends.reindex(own).to_numpy()
    for col in ("REC", "REASON_PLACE_CHANGE"):  # blanks stay None, as the generator writes them
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    nxt = out.groupby("pid")["RNE"].shift(-1)
    out.loc[(nxt == "L").to_numpy(), "REASON_PLACE_CHANGE"] = None
    return out.sort_values(["CHILD_IDX", "DECOM"], kind="stable").reset_index(drop=True)

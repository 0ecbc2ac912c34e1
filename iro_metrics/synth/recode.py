"""Legal status and placement on 31 March recoded to a council's published numbers (``synth --like``).

Each child looked after on 31 March keeps their legal status and placement while the published number
of their category allows; the others are moved to categories short of children, each to one it is
compatible with (``like.yaml``: age, UASC, the legal status a placement needs), along chains of moves
where no spare child fits. A moved child gets a new episode in the year (RNE L for a legal status only,
P for a placement only, B for both, T or U for a placement with the same carer; the episode before it ends X1 with a reason for the placement
change), or, where the current episode is the period's first (RNE S), that episode is recoded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from iro_metrics.comparators import numeric
from iro_metrics.comparators.reconcile import categories
from iro_metrics.errors import UsageError
from iro_metrics.shipped import read_yaml
from iro_metrics.spec import valid_codes
from iro_metrics.synth.care import (REASON_PLACE_CHANGE, TEMPORARY, YEAR, _choice, birthday, day, draw_providers,
                                    draw_urns, postcodes)
from iro_metrics.years import CollectionYear

LIKE = Path(__file__).with_name("like.yaml")
GAP = 1  # days between an episode's start and the next one's, at least
BREAKDOWNS = {"legal_status": "LS", "placement": "PLACE"}


@cache
def rules(path: Path = LIKE) -> dict:
    """How each published category is dealt (``like.yaml``)."""
    return read_yaml(path)


def _category_of(breakdown: str) -> dict[str, str]:
    return {code: label for label, codes in categories()[breakdown]["categories"].items() for code in codes}


def caps(breakdown: str, known: dict[str, dict[str, int]]) -> dict[str, int]:
    """The most children a category of ``breakdown`` can hold given the breakdowns ``known`` already
    (placed for adoption: no more than have a placement order)."""
    ls = known.get("legal_status")
    if breakdown != "placement" or ls is None:
        return {}
    ls_categories = categories()["legal_status"]["categories"]
    return {label: sum(n for lab, n in ls.items() if set(ls_categories[lab]) & set(rule["legal_status"]))
            for label, rule in rules()["placement"].items() if "legal_status" in rule}


def floors(breakdown: str, published: dict[str, dict[str, str]]) -> dict[str, int]:
    """The fewest children a legal status can hold given the published placements (a placement order:
    at least the children published as placed for adoption)."""
    if breakdown != "legal_status" or "placement" not in published:
        return {}
    ls_categories = categories()["legal_status"]["categories"]
    out: dict[str, int] = {}
    for label, rule in rules()["placement"].items():
        n = numeric(published["placement"].get(label, ""))
        needed = [lab for lab, codes in ls_categories.items() if set(codes) & set(rule.get("legal_status", []))]
        if n is not None and len(needed) == 1:
            out[needed[0]] = max(out.get(needed[0], 0), int(n))
    return out


def _floor(cur: pd.DataFrame, rule: dict) -> np.ndarray:
    """The first day an episode of the category can start, per child: within the years, at its minimum
    age, not before ``from_day``."""
    lo = cur["first"].to_numpy()  # within the years the returns show
    if rule.get("min_age"):
        lo = np.maximum(lo, birthday(cur["dob"].to_numpy(), int(rule["min_age"])))
    if rule.get("from_day"):
        lo = np.maximum(lo, day(rule["from_day"]))
    return lo


def _compatible(cur: pd.DataFrame, breakdown: str, y1: int, ls_label: pd.Series | None = None) -> pd.DataFrame:
    """Per child and category of ``breakdown``: whether the child may be in it on 31 March."""
    out = {}
    age = (y1 - cur["dob"].to_numpy()) / YEAR
    decom = cur["DECOM"].to_numpy()
    first = (cur["RNE"] == "S").to_numpy()
    ls_categories = categories()["legal_status"]["categories"]
    ls_rules = rules()["legal_status"]
    for label, rule in rules()[breakdown].items():
        ok = (age >= rule.get("min_age", 0)) & (age < rule.get("max_age", 99) + 1)
        if rule.get("uasc") is False:
            ok &= ~cur["uasc"].to_numpy()
        if "cohort_from" in rule:
            ok &= (~cur["cohort"].to_numpy() | (cur[f"{breakdown}_now"] == label).to_numpy()
                   | cur["PLACE"].isin(rule["cohort_from"]).to_numpy())
        if rule.get("within_days"):
            ok &= first & (cur["start"].to_numpy() >= y1 - int(rule["within_days"]))
        floor = _floor(cur, rule)
        ok &= (first & (decom >= floor)) | (np.maximum(decom + GAP, floor) <= y1 - GAP)
        if ls_label is not None and "legal_status" in rule:
            needed = [lab for lab, codes in ls_categories.items() if set(codes) & set(rule["legal_status"])]
            ok &= ls_label.isin(needed).to_numpy()
        if ls_label is not None:
            allowed = [ls_rules.get(lab, {}).get("placements") for lab in ls_label]
            ok &= np.array([a is None or label in a for a in allowed], dtype=bool)
        out[label] = ok
    df = pd.DataFrame(out, index=cur.index)
    recent = ~first & (decom >= y1 - GAP)  # no room for another episode: stays where they are
    for label in df.columns:
        df.loc[recent, label] = (cur.loc[recent, f"{breakdown}_now"] == label).to_numpy()
    return df


def assign(current: pd.Series, wanted: dict[str, int], ok: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    """A category per child: ``wanted`` children in each, each in a category ``ok`` allows, as few
    children moved as the chains of moves need."""
    order = rng.permutation(len(current))
    kids = current.index[order]
    options = ok.loc[kids].sum(axis=1)
    kids = kids[np.argsort(options.to_numpy(), kind="stable")]  # the least flexible keep their place first
    out: dict = dict.fromkeys(kids)
    filled = dict.fromkeys(wanted, 0)
    for k in kids:
        c = current[k]
        if c in filled and ok.at[k, c] and filled[c] < wanted[c]:
            out[k] = c
            filled[c] += 1
    pool = [k for k in kids if out[k] is None]
    members = {c: [k for k in kids if out[k] == c] for c in wanted}
    for target in sorted(wanted, key=lambda c: ok.loc[pool, c].sum() if pool else 0):
        while filled[target] < wanted[target]:
            path = _chain(pool, members, ok, target)
            if path is None:
                raise UsageError(f"no child can be placed in '{target}' (published {wanted[target]}) "
                                 "with the ages and legal statuses simulated")
            for child, src, dst in path:
                (pool if src is None else members[src]).remove(child)
                members[dst].append(child)
                out[child] = dst
            filled[target] += 1
    return pd.Series(out, dtype=object).reindex(current.index)


def _chain(pool: list, members: dict[str, list], ok: pd.DataFrame, target: str) -> list | None:
    """The shortest chain of moves that takes a child from the pool and fills ``target``: [(child, from
    category or None for the pool, to category)...], breadth first over categories."""
    seen = {None: None}
    queue = deque([None])
    while queue:
        src = queue.popleft()
        kids = pool if src is None else members[src]
        for dst in members:
            if dst in seen or dst == src:
                continue
            child = next((k for k in kids if ok.at[k, dst]), None)
            if child is None:
                continue
            seen[dst] = (src, child)
            if dst == target:
                path, node = [], dst
                while node is not None:
                    prev, moved = seen[node]
                    path.append((moved, prev, node))
                    node = prev
                return path[::-1]
            queue.append(dst)
    return None


def recode(p: pd.DataFrame, ep: pd.DataFrame, wanted: dict[str, dict[str, int]], children: np.ndarray,
           years: list[CollectionYear], rng: np.random.Generator, cohort: Collection[int] = ()
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Periods and episodes with the published legal status and placement of the ``children`` looked
    after on 31 March of the last of ``years`` (``wanted``: breakdown -> category -> children). New
    episodes start within the years, so that the returns show the episode each follows. Children in
    ``cohort`` (the long-term stability cohort) come to a category with ``cohort_from`` only from those
    placements."""
    if not any(b in wanted for b in BREAKDOWNS):
        return p, ep
    year = years[-1]
    y1 = day(year.end)
    dec = ep["DEC"].to_numpy()
    now = (ep["DECOM"].to_numpy() <= y1) & ((dec < 0) | (dec > y1)) & ep["CHILD_IDX"].isin(children).to_numpy()
    cur = ep[now].copy()
    cur["dob"] = p["dob"].to_numpy()[cur["pid"].to_numpy()]
    cur["uasc"] = p["uasc"].to_numpy()[cur["pid"].to_numpy()]
    cur["start"] = p["start"].to_numpy()[cur["pid"].to_numpy()]
    cur["first"] = day(years[0].start)
    cur["cohort"] = cur["CHILD_IDX"].isin(cohort).to_numpy()
    new = {}
    for breakdown, field in BREAKDOWNS.items():
        cur[f"{breakdown}_now"] = cur[field].map(_category_of(breakdown))
    ls_label = cur["legal_status_now"]
    for breakdown, field in BREAKDOWNS.items():
        ok = _compatible(cur, breakdown, y1, ls_label if breakdown == "placement" else None)
        if breakdown in wanted:
            try:
                target = assign(cur[f"{breakdown}_now"], wanted[breakdown], ok, rng)
            except UsageError:  # the long-term cohort's carers give way (stability within a child or two)
                ok = _compatible(cur.assign(cohort=False), breakdown, y1, ls_label if breakdown == "placement" else None)
                target = assign(cur[f"{breakdown}_now"], wanted[breakdown], ok, rng)
        else:
            target = cur[f"{breakdown}_now"]
        moved = target != cur[f"{breakdown}_now"]
        codes = cur[field].copy()
        for label, rule in rules()[breakdown].items():
            sel = moved & (target == label)
            same = rule.get("same_carer", {})
            valid = {c: w for c, w in rule["codes"].items() if c in valid_codes(field, year) and c not in same}
            codes[sel] = _choice(rng, valid, int(sel.sum()))
            for code, before in same.items():  # e.g. adopted by the foster carer (A5)
                codes[sel & cur["PLACE"].isin(before)] = code
        new[field] = codes
        if breakdown == "legal_status":
            ls_label = target
    ep, p = _rewrite(p, ep, cur, new, y1, rng)
    return p, ep


def _rewrite(p: pd.DataFrame, ep: pd.DataFrame, cur: pd.DataFrame, new: dict[str, pd.Series], y1: int,
             rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The new codes written: the current episode recoded (a period's first) or followed by a new one."""
    ls_changed = new["LS"] != cur["LS"]
    pl_changed = new["PLACE"] != cur["PLACE"]
    changed = cur.index[(ls_changed | pl_changed).to_numpy()]
    if not len(changed):
        return ep, p
    c = cur.loc[changed]
    place = new["PLACE"][changed].to_numpy().astype(str)
    floor = np.full(len(c), np.iinfo(np.int64).min // 2)
    for breakdown, field in BREAKDOWNS.items():
        for rule in rules()[breakdown].values():
            sel = new[field][changed].isin(rule["codes"]).to_numpy()
            floor[sel] = np.maximum(floor[sel], _floor(c[sel], rule))
    decom = c["DECOM"].to_numpy()
    in_place = (c["RNE"] == "S").to_numpy() & (decom >= floor)
    lo = np.maximum(decom + GAP, floor)
    when = np.where(in_place, decom, lo + (rng.random(len(c)) * np.maximum(y1 - GAP - lo, 0)).astype(np.int64))
    rows = c.drop(columns=[x for x in c.columns if x not in ep.columns]).copy()
    rows["DECOM"] = when
    rows["LS"] = new["LS"][changed].to_numpy()
    same_carer = np.isin(place, [code for rule in rules()["placement"].values() for code in rule.get("same_carer", {})])
    moves = pl_changed[changed].to_numpy()
    rows.loc[moves, "PLACE"] = place[moves]
    moves_on = moves & ~same_carer  # a new carer
    rows.loc[moves_on, "PLACE_PROVIDER"] = draw_providers(rng, place[moves_on])
    rows.loc[moves_on, "URN"] = draw_urns(rng, place[moves_on])
    rows.loc[moves_on, "PL_POST"] = postcodes(rng, int(moves_on.sum()))
    home = rows["PLACE"] == "P1"
    rows.loc[home, "PL_POST"] = rows.loc[home, "HOME_POST"]
    both, ls_only = moves & ls_changed[changed].to_numpy(), ~moves
    rne = np.where(same_carer, np.where(both, "U", "T"), np.where(both, "B", np.where(ls_only, "L", "P")))
    rows["RNE"] = np.where(in_place, "S", rne)
    ep = ep.copy()
    ep.loc[changed[in_place]] = rows[in_place]
    ended = changed[~in_place]
    ep.loc[ended, "DEC"] = when[~in_place]
    ep.loc[ended, "REC"] = "X1"
    gives_reason = moves[~in_place] & (ep.loc[ended, "PLACE"] != TEMPORARY).to_numpy()
    ep.loc[ended, "REASON_PLACE_CHANGE"] = np.where(
        gives_reason, _choice(rng, REASON_PLACE_CHANGE, len(ended)), None)
    ep = pd.concat([ep, rows[~in_place]], ignore_index=True)
    p = p.copy()
    adopting = rows["PLACE"].isin(rules()["placement"]["Placed for adoption"]["codes"]) | rows["LS"].isin(["E1", "D1"])
    p.loc[rows.loc[adopting, "pid"].to_numpy(), "adoption"] = True
    return ep.sort_values(["CHILD_IDX", "DECOM"], kind="stable").reset_index(drop=True), p

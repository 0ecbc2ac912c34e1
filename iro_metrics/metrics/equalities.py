"""Equalities: does the IRO service reach every child alike? (``metrics.md`` §9)

Each table is long: one row for all children, then one row per group of each characteristic. A
group is marked for attention when its percentage differs from the whole council's by 10 points
or more and it has at least 20 children (reviews, for review measures). No claim of statistical
significance is made.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from iro_metrics import spec
from iro_metrics.dates import age_in_years
from iro_metrics.metrics.escalations import NEEDS as ESCALATIONS
from iro_metrics.metrics.participation import CODES, COUNTED
from iro_metrics.metrics.population import AGE_BANDS, age_band
from iro_metrics.metrics.registry import percent, round_half_up, table
from iro_metrics.metrics.reviews import NEEDS as REVIEWS
from iro_metrics.metrics.reviews import held_in_year
from iro_metrics.metrics.stability import long_term_cohort, three_or_more_placements
from iro_metrics.model import Model, in_return_window, open_on

TOTAL = "All"  # the characteristic of each table's first row: the whole council
ALL = "All children"
#: groups shown only when someone is in them
FALLBACK = frozenset({"Unknown", "Not known", "Not recorded"})
ATTENTION_POINTS = 10
ATTENTION_MIN = 20
DISABILITY_NEED = "N2"
NOT_RECORDED = "Not recorded"

#: characteristic -> its groups in report order.
GROUPS: dict[str, list[str]] = {
    "Sex": ["Male", "Female", "Unknown"],
    "Age": [b[2] for b in AGE_BANDS] + ["Not known"],
    "Ethnicity": ["White", "Mixed", "Asian", "Black", "Other", "Not known"],
    "UASC": ["UASC", "Not UASC"],
    "Disability": ["Disability", "Other need"],
}
_SEX = {"M": "Male", "F": "Female", "U": "Unknown", "1": "Male", "2": "Female"}


def _sex(m: Model, children: pd.Series) -> pd.Series:
    return children.map(m.header["sex"]).map(_SEX).fillna("Unknown")


def _ethnicity(m: Model, children: pd.Series) -> pd.Series:
    return children.map(m.header["ethnicity"]).map(spec.groups("ETHNIC")).fillna("Not known")


def _uasc(m: Model, children: pd.Series) -> pd.Series:
    u = m.data["uasc"]
    current = set(u.loc[u["uasc_ceased"].isna() | (u["uasc_ceased"] > m.year_end), "child_id"])
    return children.isin(current).map({True: "UASC", False: "Not UASC"})


def _disability(m: Model, period_ids: pd.Series) -> pd.Series:
    """Disability or other need, from the category of need at the start of each period of care."""
    need = period_ids.map(m.periods.set_index("period_id")["category_of_need"])
    return need.eq(DISABILITY_NEED).fillna(False).map({True: "Disability", False: "Other need"})


def _age_band(m: Model, children: pd.Series, on: pd.Series | pd.Timestamp) -> pd.Series:
    dob = pd.Series(children.map(m.header["dob"]).to_numpy(), index=children.index)
    day = on if isinstance(on, pd.Series) else pd.Series(on, index=children.index)
    return age_band(age_in_years(dob, day))


def _long(units: pd.DataFrame, characteristics: list[str], measure: Callable[[pd.DataFrame], dict]) -> pd.DataFrame:
    """One row for all ``units`` then one per group of each characteristic, with ``measure``'s columns."""
    rows = [{"characteristic": TOTAL, "group": ALL, **measure(units)}]
    for ch in characteristics:
        for group in GROUPS[ch]:
            part = units[units[ch] == group]
            if len(part) or group not in FALLBACK:
                rows.append({"characteristic": ch, "group": group, **measure(part)})
    return pd.DataFrame(rows)


def _mark(df: pd.DataFrame, checks: list[tuple[str, str]]) -> pd.DataFrame:
    """Add ``attention``: "Yes" where any (percentage, group size) pair meets the rule, else "No"
    ("" on the all-children row)."""
    flag = pd.Series(False, index=df.index)
    for pct, size in checks:
        overall = df[pct].iloc[0]
        if overall is None or pd.isna(overall):
            continue
        diff = (pd.to_numeric(df[pct], errors="coerce") - overall).abs()
        flag |= (diff >= ATTENTION_POINTS - 1e-9) & (df[size] >= ATTENTION_MIN)
    out = df.assign(attention=flag.map({True: "Yes", False: "No"}))
    out.loc[0, "attention"] = ""
    return out


def _pct(n: int, d: int) -> float | None:
    return percent(n, d).value


def _ints(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return df.astype({c: "int64" for c in cols})


@table("equalities_reviews", "Reviews on time by characteristic", "equalities", REVIEWS)
def equalities_reviews(m: Model) -> pd.DataFrame:
    """Reviews held in the year, on time, late and the percentage on time (of those whose timeliness
    is known, as for all reviews), for all children and by sex, age on the review date (under 1,
    1 to 4, 5 to 9, 10 to 15, 16 and over), ethnic group, UASC on 31 March and disability. The 903
    has no disability field: disability is read from category of need N2 (child's disability) at the
    start of the period of care the review belongs to. A group is marked for attention when its
    percentage differs from all children's by 10 points or more and it had at least 20 reviews."""
    h = held_in_year(m)
    ids = h["child_id"]
    units = pd.DataFrame({
        "Sex": _sex(m, ids), "Age": _age_band(m, ids, h["review_date"]), "Ethnicity": _ethnicity(m, ids),
        "UASC": _uasc(m, ids),
        "Disability": _disability(m, h["period_id"]),
        "on_time": h["on_time"].eq(True).fillna(False), "late": h["on_time"].eq(False).fillna(False),
    })

    def measure(u: pd.DataFrame) -> dict:
        on, late = int(u["on_time"].sum()), int(u["late"].sum())
        return {"reviews": len(u), "on_time": on, "late": late, "on_time_pct": _pct(on, on + late)}

    df = _ints(_long(units, list(GROUPS), measure), ["reviews", "on_time", "late"])
    return _mark(df, [("on_time_pct", "reviews")])


@table("equalities_participation", "Participation in reviews by characteristic", "equalities", REVIEWS)
def equalities_participation(m: Model) -> pd.DataFrame:
    """Reviews held in the year coded PN1 to PN7 (PN0, under 4, is left out), those where the child's
    views were conveyed (PN1 to PN6) and not at all (PN7), and each as a percentage, for all children
    and by sex, ethnic group, UASC on 31 March and disability (category of need N2 at the start of the
    review's period of care); participation by age is in the participation section. A group is
    marked for attention when either percentage differs from all children's by 10 points or more and
    it had at least 20 such reviews."""
    h = held_in_year(m)
    h = h[h["participation"].isin(COUNTED)]
    ids = h["child_id"]
    units = pd.DataFrame({
        "Sex": _sex(m, ids), "Ethnicity": _ethnicity(m, ids), "UASC": _uasc(m, ids),
        "Disability": _disability(m, h["period_id"]),
        "conveyed": h["participation"].isin(CODES[1:7]), "none": h["participation"].eq("PN7"),
    })

    def measure(u: pd.DataFrame) -> dict:
        n, c, z = len(u), int(u["conveyed"].sum()), int(u["none"].sum())
        return {"reviews": n, "conveyed": c, "participation_pct": _pct(c, n),
                "no_participation": z, "no_participation_pct": _pct(z, n)}

    df = _ints(_long(units, ["Sex", "Ethnicity", "UASC", "Disability"], measure),
               ["reviews", "conveyed", "no_participation"])
    return _mark(df, [("participation_pct", "reviews"), ("no_participation_pct", "reviews")])


@table("equalities_stability", "Placement stability by characteristic", "equalities")
def equalities_stability(m: Model) -> pd.DataFrame:
    """Children looked after on 31 March, those with 3 or more placements in the year and that as a
    percentage; children in the long-term stability cohort (under 16, in care 2 and a half years),
    those living with the same carer(s) for 2 years and that as a percentage; for all children and
    by sex, age on 31 March, ethnic group, UASC on 31 March and disability (category of need N2 at the
    start of the current period of care). Both measures are defined in the placement stability
    section. A group is marked for attention when a percentage differs from all children's by 10
    points or more and the group (or its long-term cohort) has at least 20 children."""
    cur = m.cla_episodes_at_year_end
    ids = pd.Series(cur.index, index=cur.index)
    cohort, stable = long_term_cohort(m)
    units = pd.DataFrame({
        "Sex": _sex(m, ids), "Age": _age_band(m, ids, m.year_end), "Ethnicity": _ethnicity(m, ids),
        "UASC": _uasc(m, ids),
        "Disability": _disability(m, cur["period_id"]),
        "three": three_or_more_placements(m).reindex(cur.index), "cohort": cohort, "stable": stable,
    })

    def measure(u: pd.DataFrame) -> dict:
        n, t, c, s = len(u), int(u["three"].sum()), int(u["cohort"].sum()), int(u["stable"].sum())
        return {"children": n, "placements_3plus": t, "placements_3plus_pct": _pct(t, n),
                "long_term_children": c, "long_term_stable": s, "long_term_stability_pct": _pct(s, c)}

    df = _ints(_long(units, list(GROUPS), measure),
               ["children", "placements_3plus", "long_term_children", "long_term_stable"])
    return _mark(df, [("placements_3plus_pct", "children"), ("long_term_stability_pct", "long_term_children")])


@table("equalities_escalations", "Escalations per 100 children by characteristic", "equalities", ESCALATIONS)
def equalities_escalations(m: Model) -> pd.DataFrame:
    """Escalations raised in the year per 100 children looked after during the year, for all children
    and by the child's sex, age (on the date raised for escalations; on 31 March for the children
    looked after during the year) and ethnic group, one decimal. A group is marked for attention when
    its rate differs from all children's by 10 or more per 100 and it has at least 20 children."""
    e = m.data["escalations"]
    e = e[(e["date_raised"] >= m.year_start) & (e["date_raised"] <= m.year_end)]
    ep = m.episodes
    kids = pd.Series(ep.loc[in_return_window(ep, m.year_start, m.year_end), "child_id"].unique())
    esc = pd.DataFrame({"Sex": _sex(m, e["child_id"]), "Age": _age_band(m, e["child_id"], e["date_raised"]),
                        "Ethnicity": _ethnicity(m, e["child_id"])})
    children = pd.DataFrame({"Sex": _sex(m, kids), "Age": _age_band(m, kids, m.year_end),
                             "Ethnicity": _ethnicity(m, kids)})
    rows = [{"characteristic": TOTAL, "group": ALL, "escalations": len(esc), "children": len(children)}]
    for ch in ["Sex", "Age", "Ethnicity"]:
        for group in GROUPS[ch]:
            x, n = int((esc[ch] == group).sum()), int((children[ch] == group).sum())
            if x or n or group not in FALLBACK:
                rows.append({"characteristic": ch, "group": group, "escalations": x, "children": n})
    df = _ints(pd.DataFrame(rows), ["escalations", "children"])
    df["per_100_children"] = [round_half_up(100 * x / n, 1) if n else None
                              for x, n in zip(df["escalations"], df["children"], strict=True)]
    return _mark(df, [("per_100_children", "children")])


@table("iro_workforce_diversity", "IROs and children looked after by sex and ethnicity", "equalities",
       ("iro_staff",))
def iro_workforce_diversity(m: Model) -> pd.DataFrame:
    """IROs in post on 31 March by sex and by ethnic group (number and percentage of all IROs in
    post), beside children looked after on 31 March in the same groups (number and percentage). A
    blank SEX or ETHNIC in the staff records is "Not recorded"."""
    s = m.data["iro_staff"]
    s = s[open_on(s, m.year_end)].drop_duplicates("iro_id", keep="last")
    staff = pd.DataFrame({
        "Sex": s["sex"].map(_SEX).fillna(NOT_RECORDED),
        "Ethnicity": s["ethnicity"].map(spec.groups("ETHNIC")).fillna(NOT_RECORDED),
    })
    ids = pd.Series(m.cla_at_year_end, index=m.cla_at_year_end)
    children = pd.DataFrame({"Sex": _sex(m, ids), "Ethnicity": _ethnicity(m, ids)})
    rows = [{"characteristic": TOTAL, "group": "All", "iros": len(staff), "iros_pct": _pct(len(staff), len(staff)),
             "children": len(children), "children_pct": _pct(len(children), len(children))}]
    for ch in ["Sex", "Ethnicity"]:
        for group in GROUPS[ch] + [NOT_RECORDED]:
            i, c = int((staff[ch] == group).sum()), int((children[ch] == group).sum())
            if i or c or group not in FALLBACK:
                rows.append({"characteristic": ch, "group": group, "iros": i, "iros_pct": _pct(i, len(staff)),
                             "children": c, "children_pct": _pct(c, len(children))})
    return _ints(pd.DataFrame(rows), ["iros", "children"])


@table("cla_disproportionality", "Children looked after per 10,000 children by ethnic group", "equalities")
def cla_disproportionality(m: Model) -> pd.DataFrame | None:
    """Only when the council's population aged 0 to 17 by ethnic group is given (for example from
    Census 2021): children looked after at 31 March per 10,000 children of each ethnic group (whole
    number), and each group's rate divided by the White group's rate (two decimals). Not shown
    otherwise."""
    pop = m.population_by_ethnicity
    if not pop:
        return None
    ids = pd.Series(m.cla_at_year_end, index=m.cla_at_year_end)
    eth = _ethnicity(m, ids)
    groups = [g for g in GROUPS["Ethnicity"] if g in pop]
    cla = [int((eth == g).sum()) for g in groups]
    rates = [n / pop[g] * 10_000 if pop[g] else None for g, n in zip(groups, cla, strict=True)]
    white = rates[groups.index("White")] if "White" in groups else None
    return pd.DataFrame({
        "ethnicity": groups, "children": pd.Series(cla, dtype="int64"),
        "population": pd.Series([pop[g] for g in groups], dtype="int64"),
        "rate_per_10000": pd.Series([round_half_up(r) if r is not None else None for r in rates], dtype="float64"),
        "ratio_to_white": [round_half_up(r / white, 2) if r is not None and white else None for r in rates],
    })

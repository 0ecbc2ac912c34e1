"""Children looked after (``metrics.md`` §1): counts at 31 March, in the year, starts, ceases."""

from __future__ import annotations

import pandas as pd

from iro_metrics import spec
from iro_metrics.metrics.registry import NOT_SUPPLIED, Indicator, count, metric, round_half_up, table
from iro_metrics.model import Model, in_return_window

AGE_BANDS = [(0, 0, "Under 1"), (1, 4, "1 to 4"), (5, 9, "5 to 9"), (10, 15, "10 to 15"), (16, 200, "16 and over")]


def age_band(ages: pd.Series, bands=AGE_BANDS) -> pd.Series:
    out = pd.Series(pd.NA, index=ages.index, dtype="string")
    for lo, hi, name in bands:
        out[(ages >= lo) & (ages <= hi)] = name
    return out.fillna("Not known")


def starts_in_year(m: Model) -> pd.DataFrame:
    """Periods of care that started in the year, first occasion per child."""
    p = m.periods
    s = p[(p["start"] >= m.year_start) & (p["start"] <= m.year_end)]
    return s.sort_values("start", kind="stable").drop_duplicates("child_id", keep="first")


def ceased_in_year(m: Model) -> pd.DataFrame:
    """Periods of care that ended in the year, last occasion per child."""
    p = m.periods
    c = p[p["end"].notna() & (p["end"] >= m.year_start) & (p["end"] <= m.year_end)]
    return c.sort_values("end", kind="stable").drop_duplicates("child_id", keep="last")


@metric("cla_at_31_march", "Children looked after at 31 March", "population", "count")
def cla_at_31_march(m: Model) -> Indicator:
    """Children with an episode of care open on 31 March (started on or before it and not ended on
    or before it). Episodes under an agreed series of short breaks (legal status V3 or V4) are set
    aside here and in every other figure, so a child counts only for time looked after under
    another legal status."""
    return count(len(m.cla_at_year_end))


@metric("cla_during_year", "Children looked after at any time in the year", "population", "count")
def cla_during_year(m: Model) -> Indicator:
    """Children with an episode of care open during the year as the 903 return counts it: started on
    or before 31 March and not ceased before 1 April. A child whose care ended on 1 April was looked
    after during the year (and ceased in it)."""
    ep = m.episodes
    return count(ep.loc[in_return_window(ep, m.year_start, m.year_end), "child_id"].nunique())


@metric("cla_starts", "Children who started to be looked after", "population", "count")
def cla_starts(m: Model) -> Indicator:
    """Children who started a period of care in the year. A child who started more than once is
    counted once (the first occasion)."""
    return count(len(starts_in_year(m)))


@metric("cla_ceased", "Children who ceased to be looked after", "population", "count")
def cla_ceased(m: Model) -> Indicator:
    """Children whose period of care ended in the year. A child who left more than once is counted
    once (the last occasion). An episode ending X1 followed by another on the same day is not an
    ending."""
    return count(len(ceased_in_year(m)))


@table("cla_ceased_by_reason", "Children who ceased to be looked after, by reason", "population")
def cla_ceased_by_reason(m: Model) -> pd.DataFrame:
    """Children who ceased to be looked after in the year (last occasion), by the reason the final
    episode ended: adopted (E11, E12); special guardianship order (E43-E48); child arrangements or
    residence order (E41); returned home (E4A, E4B, E13); independent living (E5, E6); aged 18 or
    over and remained with current carers (E17); other."""
    c = ceased_in_year(m)
    order = ["Adopted", "Special guardianship order", "Child arrangements or residence order", "Returned home",
             "Independent living", "Aged 18+ staying put", "Other"]
    groups = c["reason_ceased"].map(spec.groups("REC")).fillna("Other")
    counts = groups.value_counts().reindex(order, fill_value=0)
    return pd.DataFrame({"reason": order, "children": counts.to_numpy(dtype="int64")})


@metric("cla_rate_per_10000", "Children looked after per 10,000 children", "population", "rate")
def cla_rate_per_10000(m: Model) -> Indicator:
    """Children looked after at 31 March divided by the council's population aged 0 to 17 (the ONS
    mid-year estimate, given as a parameter) times 10,000, as a whole number. Not shown when no
    population is given."""
    if not m.population:
        return NOT_SUPPLIED
    n = len(m.cla_at_year_end)
    return Indicator(round_half_up(n / m.population * 10_000), n, int(m.population))


@metric("uasc_at_31_march", "Unaccompanied asylum-seeking children at 31 March", "population", "count")
def uasc_at_31_march(m: Model) -> Indicator:
    """Children looked after at 31 March who appear in the UASC table with no date UASC status
    ceased, or a date after 31 March."""
    u = m.data["uasc"]
    current = u[u["uasc_ceased"].isna() | (u["uasc_ceased"] > m.year_end)]
    return count(int(m.cla_at_year_end.isin(set(current["child_id"])).sum()))


def _breakdown(values: pd.Series, name: str, order: list[str] | None = None) -> pd.DataFrame:
    counts = values.fillna("Not known").value_counts()
    if order is not None:
        extra = [k for k in counts.index if k not in order]
        counts = counts.reindex(order + extra, fill_value=0)
    else:
        counts = counts.sort_index()
    return pd.DataFrame({name: counts.index.astype(str), "children": counts.to_numpy(dtype="int64")})


@table("cla_by_age", "Children looked after at 31 March by age", "population")
def cla_by_age(m: Model) -> pd.DataFrame:
    """Children looked after at 31 March by age on 31 March: under 1, 1 to 4, 5 to 9, 10 to 15,
    16 and over."""
    ages = m.age_on(m.cla_at_year_end, m.year_end)
    return _breakdown(age_band(ages), "age_band", [b[2] for b in AGE_BANDS])


@table("cla_by_sex", "Children looked after at 31 March by sex", "population")
def cla_by_sex(m: Model) -> pd.DataFrame:
    """Children looked after at 31 March by sex (either 903 coding mapped to male, female, unknown)."""
    sex = m.header["sex"].reindex(m.cla_at_year_end).map({"M": "Male", "F": "Female", "U": "Unknown"})
    return _breakdown(sex, "sex", ["Male", "Female", "Unknown"])


@table("cla_by_ethnicity", "Children looked after at 31 March by ethnicity", "population")
def cla_by_ethnicity(m: Model) -> pd.DataFrame:
    """Children looked after at 31 March by major ethnic group: White, Mixed, Asian, Black, Other
    (including Chinese), Not known (refused or not yet obtained)."""
    eth = m.header["ethnicity"].reindex(m.cla_at_year_end).map(spec.groups("ETHNIC"))
    return _breakdown(eth, "ethnicity", ["White", "Mixed", "Asian", "Black", "Other", "Not known"])


@table("cla_by_legal_status", "Children looked after at 31 March by legal status", "population")
def cla_by_legal_status(m: Model) -> pd.DataFrame:
    """Children looked after at 31 March by the legal status of their episode on 31 March: care
    order (C1, C2), placement order (E1, D1), section 20 (V2), police protection, EPO or child
    assessment order (L1-L3), youth justice (J1-J3)."""
    ls = m.cla_episodes_at_year_end["legal_status"].map(spec.groups("LS"))
    return _breakdown(ls, "legal_status", ["Care order", "Placement order", "Section 20",
                                           "Police protection / EPO / CAO", "Youth justice"])


@table("cla_by_placement", "Children looked after at 31 March by placement", "population")
def cla_by_placement(m: Model) -> pd.DataFrame:
    """Children looked after at 31 March by the placement type of their episode on 31 March, grouped
    as foster care with a relative or friend (U1-U3), other foster care (U4-U6), placed for adoption
    (A3-A6), placed with parents (P1), children's homes (K1, K2), supported or independent living
    (K3, H5, P2), other residential settings (R1, R2, R3, R5, S1), temporary (T0-T4) and other."""
    pl = m.cla_episodes_at_year_end["placement"].map(spec.groups("PLACE"))
    return _breakdown(pl, "placement", ["Foster with relative or friend", "Other foster", "Placed for adoption",
                                        "With parents", "Children's homes", "Supported or independent living",
                                        "Other residential", "Temporary", "Other"])


@table("cla_by_provider", "Children looked after at 31 March by placement provider", "population")
def cla_by_provider(m: Model) -> pd.DataFrame:
    """Children looked after at 31 March by the provider of their placement on 31 March (PR0-PR5)."""
    pr = m.cla_episodes_at_year_end["placement_provider"].map(spec.labels("PLACE_PROVIDER"))
    return _breakdown(pr, "provider", list(spec.labels("PLACE_PROVIDER").values()))


@table("cla_by_need", "Children looked after at 31 March by category of need", "population")
def cla_by_need(m: Model) -> pd.DataFrame:
    """Children looked after at 31 March by category of need at the start of their current period of
    care (N1-N8)."""
    periods = m.cla_episodes_at_year_end["period_id"]
    need = periods.map(m.periods.set_index("period_id")["category_of_need"]).map(spec.labels("CIN"))
    return _breakdown(need, "category_of_need", list(spec.labels("CIN").values()))

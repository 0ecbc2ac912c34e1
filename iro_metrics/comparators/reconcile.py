"""Reconciliation with DfE's published figures for the council (``metrics.md`` §10).

Every comparable published figure for the council's LA code and the collection year, beside the
figure computed from the council's own data: children looked after on 31 March, starts, ceases, the
rate per 10,000, each 31 March breakdown, the two placement-stability measures and, where the release
has the year, ceases by reason, age and sex. Published values are read as published: ``c``, ``x``,
``z``, ``k`` and blanks are "not comparable". The DfE categories (which 903 codes make "Foster
placements"...) are data: ``iro_metrics/spec/dfe_categories.yaml``.
"""

from __future__ import annotations

import json

from functools import cache
from pathlib import Path

import pandas as pd

from iro_metrics.comparators import DATA, numeric
from iro_metrics.dates import age_in_years
from iro_metrics.errors import UsageError
from iro_metrics.metrics.population import age_band, ceased_in_year, starts_in_year
from iro_metrics.metrics.registry import round_half_up
from iro_metrics.metrics.stability import long_term_cohort, three_or_more_placements
from iro_metrics.model import Model, build_model
from iro_metrics.ingest.load import CouncilData
from iro_metrics.shipped import read_yaml

CATEGORIES = Path(__file__).parents[1] / "spec" / "dfe_categories.yaml"
COLUMNS = ["measure", "breakdown", "category", "published", "computed", "difference", "tolerance", "status",
           "causes"]
CLA_FILE = "cla_number_and_rate_per_10k_children.csv"
STABILITY_FILE = "la_cla_placement_stability.csv"
POPULATION = {"Children looked after on 31 March each year": "Children looked after on 31 March",
              "Children starting to be looked after each year": "Children who started to be looked after",
              "Children ceasing to be looked after each year": "Children who ceased to be looked after"}
STABILITY = {
    "Children with 3 or more placements in the year": (
        "CLA on 31 March", "With 3 or more placements during the year"),
    "Children looked after 2.5+ years (under 16) with the same carer for 2+ years": (
        "Children looked after continuously for at least 2.5 years on 31 March aged under 16 years",
        "Living with the same carer for at least 2 years"),
}
AGE_CEASED = [(0, 0, "Under 1"), (1, 4, "1 to 4"), (5, 9, "5 to 9"), (10, 15, "10 to 15"), (16, 16, "16"),
              (17, 17, "17"), (18, 200, "18 and over")]
MEASURES = {"at_31_march": "Children looked after on 31 March", "ceased": "Children who ceased to be looked after"}
SUMMARY_DIFFERENCES = 5  # named in the one-line summary; the table lists them all
AGREES, DIFFERS, NOT_COMPARABLE, NOT_COMPUTED = "agrees", "differs", "not comparable", "not computed"


@cache
def categories(path: Path = CATEGORIES) -> dict:
    """The DfE categories as 903 codes, and the causes to check (``dfe_categories.yaml``)."""
    return read_yaml(path)


@cache
def _published(name: str, data: Path) -> pd.DataFrame:
    df = pd.read_csv(data / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return df[df["geographic_level"] == "Local authority"]


def published_years(la_code: str, data: Path = DATA) -> list[str]:
    """Collection years for which DfE published the council's children looked after (``2024-25``...)."""
    df = _published(CLA_FILE, data)
    return sorted(f"{int(t) - 1}-{str(int(t))[-2:]}" for t in df.loc[df["new_la_code"] == la_code, "time_period"]
                  .unique())


def check_published(la_code: str, year: str, data: Path = DATA) -> str:
    """DfE's ``time_period`` for ``year``; a clear error for an unknown LA code or an unpublished year."""
    df = _published(CLA_FILE, data)
    if la_code not in set(df["new_la_code"]):
        raise UsageError(f"la_code {la_code}: not an English council in the published tables "
                         f"({df['new_la_code'].nunique()} known, e.g. E09000028 for Southwark)")
    years = published_years(la_code, data)
    if year not in years:
        raise UsageError(f"{la_code} ({council_name(la_code, data)}): DfE has published no figures for {year} "
                         f"(published: {', '.join(years)})")
    return str(int(year[:4]) + 1)


def council_name(la_code: str, data: Path = DATA) -> str:
    df = _published(CLA_FILE, data)
    return str(df.loc[df["new_la_code"] == la_code, "la_name"].iloc[-1])


def _causes(*keys: str) -> str:
    c = categories()["causes"]
    return "; ".join([x for k in keys for x in c.get(k, [])] + c["common"])


def _row(measure: str, breakdown: str, category: str, published: str, computed: float | int | None,
         tolerance: int = 0, causes: str = "") -> dict:
    value = numeric(published)
    if value is None:
        status, difference = NOT_COMPARABLE, None
    elif computed is None:
        status, difference = NOT_COMPUTED, None
    else:
        difference = computed - value
        difference = int(difference) if float(difference).is_integer() else difference
        status = AGREES if abs(difference) <= tolerance else DIFFERS
    return {"measure": measure, "breakdown": breakdown, "category": category, "published": published,
            "computed": computed, "difference": difference, "tolerance": tolerance, "status": status,
            "causes": causes if status == DIFFERS else ""}


def children_at_31_march(m: Model) -> pd.DataFrame:
    """Per child looked after on 31 March: the attributes DfE's 31 March tables break down by (codes)."""
    cur = m.cla_episodes_at_year_end
    cla = m.cla_at_year_end
    u = m.data["uasc"]
    current = set(u.loc[u["uasc_ceased"].isna() | (u["uasc_ceased"] > m.year_end), "child_id"])
    need = cur["period_id"].map(m.periods.set_index("period_id")["category_of_need"])
    return pd.DataFrame({
        "age_band": age_band(m.age_on(cla, m.year_end)).to_numpy(),
        "sex": m.header["sex"].reindex(cla).to_numpy(), "ethnic": m.header["ethnicity"].reindex(cla).to_numpy(),
        "legal_status": cur["legal_status"].to_numpy(), "placement": cur["placement"].to_numpy(),
        "category_of_need": need.to_numpy(), "uasc": ["yes" if c in current else "no" for c in cla]}, index=cla)


def children_ceased(m: Model) -> pd.DataFrame:
    """Per child who ceased to be looked after in the year (last occasion): reason, age and sex."""
    c = ceased_in_year(m).set_index("child_id")
    ages = age_in_years(m.header["dob"].reindex(c.index), c["end"])
    return pd.DataFrame({"reason_ceased": c["reason_ceased"], "age_ceased": age_band(ages, AGE_CEASED),
                         "sex": m.header["sex"].reindex(c.index)}, index=c.index)


def _breakdowns(frames: dict[str, pd.DataFrame], la_code: str, period: str, data: Path) -> list[dict]:
    rows = []
    for name, spec in categories().items():
        if not isinstance(spec, dict) or "cla_group" not in spec:
            continue
        df = _published(spec["file"], data)
        pub = df[(df["new_la_code"] == la_code) & (df["time_period"] == period) & (df["cla_group"] == spec["cla_group"])]
        if pub.empty:
            continue  # this release has no such table for the year
        pub = pub.drop_duplicates("characteristic", keep="last").set_index("characteristic")["number"]
        values = frames[spec["children"]][spec["field"]].astype("string")
        measure = MEASURES[spec["children"]]
        for label, codes in spec["categories"].items():
            if label not in pub.index:
                continue
            computed = int(values.isin([str(c) for c in codes]).sum())
            rows.append(_row(measure, spec["cla_group"], label, pub[label], computed,
                             causes=_causes(name.removeprefix("ceased_") if name.startswith("ceased_") else name)))
    return rows


def _stability(m: Model, la_code: str, period: str, data: Path) -> list[dict]:
    df = _published(STABILITY_FILE, data)
    df = df[(df["new_la_code"] == la_code) & (df["time_period"] == period)]
    three = three_or_more_placements(m)
    cohort, stable = long_term_cohort(m)
    computed = {"CLA on 31 March": (int(three.sum()), len(three))}
    computed[STABILITY[list(STABILITY)[1]][0]] = (int(stable.sum()), int(cohort.sum()))
    rows = []
    for measure, (group, numerator_label) in STABILITY.items():
        g = df[df["cla_group"] == group].drop_duplicates("placement_stability", keep="last")
        g = g.set_index("placement_stability")
        if g.empty:
            continue
        num, den = computed[group]
        causes = _causes("stability")
        if numerator_label in g.index:
            rows.append(_row(measure, "numerator", numerator_label, g.loc[numerator_label, "children_count"], num,
                             causes=causes))
            pct = round_half_up(100 * num / den) if den else None
            rows.append(_row(measure, "percentage", numerator_label, g.loc[numerator_label, "children_percent"], pct,
                             causes=causes))
        if "Total children" in g.index:
            rows.append(_row(measure, "denominator", "Total children", g.loc["Total children", "children_count"], den,
                             causes=causes))
    return rows


def reconcile(model_or_data: Model | CouncilData, la_code: str, population: int | None = None,
              data: Path = DATA) -> pd.DataFrame:
    """Every comparable published figure for ``la_code`` and the data's collection year beside the
    computed one: columns measure, breakdown, category, published (as published), computed,
    difference (computed minus published), tolerance, status (agrees, differs, not comparable, not
    computed) and causes (the likely causes to check, for a difference)."""
    m = model_or_data if isinstance(model_or_data, Model) else build_model(model_or_data, population=population)
    population = population or m.population
    period = check_published(la_code, m.year.label, data)
    df = _published(CLA_FILE, data)
    df = df[(df["new_la_code"] == la_code) & (df["time_period"] == period)].drop_duplicates("population_type", keep="last")
    df = df.set_index("population_type")
    n_cla = len(m.cla_at_year_end)
    computed = {"Children looked after on 31 March each year": n_cla,
                "Children starting to be looked after each year": len(starts_in_year(m)),
                "Children ceasing to be looked after each year": len(ceased_in_year(m))}
    keys = {"Children looked after on 31 March each year": "cla", "Children starting to be looked after each year":
            "starts", "Children ceasing to be looked after each year": "ceases"}
    rows = [_row(POPULATION[p], "", "Total", df.loc[p, "children_count"], computed[p], causes=_causes(keys[p]))
            for p in POPULATION if p in df.index]
    cla_row = "Children looked after on 31 March each year"
    if cla_row in df.index:
        rate = round_half_up(n_cla / population * 10_000) if population else None
        rows.append(_row("Children looked after per 10,000 children", "", "Rate", df.loc[cla_row, "rate_per_10000"],
                         rate, tolerance=1, causes=_causes("rate")))
    frames = {"at_31_march": children_at_31_march(m), "ceased": children_ceased(m)}
    rows += _breakdowns(frames, la_code, period, data)
    rows += _stability(m, la_code, period, data)
    return pd.DataFrame(rows, columns=COLUMNS)


def for_build(m: Model, la_code: str | None) -> tuple[pd.DataFrame | None, str]:
    """What a build shows: the reconciliation for the council's code, or why there is none (no code;
    DfE has not published the year yet, as for a current year before November). Never fails a build."""
    if not la_code:
        return None, "No la_code in the params: no comparison with DfE's published figures."
    if m.year.label not in published_years(la_code):
        return None, (f"DfE has published no figures for {la_code} and {m.year.label} in the tables shipped "
                      "(they appear each November): no comparison yet.")
    return reconcile(m, la_code), ""


def records(table: pd.DataFrame | None) -> list[dict] | None:
    """The table as JSON records (``metrics.json``'s ``reconciliation``)."""
    return None if table is None else json.loads(table.to_json(orient="records"))


def summary(table: pd.DataFrame) -> str:
    """One line: 'Agrees with DfE's published figures: 41 of 43; differences: ...'."""
    comparable = table[table["status"].isin([AGREES, DIFFERS])]
    agree = int((comparable["status"] == AGREES).sum())
    line = f"Agrees with DfE's published figures: {agree} of {len(comparable)}"
    differs = comparable[comparable["status"] == DIFFERS]
    if len(differs):
        parts = [f"{_label(r)} {r['difference']:+g} ({r['computed']:g} against {r['published']})"
                 for _, r in differs.head(SUMMARY_DIFFERENCES).iterrows()]
        more = len(differs) - SUMMARY_DIFFERENCES
        line += "; differences: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return line


def _label(r: pd.Series) -> str:
    if r["breakdown"] in ("", None):
        return r["measure"]
    if r["breakdown"] in ("numerator", "denominator", "percentage"):
        return f"{r['measure']} ({r['breakdown']})"
    return f"{r['measure']}, {r['breakdown']}: {r['category']}"


def listing(table: pd.DataFrame, la_code: str, year: str) -> str:
    """The comparison as text: one line per published figure, then the summary and each difference's
    causes to check."""
    lines = [f"{council_name(la_code)} ({la_code}), {year}: the data beside DfE's published figures", ""]
    width = max(len(_label(r)) for _, r in table.iterrows()) if len(table) else 10
    lines.append(f"{'figure':<{width}}  {'published':>9}  {'computed':>8}  {'diff':>5}  status")
    for _, r in table.iterrows():
        computed = "" if r["computed"] is None or r["computed"] != r["computed"] else f"{r['computed']:g}"
        diff = "" if r["difference"] is None or r["difference"] != r["difference"] else f"{r['difference']:+g}"
        lines.append(f"{_label(r):<{width}}  {r['published']:>9}  {computed:>8}  {diff:>5}  {r['status']}")
    lines += ["", summary(table)]
    differs = table[table["status"] == DIFFERS]
    if len(differs):
        lines += ["", "Causes to check:"]
        for causes, rows in differs.groupby("causes", sort=False):
            topics = dict.fromkeys(r["breakdown"] if r["breakdown"] in rows["breakdown"].to_numpy() and r["breakdown"]
                                   not in ("", "numerator", "denominator", "percentage") else r["measure"]
                                   for _, r in rows.iterrows())
            lines.append(f"- {', '.join(topics)}: {causes}")
    return "\n".join(lines)

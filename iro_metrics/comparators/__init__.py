"""Published comparators: England, the council's region and its statistical neighbours.

The DfE tables shipped in ``data/`` are kept exactly as published (suppression symbols included) and
each figure records the release it came from. ``indicators.yaml`` says which published figure compares
with which indicator; a council can add its own comparator file for local indicators (review
timeliness, say) that DfE does not publish.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from iro_metrics.errors import UsageError
from iro_metrics.metrics.registry import round_half_up
from iro_metrics.shipped import COMPARATORS, read_yaml
from iro_metrics.years import CollectionYear

DATA = COMPARATORS
LEVELS = {"National": "england", "Regional": "region", "Local authority": "council"}
LOCAL_COLUMNS = ["indicator", "time_period", "geographic_level", "area_code", "area_name", "value"]


def numeric(value: str) -> float | None:
    """A published figure as a number; None for the symbols c, z, x, k, u, low and blanks."""
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def number(value: str) -> int | float | None:
    """A published figure as JSON-ready number at its published precision ("81,770" -> 81770, "4.5" -> 4.5);
    None for a symbol."""
    found = numeric(value)
    if found is None:
        return None
    return int(found) if "." not in str(value) else found


def _places(value: str) -> int:
    text = str(value)
    return len(text.split(".", 1)[1]) if "." in text else 0


def _year_label(time_period: str) -> str:
    """DfE's time period is the year of 31 March: 2025 is collection year 2024-25."""
    return CollectionYear(int(time_period) - 1).label


@lru_cache(maxsize=4)
def table(data: Path = DATA, local: Path | None = None) -> pd.DataFrame:
    """Every comparator figure, tidy: indicator, year, level, code, name, region_code, old_la_code,
    value (as published), numerator, denominator, release."""
    mapping = read_yaml(data / "indicators.yaml")
    releases = read_yaml(data / "sources.yaml")["files"]
    files: dict[str, pd.DataFrame] = {}
    parts = []
    for indicator, spec in mapping.items():
        if spec["file"] not in files:
            files[spec["file"]] = pd.read_csv(data / spec["file"], dtype=str, keep_default_na=False,
                                              encoding="utf-8-sig")
        df = files[spec["file"]]
        rows = df[(df[list(spec["where"])] == pd.Series(spec["where"])).all(axis=1)]
        out = pd.DataFrame({
            "indicator": indicator, "year": rows["time_period"].map(_year_label),
            "level": rows["geographic_level"].map(LEVELS), "code": _codes(rows),
            "name": _names(rows), "region_code": rows.get("region_code", ""),
            "old_la_code": rows.get("old_la_code", ""), "value": rows[spec["value"]],
            "numerator": rows[spec["numerator"]] if "numerator" in spec else "",
            "denominator": rows[spec["denominator"]] if "denominator" in spec else "",
            "release": releases[spec["file"]]["release"]})
        if "denominator_where" in spec:
            d = df[(df[list(spec["denominator_where"])] == pd.Series(spec["denominator_where"])).all(axis=1)]
            key = ["time_period", "geographic_level", "region_code", "new_la_code"]
            denominators = d.set_index(key)["children_count"]
            idx = pd.MultiIndex.from_frame(rows[key])
            out["denominator"] = denominators.reindex(idx).fillna("").to_numpy()
        parts.append(out)
    result = pd.concat(parts, ignore_index=True)
    if local is not None:
        result = pd.concat([result, _local(local)], ignore_index=True)
    return result[result["level"].notna()].reset_index(drop=True)


def _codes(rows: pd.DataFrame) -> pd.Series:
    level = rows["geographic_level"]
    return rows["new_la_code"].where(level == "Local authority",
                                     rows["region_code"].where(level == "Regional", "E92000001"))


def _names(rows: pd.DataFrame) -> pd.Series:
    level = rows["geographic_level"]
    return rows["la_name"].where(level == "Local authority",
                                 rows["region_name"].where(level == "Regional", "England"))


def _local(path: Path) -> pd.DataFrame:
    """A council's own comparators: columns indicator, time_period, geographic_level, area_code,
    area_name, value (the DfE tidy conventions)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in LOCAL_COLUMNS if c not in df.columns]
    if missing:
        raise UsageError(f"{path}: comparator file needs the columns {', '.join(LOCAL_COLUMNS)} "
                         f"(missing: {', '.join(missing)})")
    return pd.DataFrame({"indicator": df["indicator"], "year": df["time_period"].map(_year_label),
                         "level": df["geographic_level"].map(LEVELS), "code": df["area_code"],
                         "name": df["area_name"], "region_code": "", "old_la_code": "", "value": df["value"],
                         "numerator": "", "denominator": "", "release": f"local: {path.name}"})


@lru_cache(maxsize=2)
def neighbours(data: Path = DATA) -> dict[str, list[str]]:
    """Old (3-digit) LA code -> its ten statistical neighbours' old codes (DfE 2025 model)."""
    df = pd.read_csv(data / "sn_model_2025_wide.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return {r["old_la_code"]: [r[f"SN_{i}"] for i in range(1, 11) if r[f"SN_{i}"]] for _, r in df.iterrows()}


def _figure(row: pd.Series) -> dict:
    """One published figure: numbers as numbers; ``published`` keeps the text as printed (a symbol such as
    c or x when there is no number)."""
    return {"value": number(row["value"]), "published": row["value"], "numerator": number(row["numerator"]),
            "denominator": number(row["denominator"]), "area": row["name"], "release": row["release"]}


def england(year: str, data: Path = DATA) -> dict[str, dict]:
    """Per indicator: England's published figure for collection ``year`` (whatever the council)."""
    t = table(data)
    return _england(t[t["year"] == year])


def _england(year_rows: pd.DataFrame) -> dict[str, dict]:
    t = year_rows[year_rows["level"] == "england"]
    return {indicator: _figure(rows.iloc[0]) for indicator, rows in t.groupby("indicator", sort=True)}


def lookup(la_code: str, year: str, local: Path | None = None, data: Path = DATA) -> dict[str, dict]:
    """Per indicator: the council's own published figure, England's, its region's and the mean of its
    statistical neighbours' published figures (suppressed ones left out), for collection ``year``."""
    t = table(data, local)
    t = t[t["year"] == year]
    council = t[(t["level"] == "council") & (t["code"] == la_code)]
    if council.empty and not t[t["level"] == "council"].empty:
        known = t[t["level"] == "council"]["code"].nunique()
        if la_code not in set(table(data, local)["code"]):
            raise UsageError(f"la_code {la_code}: not an English council in the published tables ({known} known)")
    region_code = council["region_code"].iloc[0] if len(council) else ""
    old_code = council["old_la_code"].iloc[0] if len(council) else ""
    sn_codes = set(neighbours(data).get(old_code, []))
    national = _england(t)
    out: dict[str, dict] = {}
    for indicator, rows in t.groupby("indicator", sort=True):
        entry: dict = {}
        own = rows[(rows["level"] == "council") & (rows["code"] == la_code)]
        if len(own):
            entry["council"] = _figure(own.iloc[0])
        if indicator in national:
            entry["england"] = national[indicator]
        region = rows[(rows["level"] == "region") & (rows["code"] == region_code)] if region_code else rows.iloc[:0]
        if len(region):
            entry["region"] = _figure(region.iloc[0])
        sn = rows[(rows["level"] == "council") & rows["old_la_code"].isin(sn_codes)]
        shown = [v for v in sn["value"] if numeric(v) is not None]
        if shown:  # the mean at the precision the figures are published at, rounded half up as DfE does
            mean = round_half_up(sum(numeric(v) for v in shown) / len(shown), max(_places(v) for v in shown))
            entry["statistical_neighbours"] = {
                "value": mean, "councils": len(shown), "of": len(sn_codes), "release": sn["release"].iloc[0]}
        if entry:
            out[indicator] = entry
    return out


def trend(la_code: str, indicator: str, local: Path | None = None, data: Path = DATA) -> pd.DataFrame:
    """Year by year: the council's and England's published figures for ``indicator``."""
    t = table(data, local)
    t = t[t["indicator"] == indicator]
    council = t[(t["level"] == "council") & (t["code"] == la_code)].set_index("year")["value"]
    england = t[t["level"] == "england"].set_index("year")["value"]
    years = sorted(set(council.index) | set(england.index))
    return pd.DataFrame({"year": years, "council": council.reindex(years).fillna("x").to_numpy(),
                         "england": england.reindex(years).fillna("x").to_numpy()})

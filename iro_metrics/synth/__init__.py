"""A synthetic council that looks like a real 903 return (no real child data, ever).

``generate`` simulates children, periods of care, episodes, reviews and IRO records over the
collection years; ``write_council`` lays them out as the input layout (``DIR/<YYYY-YY>/``) with the
exact DfE headers and dd/mm/yyyy dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from iro_metrics import spec
from iro_metrics.synth import iro, tables
from iro_metrics.synth.care import (ETHNIC_MIX, UASC_ETHNIC_MIX, _choice, birthday, build_episodes, day,
                                    plan_periods, simulate_periods, to_dates)
from iro_metrics.synth.config import SynthConfig
from iro_metrics.synth.reviews import simulate_reviews
from iro_metrics.years import CollectionYear

__all__ = ["SynthConfig", "Synthetic", "generate", "write_council", "write_councils"]

_UPN_LETTERS = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ"))


@dataclass
class Synthetic:
    """The whole simulated history; dates are whole days since 1970-01-01, -1 for none."""

    cfg: SynthConfig
    children: pd.DataFrame
    periods: pd.DataFrame
    episodes: pd.DataFrame
    reviews: pd.DataFrame
    iro: dict[str, pd.DataFrame]
    other: dict[str, pd.DataFrame]  # previous permanence, missing, adoption decisions, AD1
    oc2: dict[int, pd.DataFrame]  # by collection start year
    oc3: dict[int, pd.DataFrame]  # care leavers, by collection start year


class Calibration(Protocol):
    """Fits the simulated council to a real council's published figures (``synth/calibrate.py``)."""

    def select(self, p: pd.DataFrame, ep: pd.DataFrame, cfg: SynthConfig, rng: np.random.Generator
               ) -> tuple[pd.DataFrame, pd.DataFrame, SynthConfig]: ...

    def characteristics(self, kids: pd.DataFrame, p: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame: ...


def generate(cfg: SynthConfig, calibration: Calibration | None = None) -> Synthetic:
    """Simulate the council. Deterministic for ``cfg.seed``. With a ``calibration``, the periods and
    episodes simulated are cut down and adjusted to a real council's published figures before the
    reviews and IRO records are drawn."""
    rng = np.random.default_rng(cfg.seed)
    first, last = day(cfg.years[0].start), day(cfg.years[-1].end)
    p = plan_periods(simulate_periods(cfg, rng), cfg, rng)
    ep = build_episodes(p, cfg, rng)
    if calibration is not None:
        p, ep, cfg = calibration.select(p, ep, cfg, rng)
    rv = simulate_reviews(p, ep, last, cfg.late_share, cfg.missed_share, rng)
    kids = p.groupby("child").agg(dob=("dob", "first"), uasc=("uasc", "first"), first_start=("start", "min"))
    n = len(kids)
    uasc = kids["uasc"].to_numpy()
    male = np.where(uasc, rng.random(n) < 0.95, rng.random(n) < 0.53)
    ethnic = _choice(rng, ETHNIC_MIX, n)
    ethnic[uasc] = _choice(rng, UASC_ETHNIC_MIX, int(uasc.sum()))
    ids = rng.choice(9_000_000, size=n, replace=False) + 1_000_000
    upn = np.char.add(_UPN_LETTERS[rng.integers(0, len(_UPN_LETTERS), n)],
                      np.char.zfill(rng.integers(0, 10**12, n, dtype=np.int64).astype(str), 12))
    kids = kids.assign(CHILD=ids.astype(str), SEX=np.where(male, "M", "F"), ETHNIC=ethnic, UPN=upn)
    if calibration is not None:
        kids = calibration.characteristics(kids, p, rng)
    posts = max(1, int(round(cfg.children / cfg.iro_caseload / 0.92)))
    st = iro.fit_caseload(iro.staff(posts, first, last, rng), cfg.children, last)
    records = {
        "iro_staff": st,
        "iro_allocations": iro.allocations(p, st, last, rng),
        "escalations": iro.escalations(p, cfg.children, first, last, cfg.escalations_per_100, rng),
        "iro_contacts": iro.contacts(rv, rng),
        "review_records": iro.review_records(rv, last, rng),
        "feedback": iro.feedback(cfg.children, first, last, rng),
        "audits": iro.audits(p, cfg.children, first, last, rng),
    }
    decisions, ad1 = tables.adoption(p, ep, rng)
    other = {"previous_permanence": tables.previous_permanence(kids, rng), "missing": tables.missing(p, rng),
             "placed_for_adoption": decisions, "ad1": ad1, "sw_episodes": tables.social_workers(p, rng)}
    oc2 = {y.start_year: tables.oc2(p, day(y.start), day(y.end), rng) for y in cfg.years}
    oc3 = {y.start_year: tables.care_leavers(p, ep, day(y.start), day(y.end), rng) for y in cfg.years}
    return Synthetic(cfg, kids, p, ep, rv, records, other, oc2, oc3)


def _fmt(days) -> pd.Series:
    d = pd.Series(np.asarray(days, dtype="float"))
    d[d < 0] = np.nan
    return to_dates(d.to_numpy()).dt.strftime("%d/%m/%Y").fillna("")


def _write(df: pd.DataFrame, table: str, folder: Path) -> Path:
    t = spec.tables()[table]
    path = folder / t.file
    df.reindex(columns=t.dfe_columns).to_csv(path, index=False, lineterminator="\n")
    return path


def year_tables(s: Synthetic, year: CollectionYear) -> dict[str, pd.DataFrame]:
    """The return for one collection year, as DfE-format frames (strings)."""
    y0, y1 = day(year.start), day(year.end)
    kids = s.children
    ep = s.episodes
    dec = ep["DEC"].to_numpy()
    inyear = (ep["DECOM"].to_numpy() <= y1) & ((dec < 0) | (dec >= y0))
    e = ep[inyear].copy()
    after = (e["DEC"] > y1) | (e["DEC"] < 0)
    e.loc[after, ["DEC"]] = -1
    e.loc[after, ["REC", "REASON_PLACE_CHANGE"]] = None
    child = kids["CHILD"].to_numpy()
    e["CHILD"] = child[e["CHILD_IDX"].to_numpy()]
    e["DECOM"], e["DEC"] = _fmt(e["DECOM"]).to_numpy(), _fmt(e["DEC"]).to_numpy()
    in_return = np.unique(ep["CHILD_IDX"].to_numpy()[inyear])
    leavers = s.oc3[year.start_year]["CHILD_IDX"].to_numpy()  # care leavers are in the header too
    h = kids.loc[np.union1d(in_return, leavers)].copy()
    if year < CollectionYear(2024):
        h["SEX"] = h["SEX"].map({"M": "1", "F": "2"})
    h["DOB"] = _fmt(h["dob"]).to_numpy()
    # motherhood is returned for girls looked after in the year, not for care leavers (DfE rule 628)
    h["MOTHER"] = np.where(h["SEX"].isin(["F", "2"]) & h.index.isin(in_return), "0", "")
    h["MC_DOB"] = ""
    rv = s.reviews[(s.reviews["REVIEW"] >= y0) & (s.reviews["REVIEW"] <= y1)].copy()
    rv["CHILD"] = child[rv["CHILD_IDX"].to_numpy()]
    rv["DOB"] = _fmt(kids["dob"].to_numpy()[rv["CHILD_IDX"].to_numpy()]).to_numpy()
    rv["REVIEW"] = _fmt(rv["REVIEW"]).to_numpy()
    u = h[h["uasc"] & h.index.isin(in_return)].copy()
    # the DfE validator expects the date UASC status ceases to be the 18th birthday (rules 205A-D)
    u["DUC"] = _fmt(birthday(u["dob"].to_numpy(), 18)).to_numpy()
    out = {"header": h, "episodes": e, "reviews": rv, "uasc": u}
    out.update(_other_year(s, year, child, in_return))
    out.update(_iro_year(s, year, child))
    return out


def _flags(values) -> np.ndarray:
    """0/1 floats (NaN = blank) -> "0" / "1" / ""."""
    v = pd.Series(values, dtype="float")
    return v.map(lambda x: "" if x != x else str(int(x))).to_numpy()


def _other_year(s: Synthetic, year: CollectionYear, child: np.ndarray, in_return: np.ndarray
                ) -> dict[str, pd.DataFrame]:
    y0, y1 = day(year.start), day(year.end)
    dob = s.children["dob"]

    def with_child(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        idx = df["CHILD_IDX"].to_numpy()
        df["CHILD"] = child[idx]
        df["DOB"] = _fmt(dob.to_numpy()[idx]).to_numpy()
        return df

    o = s.other
    # previous permanence is returned for children whose latest episode in the return began this year
    ep = s.episodes
    latest = ep[(ep["DECOM"] <= y1) & ((ep["DEC"] < 0) | (ep["DEC"] >= y0))].groupby("CHILD_IDX")["DECOM"].max()
    pp = o["previous_permanence"]
    pp = with_child(pp[pp["CHILD_IDX"].isin(latest.index[latest >= y0])])
    pp["DATE_PERM"] = _fmt(pp["DATE_PERM"]).to_numpy()
    m = o["missing"]
    m = with_child(m[(m["MIS_START"] <= y1) & (m["MIS_END"] >= y0)])
    m["MIS_END"] = _fmt(np.where(m["MIS_END"] > y1, -1, m["MIS_END"])).to_numpy()
    m["MIS_START"] = _fmt(m["MIS_START"]).to_numpy()
    ends = s.periods["end"].to_numpy()
    d = o["placed_for_adoption"]
    d = with_child(d[(d["DATE_PLACED"] <= y1) & (ends[d["pid"].to_numpy()] >= y0)])
    d["DATE_PLACED"] = _fmt(d["DATE_PLACED"]).to_numpy()
    a = o["ad1"]
    a = with_child(a[(a["adopted"] >= y0) & (a["adopted"] <= y1)])
    a["DATE_INT"], a["DATE_MATCH"] = _fmt(a["DATE_INT"]).to_numpy(), _fmt(a["DATE_MATCH"]).to_numpy()
    oc2 = with_child(s.oc2[year.start_year])
    oc2["SDQ_SCORE"] = _flags(oc2["SDQ_SCORE"])
    for col in ["CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS", "TEETH_CHECK", "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE",
                "INTERVENTION_RECEIVED", "INTERVENTION_OFFERED"]:
        oc2[col] = _flags(oc2[col])
    oc3 = with_child(s.oc3[year.start_year])
    out = {"previous_permanence": pp, "missing": m, "placed_for_adoption": d, "ad1": a, "oc2": oc2, "oc3": oc3}
    if year >= spec.tables()["sw_episodes"].first_year:
        # social worker episodes of every child in the return, all of this year's
        sw = o["sw_episodes"]
        sw = with_child(sw[sw["CHILD_IDX"].isin(in_return) & (sw["SW_DECOM"] <= y1)
                           & ((sw["SW_DEC"] < 0) | (sw["SW_DEC"] >= y0))])
        sw["SW_DEC"] = _fmt(np.where(sw["SW_DEC"] > y1, -1, sw["SW_DEC"])).to_numpy()
        sw["SW_DECOM"] = _fmt(sw["SW_DECOM"]).to_numpy()
        out["sw_episodes"] = sw
    return out


def _iro_year(s: Synthetic, year: CollectionYear, child: np.ndarray) -> dict[str, pd.DataFrame]:
    y0, y1 = day(year.start), day(year.end)
    r = s.iro
    out: dict[str, pd.DataFrame] = {}

    def spans(df, start, end):
        e = df[end].to_numpy()
        return (df[start].to_numpy() <= y1) & ((e < 0) | (e > y0))

    def dated(df, col):
        return (df[col].to_numpy() >= y0) & (df[col].to_numpy() <= y1)

    picks = {
        "iro_staff": spans(r["iro_staff"], "START_DATE", "END_DATE"),
        "iro_allocations": spans(r["iro_allocations"], "START_DATE", "END_DATE"),
        "escalations": (r["escalations"]["DATE_RAISED"].to_numpy() <= y1)
        & spans(r["escalations"], "DATE_RAISED", "DATE_RESOLVED"),
        "iro_contacts": dated(r["iro_contacts"], "CONTACT_DATE"),
        "review_records": dated(r["review_records"], "REVIEW"),
        "feedback": dated(r["feedback"], "DATE"),
        "audits": dated(r["audits"], "DATE"),
    }
    for key, mask in picks.items():
        df = r[key][mask].copy()
        for col in df.columns:
            if col.endswith("DATE") or col in ("DATE_RAISED", "DATE_RESOLVED", "REVIEW", "RECORD_SENT", "DATE"):
                vals = df[col].to_numpy().copy()
                if col in ("END_DATE", "DATE_RESOLVED", "RECORD_SENT"):
                    vals = np.where(vals > y1, -1, vals)
                df[col] = _fmt(vals).to_numpy()
        if key == "escalations":
            still = df["DATE_RESOLVED"] == ""
            df.loc[still, "OUTCOME"] = "ONGOING"
        if "CHILD_IDX" in df:
            df["CHILD"] = child[df["CHILD_IDX"].to_numpy()]
        out[key] = df
    return out


def write_council(out: str | Path, cfg: SynthConfig, calibration: Calibration | None = None) -> list[Path]:
    """Write ``out/<YYYY-YY>/`` for every year of ``cfg``; returns the folders written."""
    s = generate(cfg, calibration)
    out = Path(out)
    folders = []
    for year in cfg.years:
        folder = out / year.label
        folder.mkdir(parents=True, exist_ok=True)
        for table, df in year_tables(s, year).items():
            _write(df, table, folder)
        folders.append(folder)
    return folders


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_councils(out: str | Path, cfg: SynthConfig, councils: int = 1) -> list[Path]:
    """One council straight into ``out``, or ``councils`` councils into ``out/<slug>/`` with their own
    seeds and sizes (for batch builds and benchmarks)."""
    if councils <= 1:
        return write_council(out, cfg)
    rng = np.random.default_rng(cfg.seed)
    sizes = np.maximum(30, (cfg.children * rng.lognormal(0, 0.5, councils)).astype(int))
    written: list[Path] = []
    for i in range(councils):
        name = f"Synthetic Council {i + 1:03d}"
        c = replace(cfg, council=name, children=int(sizes[i]), seed=cfg.seed * 1000 + i)
        written += write_council(Path(out) / slug(name), c)
    return written

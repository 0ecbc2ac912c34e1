"""A synthetic council that looks like a real 903 return (no real child data, ever).

``generate`` simulates children, periods of care, episodes, reviews and IRO records over the
collection years; ``write_council`` lays them out as the input layout (``DIR/<YYYY-YY>/``) with the
exact DfE headers and dd/mm/yyyy dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from iro_metrics import spec
from iro_metrics.synth import iro
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


def generate(cfg: SynthConfig) -> Synthetic:
    """Simulate the council. Deterministic for ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    first, last = day(cfg.years[0].start), day(cfg.years[-1].end)
    p = plan_periods(simulate_periods(cfg, rng), cfg, rng)
    ep = build_episodes(p, cfg, rng)
    rv = simulate_reviews(p, ep, last, cfg.late_share, cfg.missed_share, rng)
    kids = p.drop_duplicates("child")[["child", "dob", "uasc"]].set_index("child").sort_index()
    n = len(kids)
    uasc = kids["uasc"].to_numpy()
    male = np.where(uasc, rng.random(n) < 0.95, rng.random(n) < 0.53)
    ethnic = _choice(rng, ETHNIC_MIX, n)
    ethnic[uasc] = _choice(rng, UASC_ETHNIC_MIX, int(uasc.sum()))
    ids = rng.choice(9_000_000, size=n, replace=False) + 1_000_000
    upn = np.char.add(_UPN_LETTERS[rng.integers(0, len(_UPN_LETTERS), n)],
                      np.char.zfill(rng.integers(0, 10**12, n, dtype=np.int64).astype(str), 12))
    kids = kids.assign(CHILD=ids.astype(str), SEX=np.where(male, "M", "F"), ETHNIC=ethnic, UPN=upn)
    posts = max(1, int(round(cfg.children / cfg.iro_caseload / 0.92)))
    st = iro.staff(posts, first, last, rng)
    records = {
        "iro_staff": st,
        "iro_allocations": iro.allocations(p, st, last, rng),
        "escalations": iro.escalations(p, cfg.children, first, last, cfg.escalations_per_100, rng),
        "iro_contacts": iro.contacts(rv, rng),
        "review_records": iro.review_records(rv, last, rng),
        "feedback": iro.feedback(cfg.children, first, last, rng),
        "audits": iro.audits(p, cfg.children, first, last, rng),
    }
    return Synthetic(cfg, kids, p, ep, rv, records)


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
    h = kids.loc[in_return].copy()
    if year < CollectionYear(2024):
        h["SEX"] = h["SEX"].map({"M": "1", "F": "2"})
    h["DOB"] = _fmt(h["dob"]).to_numpy()
    h["MOTHER"] = np.where(kids.loc[in_return, "SEX"] == "F", "0", "")
    h["MC_DOB"] = ""
    rv = s.reviews[(s.reviews["REVIEW"] >= y0) & (s.reviews["REVIEW"] <= y1)].copy()
    rv["CHILD"] = child[rv["CHILD_IDX"].to_numpy()]
    rv["DOB"] = _fmt(kids["dob"].to_numpy()[rv["CHILD_IDX"].to_numpy()]).to_numpy()
    rv["REVIEW"] = _fmt(rv["REVIEW"]).to_numpy()
    u = h[h["uasc"]].copy()
    # the DfE validator expects the date UASC status ceases to be the 18th birthday (rules 205A-D)
    u["DUC"] = _fmt(birthday(u["dob"].to_numpy(), 18)).to_numpy()
    out = {"header": h, "episodes": e, "reviews": rv, "uasc": u}
    out.update(_iro_year(s, year, child))
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


def write_council(out: str | Path, cfg: SynthConfig) -> list[Path]:
    """Write ``out/<YYYY-YY>/`` for every year of ``cfg``; returns the folders written."""
    s = generate(cfg)
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

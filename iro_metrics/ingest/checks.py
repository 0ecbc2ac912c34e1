"""Row-level checks that need more than one cell: duplicates, year ranges, episode chains,
reviews against periods of care and participation codes against age."""

from __future__ import annotations

import numpy as np
import pandas as pd

from iro_metrics import spec
from iro_metrics.dates import age_in_years
from iro_metrics.ingest import findings as F
from iro_metrics.ingest.combine import KEYS
from iro_metrics.ingest.read import PROVENANCE
from iro_metrics.model.episodes import care_episodes, periods_of_care
from iro_metrics.model.reviews import attach_periods
from iro_metrics.years import CollectionYear

#: date column that must fall in (or, for episodes, overlap) the return's collection year.
_YEAR_DATES = {"reviews": "review_date", "escalations": "date_raised", "iro_contacts": "contact_date"}


def check_return(tables: dict[str, pd.DataFrame], year: CollectionYear, found: F.Findings
                 ) -> dict[str, pd.DataFrame]:
    """Checks within one return; returns the tables with excluded rows removed."""
    out = {}
    for key, df in tables.items():
        data_cols = [c for c in df.columns if c not in (*PROVENANCE, "_year")]
        dup = df.duplicated(subset=data_cols, keep="first")
        if dup.any():
            found.add(F.make(df["_file"][dup], df["_row"][dup], None, None, "duplicate-row", "excluded"))
        df = df[~dup]
        k = [c for c in KEYS.get(key, []) if c != "_year"]
        if k:
            clash = df.duplicated(subset=k, keep="first")
            if clash.any():
                dfe = {c.name: c.dfe_name for c in spec.tables()[key].columns}  # as the file names them
                found.add(F.make(df["_file"][clash], df["_row"][clash], None, None, "duplicate-key", "excluded",
                                 f"same {' + '.join(dfe[c] for c in k)} as an earlier row in the same file with "
                                 "different values"))
            df = df[~clash]
        out[key] = df.reset_index(drop=True)
    ep = out.get("episodes")
    if ep is not None and len(ep):
        bad = (ep["start_date"] > year.end) | (ep["end_date"].notna() & (ep["end_date"] < year.start))
        if bad.any():
            found.add(F.make(ep["_file"][bad], ep["_row"][bad], "DECOM", ep["start_date"][bad].dt.strftime("%d/%m/%Y"),
                             "outside-return-year", "kept", f"episode not open during {year.label}"))
    return out


def check_combined(tables: dict[str, pd.DataFrame], forms: np.ndarray, earliest: CollectionYear,
                   year: CollectionYear, found: F.Findings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """Checks on the combined history (rows are kept; metrics apply their own rules); ``forms`` gives each
    child's identifier's :func:`identifier_forms`. Returns the episodes with the care episodes and periods
    of care derived from them for the checks, when there are episodes and reviews (the model derives the
    same)."""
    _identifier_collisions(tables, forms, found)
    header = tables.get("header")
    known_children = header["child_id"].unique() if header is not None else []
    if header is not None:
        _unknown_children(tables, known_children, found)
    ep = tables.get("episodes")
    if ep is None or not len(ep):
        return None
    orphan = ~ep["child_id"].isin(known_children)
    if orphan.any():
        found.add(F.make(ep["_file"][orphan], ep["_row"][orphan], "CHILD", None, "episode-unknown-child", "kept",
                         "episode for a child not in the header of any return: the child's sex, age and "
                         "ethnicity are unknown; add the child to header.csv"))
    e = ep.sort_values(["child_id", "start_date"], kind="stable").reset_index(drop=True)
    same = e["child_id"].eq(e["child_id"].shift()).fillna(False).astype(bool)
    prev_end = e["end_date"].shift()
    overlap = same & (prev_end.isna() | (e["start_date"] < prev_end))
    if overlap.any():
        found.add(F.make(e["_file"][overlap], e["_row"][overlap], "DECOM",
                         e["start_date"][overlap].dt.strftime("%d/%m/%Y"), "episode-overlap", "kept"))
    nxt = e["start_date"].shift(-1).where(e["child_id"].eq(e["child_id"].shift(-1)).fillna(False).astype(bool))
    x1 = (e["reason_ceased"] == "X1").fillna(False) & e["end_date"].notna() & (nxt != e["end_date"])
    x1 &= e["end_date"] <= year.end
    if x1.any():
        found.add(F.make(e["_file"][x1], e["_row"][x1], "REC", e["reason_ceased"][x1], "x1-no-continuation", "kept"))

    rv = tables.get("reviews")
    if rv is None or not len(rv):
        return None
    unknown = ~rv["child_id"].isin(known_children)
    if unknown.any():
        found.add(F.make(rv["_file"][unknown], rv["_row"][unknown], "CHILD", None, "review-unknown-child", "kept"))
    if header is not None and len(header):
        hdob = rv["child_id"].map(header.drop_duplicates("child_id", keep="last").set_index("child_id")["dob"])
        mismatch = hdob.notna() & (hdob != rv["dob"])
        if mismatch.any():
            found.add(F.make(rv["_file"][mismatch], rv["_row"][mismatch], "DOB", None, "dob-mismatch", "kept"))
    care = care_episodes(ep)
    periods = periods_of_care(care)
    attached = attach_periods(rv[["child_id", "review_date"]], periods)
    outside = attached["period_id"].isna().to_numpy() & (rv["review_date"] <= year.end).to_numpy()
    if outside.any():
        found.add(F.make(rv["_file"][outside], rv["_row"][outside], "REVIEW",
                         rv["review_date"][outside].dt.strftime("%d/%m/%Y"), "review-outside-care", "kept"))
    age = age_in_years(rv["dob"], rv["review_date"])
    code = rv["participation"]
    pn0_old = (code == "PN0").fillna(False) & (age >= 4).fillna(False)
    pn_young = code.isin([f"PN{i}" for i in range(1, 8)]).fillna(False) & (age < 4).fillna(False)
    for mask, rule in ((pn0_old, "pn0-age-4-plus"), (pn_young, "pn-under-4")):
        if mask.any():
            found.add(F.make(rv["_file"][mask], rv["_row"][mask], "REVIEW_CODE", code[mask], rule, "kept"))
    return ep, care, periods


def _unknown_children(tables: dict[str, pd.DataFrame], known: np.ndarray, found: F.Findings) -> None:
    """Rows of the other child tables (IRO allocations and contacts, UASC, outcomes...) whose child is in no
    return's header: a re-keyed or mistyped CHILD, whose record would otherwise count in no figure
    unremarked (episodes and reviews have findings of their own)."""
    for key, df in tables.items():
        if key in ("header", "episodes", "reviews") or "child_id" not in df or not len(df):
            continue
        unknown = ~df["child_id"].isin(known)
        if unknown.any():
            found.add(F.make(df["_file"][unknown], df["_row"][unknown], "CHILD", None, "record-unknown-child",
                             "kept", "record for a child not in the header of any return: it counts in no figure "
                             "about children looked after; if the child is there under another CHILD, write the "
                             "identifier the same way in every file"))


def identifier_forms(children: pd.Index) -> np.ndarray:
    """Each CHILD identifier without spaces, leading zeros or letter case, as a number: identifiers with
    the same number (``7``, ``007``) probably name one child."""
    form = pd.Series(children, dtype="string").str.replace(r"\s+", "", regex=True).str.lstrip("0").str.casefold()
    return pd.factorize(form)[0]


def _identifier_collisions(tables: dict[str, pd.DataFrame], forms: np.ndarray, found: F.Findings) -> None:
    """Rows of any child table whose CHILD differs from another child's only by leading zeros, spaces or
    case (``7`` in one file, ``007`` in another, as a spreadsheet that drops leading zeros writes it):
    probably one child counted twice."""
    frames = [df for df in tables.values() if "child_id" in df and len(df)]
    used = np.zeros(len(forms), dtype=bool)  # the children the tables name
    for df in frames:
        used[df["child_id"].to_numpy()] = True
    variants = np.bincount(forms[used], minlength=len(forms))  # how many of them share each form
    for df in frames:
        clash = variants[forms[df["child_id"].to_numpy()]] > 1
        if clash.any():
            found.add(F.make(df["_file"][clash], df["_row"][clash], "CHILD", None, "identifier-collision", "kept",
                             "this CHILD differs from another child's only by leading zeros, spaces or letter "
                             "case: counted as two children; if they are one, write the identifier the same way "
                             "in every file"))

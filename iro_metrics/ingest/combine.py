"""Combine several returns into one history (``metrics.md`` §0, ``ssda903.md`` §7).

Each return restates the episodes open during its year; the latest return wins on each key.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from iro_metrics.ingest import findings as F
from iro_metrics.ingest.read import PROVENANCE
from iro_metrics.years import CollectionYear

#: table -> the internal columns that identify one record across returns.
KEYS: dict[str, list[str]] = {
    "header": ["child_id"],
    "episodes": ["child_id", "start_date"],
    "reviews": ["child_id", "review_date"],
    "uasc": ["child_id"],
    "oc2": ["child_id", "_year"],
    "oc3": ["child_id", "_year"],
    "iro_staff": ["iro_id", "start_date"],
    "iro_allocations": ["child_id", "iro_id", "start_date"],
    "escalations": ["escalation_id"],
    "review_records": ["child_id", "review_date"],
    "feedback": ["response_id"],
    "audits": ["audit_id"],
}


def combine(frames: list[pd.DataFrame], table: str) -> pd.DataFrame:
    """Stack one table's frames (each with ``_year``) and keep the latest return's row per key.

    Tables without a key keep every distinct row (exact repeats across returns collapse).
    """
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True).sort_values("_year", kind="stable")
    key = KEYS.get(table) or [c for c in df.columns if c not in (*PROVENANCE, "_year")]
    return df.drop_duplicates(subset=key, keep="last").reset_index(drop=True)


def close_unrestated(episodes: pd.DataFrame, children_by_return: dict[int, Collection], found: F.Findings
                     ) -> pd.DataFrame:
    """End the open episodes that the next return does not restate (``metrics.md`` §0).

    An episode open at the end of one return (no DEC) whose child is absent from the next return's
    episodes is treated as ended on its own return's 31 March, as regional pooling tools do; each
    one is a finding naming the two returns and how many children. ``children_by_return`` maps each
    return's start year to the children in its episodes table. Returns a new frame.
    """
    years = sorted(children_by_return)
    if not len(episodes) or len(years) < 2:
        return episodes
    out = episodes
    for y, nxt in zip(years, years[1:]):
        restated = episodes["child_id"].isin(children_by_return[nxt])
        gone = (episodes["_year"] == y) & episodes["end_date"].isna() & ~restated
        if not gone.any():
            continue
        this, then = CollectionYear(y), CollectionYear(nxt)
        n = episodes.loc[gone, "child_id"].nunique()
        found.add(F.make(episodes["_file"][gone], episodes["_row"][gone], "DEC", None, "not-restated", "ended",
                         f"open at 31 March in the {this.label} return, but {n} such children are not in the "
                         f"{then.label} return's episodes: each episode treated as ended on "
                         f"{this.end:%d/%m/%Y}"))
        if out is episodes:
            out = episodes.copy()
        out.loc[gone, "end_date"] = this.end
    return out

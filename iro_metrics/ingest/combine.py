"""Combine several returns into one history (``metrics.md`` §0, ``ssda903.md`` §7).

Each return restates the episodes open during its year; the latest return wins on each key.
"""

from __future__ import annotations

import pandas as pd

from iro_metrics.ingest.read import PROVENANCE

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

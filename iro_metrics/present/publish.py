"""Published tables: every breakdown table with disclosure control applied, as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iro_metrics.present.suppression import published, suppress_counts


def publish_table(df: pd.DataFrame, threshold: int = 5) -> pd.DataFrame:
    """One table as published: its integer columns are counts (each adds up to a published total);
    any other number in a row with a hidden count is hidden too (a percentage, a median), since it
    was computed from the hidden count."""
    counts = [c for c in df.columns if pd.api.types.is_integer_dtype(df[c])]
    numbers = [c for c in df.columns if c not in counts and pd.api.types.is_numeric_dtype(df[c])]
    hidden = suppress_counts(df[counts], threshold=threshold) if counts else pd.DataFrame(index=df.index)
    row_hidden = hidden.any(axis=1) if counts else pd.Series(False, index=df.index)
    for c in numbers:
        hidden[c] = row_hidden
    return published(df, hidden, {c: "{:,.1f}" for c in numbers})


def publish_tables(tables: dict[str, pd.DataFrame | None], threshold: int = 5) -> dict[str, pd.DataFrame]:
    """Every table that was computed (inputs not supplied give no table)."""
    return {k: publish_table(v, threshold) for k, v in tables.items() if v is not None}


def write_tables(tables: dict[str, pd.DataFrame], out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in sorted(tables.items()):
        path = out / f"{name}.csv"
        df.to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths

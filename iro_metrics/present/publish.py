"""Published tables: every breakdown table with disclosure control applied, as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from iro_metrics.present.suppression import published, suppress_counts


#: how non-count numbers are shown, by column name (anything else: one decimal)
FORMATS = {"rate_per_10000": "{:,.0f}", "ratio_to_white": "{:.2f}"}
#: a table with this column is long: a first row for the whole council (characteristic "All", never
#: suppressed) and a block of groups per characteristic, each block adding up to that row
BLOCK, TOTAL = "characteristic", "All"
#: text columns that say something about a row's numbers, hidden with them
FLAGS = ("attention",)
#: percentages that are a share of their own count column's (published) total: hidden with that count
#: alone, not with the whole row
SHARES = {"iros_pct": "iros", "children_pct": "children"}


#: a count that is the sum of other counts in its row (reviews = on time + late + unknown timeliness;
#: counted reviews = views conveyed + no participation): shown, it would give away a hidden part
ROW_TOTALS = {"reviews": ("on_time", "late", "conveyed", "no_participation")}


def _hide(counts: pd.DataFrame, threshold: int) -> pd.DataFrame:
    if BLOCK not in counts.columns:
        return suppress_counts(counts, threshold=threshold)
    hidden = pd.DataFrame(False, index=counts.index, columns=counts.columns.drop(BLOCK))
    while True:  # down each block's columns, then across each row's total, until nothing more is hidden
        before = hidden.copy()
        for name, block in counts.groupby(BLOCK, sort=False):
            if name != TOTAL:
                hidden.loc[block.index] = suppress_counts(block.drop(columns=BLOCK), threshold=threshold,
                                                          already=hidden.loc[block.index])
        for total, parts in ROW_TOTALS.items():
            parts = [p for p in parts if p in hidden.columns]
            if total in hidden.columns and parts:
                hidden.loc[hidden[parts].any(axis=1) & (counts[BLOCK] != TOTAL), total] = True
        if hidden.equals(before):
            return hidden


def publish_table(df: pd.DataFrame, threshold: int = 5) -> pd.DataFrame:
    """One table as published: its integer columns are counts (each adds up to a published total,
    within each characteristic's block in a long table); any other number in a row with a hidden
    count is hidden too (a percentage, a median), since it was computed from the hidden count, and
    so is a flag that describes them."""
    counts = [c for c in df.columns if pd.api.types.is_integer_dtype(df[c])]
    numbers = [c for c in df.columns if c not in counts and pd.api.types.is_numeric_dtype(df[c])]
    if counts:
        hidden = _hide(df[counts + ([BLOCK] if BLOCK in df.columns else [])], threshold)
    else:
        hidden = pd.DataFrame(index=df.index)
    row_hidden = hidden.any(axis=1) if counts else pd.Series(False, index=df.index)
    for c in numbers + [f for f in FLAGS if f in df.columns]:
        hidden[c] = hidden[SHARES[c]] if c in SHARES and SHARES[c] in counts else row_hidden
    return published(df, hidden, {c: FORMATS.get(c, "{:,.1f}") for c in numbers})


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

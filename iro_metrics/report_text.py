"""Plain-text summaries for the terminal."""

from __future__ import annotations

from iro_metrics.ingest.load import CouncilData


def validation_summary(data: CouncilData, limit: int = 20) -> str:
    """What was read, and the findings counted by rule with up to ``limit`` examples each."""
    lines = [f"Collection year {data.year.label} (returns from {data.earliest_year.label})"]
    if data.la:
        lines.append(f"Council: {data.la}")
    lines += [f"  {n}" for n in data.notes]
    lines.append("Tables read: " + ", ".join(f"{k} ({len(v):,} rows)" for k, v in sorted(data.tables.items())))
    f = data.findings.frame()
    if data.unusable():
        lines.append("The indicators cannot be computed from these tables (see the error below).")
    if f.empty:
        if not data.unusable():
            lines.append("No findings: the data passed every check.")
        return "\n".join(lines)
    lines.append(f"{len(f):,} findings (each row was kept, trimmed, excluded or ended as shown):")
    for _, s in data.findings.summary().iterrows():
        lines.append(f"  {s['count']:>7,}  {s['rule']} [{s['action']}]: {s['description']}")
    lines.append("")
    for rule, group in f.groupby("rule", sort=True):
        lines.append(f"{rule}:")
        for _, r in group.head(limit).iterrows():
            col = f", column {r['column']}" if r["column"] else ""
            val = f" = {r['value']!r}" if r["value"] else ""
            done = "" if r["message"].endswith(r["action"]) else f" ({r['action']})"  # "...; row excluded"
            lines.append(f"  {r['file']}, row {r['row']}{col}{val}: {r['message']}{done}")
        if len(group) > limit:
            lines.append(f"  ... and {len(group) - limit:,} more (use --json for all)")
    return "\n".join(lines)

"""Row-level findings: problems that leave the data usable, each kept, trimmed or excluded.

A finding names the file, the row as a spreadsheet user counts it (header = row 1), the column,
the value (never for identifier columns), the rule and what was done with the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: rule id -> plain-English description, shown in summaries and the report's data-quality notes.
RULES: dict[str, str] = {
    "unexpected-column": "column not in the DfE layout for this table; ignored",
    "required-blank": "a required value is blank",
    "whitespace": "value had leading or trailing spaces; trimmed",
    "date-format": "date not written as dd/mm/yyyy (or yyyy-mm-dd)",
    "date-invalid": "not a real calendar date",
    "not-a-number": "expected a number",
    "out-of-range": "number outside the possible range; left out of every figure",
    "date-too-early": "date before 1900",
    "date-after-year-end": "date after the end of the collection year of the return that holds it",
    "end-before-start": "end date earlier than the start date on the same row",
    "no-data-rows": "optional file with a header but no data rows: its figures show none",
    "episode-unknown-child": "episode for a child not in the header",
    "identifier-collision": "child identifiers that differ only by leading zeros, spaces or letter case",
    "history-gap": "a collection year missing from the history: the years before it are not used",
    "unknown-code": "code not in the DfE code list for any year",
    "upn-format": "not a unique pupil number (a letter and 12 characters) nor UN1-UN5",
    "postcode-format": "not shaped like a UK postcode",
    "table-not-in-year": "this table is not part of the return for this collection year; its rows are ignored",
    "code-not-valid-for-year": "code exists but is not valid for this collection year",
    "sex-coding": "SEX coded the way another collection year codes it (1/2 until 2023-24, M/F/U from 2024-25)",
    "duplicate-row": "exact duplicate of an earlier row in the same file",
    "duplicate-key": "same key as an earlier row in the same file with different values",
    "outside-return-year": "dated outside the collection year of the return that holds it",
    "episode-overlap": "episode starts before the child's previous episode ended",
    "x1-no-continuation": "episode ceased X1 but no episode starts on that day",
    "review-outside-care": "review dated outside any period of care",
    "review-unknown-child": "review for a child not in the header",
    "record-unknown-child": "a record (IRO allocation, contact, UASC, outcome...) for a child not in the header",
    "pn0-age-4-plus": "PN0 recorded but the child was 4 or over on the review date",
    "pn-under-4": "PN1-PN7 recorded but the child was under 4 on the review date",
    "dob-mismatch": "date of birth differs from the header",
    "not-restated": "episode open at the end of one return, but the child is not in the next return's episodes",
}

ACTIONS = ("kept", "trimmed", "excluded", "ignored", "value-excluded", "ended")
COLUMNS = ["file", "row", "column", "value", "rule", "message", "action"]


def make(file: str | pd.Series, rows, column: str | None, values, rule: str, action: str,
         message: str | None = None) -> pd.DataFrame:
    """Build a frame of findings for many rows at once (vectorised). ``rows`` and ``values`` are
    array-likes of the same length; ``values`` is None for identifier columns."""
    if rule not in RULES or action not in ACTIONS:
        raise ValueError(f"unknown rule or action: {rule}, {action}")
    rows = np.asarray(rows, dtype="int64")
    n = len(rows)
    vals = "" if values is None else pd.Series(values, dtype="string").fillna("").to_numpy()
    return pd.DataFrame({
        "file": file if isinstance(file, str) else np.asarray(file, dtype=str),
        "row": rows,
        "column": column or "",
        "value": vals if n else [],
        "rule": rule,
        "message": message or RULES[rule],
        "action": action,
    }, columns=COLUMNS, index=range(n))


@dataclass
class Findings:
    """An append-only collection of finding frames."""

    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(self, frame: pd.DataFrame) -> None:
        if len(frame):
            self.parts.append(frame)

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=COLUMNS).astype({"row": "int64"})
        out = pd.concat(self.parts, ignore_index=True)
        return out.sort_values(["file", "row", "column", "rule"], kind="stable", ignore_index=True)

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def summary(self) -> pd.DataFrame:
        """Counts by rule and action, largest first."""
        f = self.frame()
        if f.empty:
            return pd.DataFrame(columns=["rule", "action", "count", "description"])
        s = f.groupby(["rule", "action"]).size().rename("count").reset_index()
        s["description"] = s["rule"].map(RULES)
        return s.sort_values(["count", "rule"], ascending=[False, True], ignore_index=True)

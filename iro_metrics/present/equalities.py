"""The equalities section in words: each group marked for attention, stated as a sentence
(``metrics.md`` §9), never by colour alone. Sentences are made from the published table, so a
suppressed figure is never stated."""

from __future__ import annotations

import pandas as pd

from iro_metrics.comparators import numeric
from iro_metrics.metrics.equalities import ATTENTION_MIN, ATTENTION_POINTS, TOTAL

#: (characteristic, group) -> how a sentence names the children of that group
WHO = {
    ("Sex", "Male"): "boys", ("Sex", "Female"): "girls", ("Sex", "Unknown"): "children whose sex is unknown",
    ("Ethnicity", "White"): "White children", ("Ethnicity", "Mixed"): "children of mixed ethnicity",
    ("Ethnicity", "Asian"): "Asian children", ("Ethnicity", "Black"): "Black children",
    ("Ethnicity", "Other"): "children of other ethnic groups",
    ("Ethnicity", "Not known"): "children whose ethnicity is not known",
    ("UASC", "UASC"): "unaccompanied asylum-seeking children",
    ("UASC", "Not UASC"): "children who are not unaccompanied asylum seekers",
    ("Disability", "Disability"): "disabled children (category of need N2)",
    ("Disability", "Other need"): "children with another category of need",
}

#: table -> [(percentage column, group-size column, sentence)]; {who}, {value}, {all} are filled in
SENTENCES: dict[str, list[tuple[str, str, str]]] = {
    "equalities_reviews": [("on_time_pct", "reviews",
                            "Reviews of {who} were on time {value}% of the time, against {all}% for all children.")],
    "equalities_participation": [
        ("participation_pct", "reviews",
         "In reviews of {who}, the child's views were conveyed {value}% of the time, against {all}% for all "
         "children."),
        ("no_participation_pct", "reviews",
         "In reviews of {who}, the child took no part {value}% of the time, against {all}% for all children.")],
    "equalities_stability": [
        ("placements_3plus_pct", "children",
         "{value}% of {who} had 3 or more placements in the year, against {all}% of all children."),
        ("long_term_stability_pct", "long_term_children",
         "{value}% of {who} in long-term care had lived with the same carers for 2 years or more, against "
         "{all}% of all children.")],
    "equalities_escalations": [
        ("per_100_children", "children",
         "IROs raised {value} escalations per 100 {who}, against {all} per 100 children overall.")],
}


def who(characteristic: str, group: str) -> str:
    if characteristic == "Age":
        return f"children aged {group[:1].lower() + group[1:]}"
    return WHO.get((characteristic, group), f"{group} children")


def group_size(table_id: str, pct: str) -> str:
    """The column that counts the group a percentage of ``table_id`` is about (its attention rule's size)."""
    return next(size for p, size, _ in SENTENCES[table_id] if p == pct)


def marked(shown: str, overall: str, size: str) -> bool:
    """Whether a published percentage is marked for attention against the whole council's (both as
    published; a suppressed or missing one never is)."""
    value, whole, n = numeric(shown), numeric(overall), numeric(size)
    return None not in (value, whole, n) and n >= ATTENTION_MIN and abs(value - whole) >= ATTENTION_POINTS - 1e-9


def attention_statements(table_id: str, published: pd.DataFrame) -> list[str]:
    """One sentence per group and measure marked for attention in a published equalities table."""
    total = published[published["characteristic"] == TOTAL].iloc[0]
    out = []
    for _, row in published[published["attention"] == "Yes"].iterrows():
        for pct, size, sentence in SENTENCES.get(table_id, []):
            if not marked(row[pct], total[pct], row[size]):
                continue
            text = sentence.format(who=who(row["characteristic"], row["group"]), value=row[pct], all=total[pct])
            out.append(text[:1].upper() + text[1:])
    return out


def no_attention(table_id: str) -> str:
    measures = {"equalities_escalations": "rate per 100 children"}.get(table_id, "percentage")
    return (f"No group's {measures} differs from all children's by {ATTENTION_POINTS} points or more (among "
            f"groups of at least {ATTENTION_MIN}).")

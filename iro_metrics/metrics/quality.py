"""Quality and voice: IRO contact between reviews, review records, feedback, audits (``metrics.md`` §7).

Each is shown only when its input file is supplied.
"""

from __future__ import annotations

import pandas as pd

from iro_metrics import spec
from iro_metrics.dates import add_months, add_working_days
from iro_metrics.metrics.registry import Indicator, metric, percent, table
from iro_metrics.metrics.reviews import held_in_year
from iro_metrics.model import Model

POSITIVE_SCORE = 4


@metric("iro_contact_between_reviews_pct", "Children with IRO contact between reviews (%)", "quality", "percent",
        ("iro_contacts",))
def iro_contact_between_reviews_pct(m: Model) -> Indicator:
    """Of children looked after on 31 March who had then been looked after for 6 months or more (in
    their current period of care), the percentage with at least one IRO contact between reviews
    (midway review, visit, call or other) recorded in the year."""
    cur = m.cla_episodes_at_year_end
    six_months_ago = add_months(pd.Series(m.year_end, index=cur.index), -6)
    cohort = cur.index[cur["period_start"] <= six_months_ago]
    c = m.data["iro_contacts"]
    c = c[(c["contact_date"] >= m.year_start) & (c["contact_date"] <= m.year_end)]
    return percent(int(cohort.isin(set(c["child_id"])).sum()), len(cohort))


@metric("review_records_within_20wd_pct", "Review records distributed within 20 working days (%)", "quality",
        "percent", ("review_records", "reviews"))
def review_records_within_20wd_pct(m: Model) -> Indicator:
    """Of reviews held in the year that have an IRO review record, the percentage whose record was
    sent within 20 working days of the review. A record with no date sent counts as not sent in time."""
    held = held_in_year(m)[["child_id", "review_date"]]
    rec = m.data["review_records"].merge(held, on=["child_id", "review_date"], how="inner")
    deadline = add_working_days(rec["review_date"], 20)
    sent = rec["record_sent"].notna() & (rec["record_sent"] <= deadline)
    return percent(int(sent.sum()), len(rec))


@table("feedback_by_respondent", "Feedback: responses and share positive by respondent", "quality", ("feedback",))
def feedback_by_respondent(m: Model) -> pd.DataFrame:
    """Feedback responses dated in the year by respondent group: number of responses and the
    percentage positive (a score of 4 or 5 out of 5)."""
    f = m.data["feedback"]
    f = f[(f["date"] >= m.year_start) & (f["date"] <= m.year_end)]
    order = list(spec.labels("RESPONDENT"))
    g = pd.DataFrame({"respondent": f["respondent"], "positive": f["score"] >= POSITIVE_SCORE}).groupby("respondent")
    out = pd.DataFrame({"responses": g.size(), "positive": g["positive"].sum()}).reindex(order, fill_value=0)
    out = out.astype("int64")
    out["positive_pct"] = [percent(p, n).value for p, n in zip(out["positive"], out["responses"], strict=True)]
    out.index = [spec.labels("RESPONDENT")[k] for k in out.index]
    return out.rename_axis("respondent").reset_index()


@table("audits_by_grade", "Quality assurance audits by grade", "quality", ("audits",))
def audits_by_grade(m: Model) -> pd.DataFrame:
    """Quality assurance audits of children's files dated in the year, by grade."""
    a = m.data["audits"]
    a = a[(a["date"] >= m.year_start) & (a["date"] <= m.year_end)]
    order = list(spec.labels("AUDIT_GRADE"))
    c = a["grade"].value_counts().reindex(order, fill_value=0)
    return pd.DataFrame({"grade": [spec.labels("AUDIT_GRADE")[k] for k in order], "audits": c.to_numpy(dtype="int64")})

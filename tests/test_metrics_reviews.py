"""Review timeliness, worked by hand from metrics.md §2.

Data: returns 2023-24 and 2024-25 (history before 1 April 2023 is unknown).

A  starts Fri 22/03/2024. First review due 23/04/2024 (20 working days over Good Friday and
   Easter Monday): held 23/04 = on time, on the due date. Second due 23/07/2024: held 24/07 =
   late by 1 day. Third due 24/01/2025 (6 months from the actual 24/07): held 24/01 = on time.
B  starts Mon 02/12/2024. Due 02/01/2025 (over Christmas, Boxing Day, New Year): held 03/01/2025 =
   late by 1 day. Next due 03/04/2025, after the year end.
C  starts Mon 06/05/2024, itself a bank holiday. Due 04/06/2024 (spring bank holiday skipped):
   held 04/06 = on time. Second due 04/09/2024: held 02/09 = on time. Third due 02/03/2025: not
   held = overdue at 31 March.
D  starts 03/08/2023. Due 01/09/2023 (summer bank holiday 28/08 skipped): held 31/08/2023.
   Second due 30/11/2023 (3 months from the 31st): held 30/11. Third due 30/05/2024: held 30/05.
   Leaves 01/07/2024 (next due 30/11/2024 falls after the period ended: no due date), re-enters
   Tue 01/10/2024: a new 20-working-day clock, due 29/10/2024: held 29/10. Second due 29/01/2025:
   held 29/01.
E  in care since 2020, before the data begins. First review on record 31/08/2023: unknown
   timeliness, treated as a later review, so the next is due 6 months on: 29/02/2024 (leap day).
   Held 01/03/2024 = late. Next due 01/09/2024: held 01/09. Next due 01/03/2025: held 28/02/2025.
F  starts Sat 01/04/2023. Due 03/05/2023 (Good Friday, Easter Monday, early May holiday): held
   20/04/2023; second due 20/07/2023: held 20/07; third due 20/01/2024: held 10/01/2024; running due
   10/07/2024. Placed for adoption 01/06/2024, so due 29/06/2024 (28 days): held 01/07/2024 = late
   by 2 days. The review after it is due 3 months later, 01/10/2024: held 30/09. Then 30/03/2025:
   held 30/03/2025 = on time.
G  short breaks only (V3): never counted.
"""

from __future__ import annotations

import pandas as pd
import pytest

from iro_metrics.metrics import compute_all
from iro_metrics.metrics.reviews import (children_all_reviews_on_time_pct, reviews_by_sequence, reviews_days_late,
                                         reviews_held, reviews_late, reviews_on_time, reviews_on_time_pct,
                                         reviews_overdue_at_31_march, reviews_timeliness_unknown)


def build_scenario(c):
    """Children A-G of the module docstring."""
    for cid in "ABCDEFG":
        c.child(cid, "2012-01-15")
    c.stay("A", ("2024-03-22", "S", "U4"))
    c.review("A", "2024-04-23").review("A", "2024-07-24").review("A", "2025-01-24")
    c.stay("B", ("2024-12-02", "S", "U4"))
    c.review("B", "2025-01-03")
    c.stay("C", ("2024-05-06", "S", "U4"))
    c.review("C", "2024-06-04").review("C", "2024-09-02")
    c.stay("D", ("2023-08-03", "S", "U4"), end="2024-07-01", rec="E4A")
    c.stay("D", ("2024-10-01", "S", "U6"))
    for r in ["2023-08-31", "2023-11-30", "2024-05-30", "2024-10-29", "2025-01-29"]:
        c.review("D", r)
    c.stay("E", ("2020-06-01", "S", "U4"))
    for r in ["2023-08-31", "2024-03-01", "2024-09-01", "2025-02-28"]:
        c.review("E", r)
    c.stay("F", ("2023-04-01", "S", "U4", "C2"), ("2024-06-01", "B", "A4", "E1"))
    for r in ["2023-04-20", "2023-07-20", "2024-01-10", "2024-07-01", "2024-09-30", "2025-03-30"]:
        c.review("F", r)
    c.stay("G", ("2024-01-01", "S", "U4", "V3"))
    return c


@pytest.fixture
def scenario(council):
    return build_scenario(council)


def due_dates(model, child):
    r = model.reviews[model.reviews["child_id"] == model.data.child_key(child)]
    return [(None if pd.isna(d) else d.strftime("%d/%m/%Y"), None if pd.isna(t) else bool(t))
            for d, t in zip(r["due_date"], r["on_time"], strict=True)]


def test_due_dates_follow_the_statutory_cadence(scenario):
    m = scenario.model("2023-24", "2024-25")
    assert due_dates(m, "A") == [("23/04/2024", True), ("23/07/2024", False), ("24/01/2025", True)]
    assert due_dates(m, "B") == [("02/01/2025", False)]
    assert due_dates(m, "C") == [("04/06/2024", True), ("04/09/2024", True)]
    assert due_dates(m, "D") == [("01/09/2023", True), ("30/11/2023", True), ("30/05/2024", True),
                                 ("29/10/2024", True), ("29/01/2025", True)]
    e = m.reviews[m.reviews["child_id"] == m.data.child_key("E")]
    assert pd.isna(e["due_date"].iloc[0]) and pd.isna(e["on_time"].iloc[0])
    assert due_dates(m, "E")[1:] == [("29/02/2024", False), ("01/09/2024", True), ("01/03/2025", True)]
    assert due_dates(m, "F") == [("03/05/2023", True), ("20/07/2023", True), ("20/01/2024", True),
                                 ("29/06/2024", False), ("01/10/2024", True), ("30/03/2025", True)]
    assert "G" not in set(m.data.children[m.reviews["child_id"]])


def test_indicators_2024_25(scenario):
    m = scenario.model("2023-24", "2024-25")
    assert reviews_held(m).value == 14
    assert reviews_on_time(m).value == 11
    assert reviews_late(m).value == 3
    assert reviews_timeliness_unknown(m).value == 0
    pct = reviews_on_time_pct(m)
    assert (pct.value, pct.numerator, pct.denominator) == (78.6, 11, 14)
    assert reviews_overdue_at_31_march(m).value == 1  # C
    all_on_time = children_all_reviews_on_time_pct(m)
    assert (all_on_time.numerator, all_on_time.denominator, all_on_time.value) == (2, 6, 33.3)  # D and E


def test_breakdowns_2024_25(scenario):
    m = scenario.model("2023-24", "2024-25")
    seq = reviews_by_sequence(m).set_index("sequence")
    assert seq.loc["first"].tolist() == [3, 1, 0, 4]
    assert seq.loc["second"].tolist() == [2, 1, 0, 3]
    assert seq.loc["later"].tolist() == [6, 1, 0, 7]
    late = reviews_days_late(m).set_index("days_late")["reviews"]
    assert late.to_dict() == {"1 to 7": 3, "8 to 28": 0, "29 or more": 0}


def test_indicators_2023_24_with_unknown_history(scenario):
    m = scenario.model("2023-24", "2024-25", year="2023-24")
    assert reviews_held(m).value == 7
    assert reviews_timeliness_unknown(m).value == 1  # E's first review on record
    pct = reviews_on_time_pct(m)
    assert (pct.numerator, pct.denominator) == (5, 6)
    assert reviews_overdue_at_31_march(m).value == 0


def test_reviews_after_the_year_end_are_ignored(scenario):
    # a review held after 31 March cannot stop a due date in the year from being missed
    scenario.review("C", "2025-04-02")
    m = scenario.model("2023-24", "2025-26", year="2024-25")
    assert reviews_overdue_at_31_march(m).value == 1
    assert reviews_held(m).value == 14


def test_short_break_reviews_are_findings_not_reviews(scenario):
    scenario.review("G", "2024-06-01")
    m = scenario.model("2023-24", "2024-25")
    assert reviews_held(m).value == 14
    f = m.data.findings.frame()
    assert (f["rule"] == "review-outside-care").sum() == 1


def test_no_reviews_file_gives_nulls_not_zeros(council):
    council.child("A", "2012-01-01").stay("A", ("2024-05-01", "S", "U4"))
    council.write("2024-25", "2024-25")
    (council.root / "2024-25" / "reviews.csv").unlink()
    from iro_metrics.ingest.load import load_council
    from iro_metrics.model import build_model

    indicators, _ = compute_all(build_model(load_council(council.root, "2024-25")))
    assert indicators["reviews_held"].value is None
    assert indicators["cla_at_31_march"].value == 1


def test_overdue_looks_only_at_the_current_period(council):
    """H came into care Thu 01/08/2024: first review due 30/08/2024 (summer bank holiday 26/08), held
    29/08. Her second, due 29/11/2024, was never held before she went home on 01/01/2025 (the due date
    falls inside that period, so it was missed). She came back Sat 01/03/2025: her new first review is due
    on the 20th working day, 28/03/2025 (Good Friday 2025 is 18 April, so no holiday in between),
    and was held on 20/03/2025. On 31 March she is not overdue: the latest due date is the current
    period's next one, 20/06/2025. The missed due date still fails her in the all-on-time measure."""
    c = council
    c.child("H", "2012-01-01")
    c.stay("H", ("2024-08-01", "S", "U4"), end="2025-01-01", rec="E4A")
    c.stay("H", ("2025-03-01", "S", "U4"))
    c.review("H", "2024-08-29").review("H", "2025-03-20")
    m = c.model("2024-25", "2024-25")
    assert reviews_overdue_at_31_march(m).value == 0
    assert children_all_reviews_on_time_pct(m).numerator == 0

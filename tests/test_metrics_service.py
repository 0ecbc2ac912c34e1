"""Participation, the IRO service, escalations and quality (metrics.md §3, §5-§7), worked by hand.
Year 2024-25 (31 March 2025)."""

import pytest

from iro_metrics.metrics import compute_all
from iro_metrics.metrics.escalations import (escalations_by_stage, escalations_open_at_31_march, escalations_raised,
                                             escalations_resolution, escalations_resolved_within_20wd_pct)
from iro_metrics.metrics.iro_service import (iro_allocated_within_5wd_pct, iro_caseload_by_iro, iro_caseload_per_fte,
                                             iro_changes, iro_fte_at_31_march, iro_headcount_at_31_march)
from iro_metrics.metrics.participation import (attendance_pct, no_participation_pct, participation_by_age,
                                               participation_by_code, participation_pct)
from iro_metrics.metrics.quality import (audits_by_grade, feedback_by_respondent, iro_contact_between_reviews_pct,
                                         review_records_within_20wd_pct)


def test_participation_leaves_pn0_out(council):
    """Codes PN0 (a 2-year-old), PN1 x2, PN3, PN5, PN7: conveyed PN1-6 = 4 of PN1-7 = 5 (80.0%),
    attended PN1-4 = 3 of 5 (60.0%), no participation PN7 = 1 of 5 (20.0%)."""
    c = council
    c.child("Y", "2022-06-01").child("A", "2015-01-01").child("B", "2008-01-01")
    for cid in "YAB":
        c.stay(cid, ("2024-04-02", "S", "U4"))
    c.review("Y", "2024-05-01", "PN0")
    c.review("A", "2024-05-01", "PN1").review("A", "2024-08-01", "PN3")
    c.review("B", "2024-05-01", "PN1").review("B", "2024-08-01", "PN5").review("B", "2025-01-02", "PN7")
    m = c.model("2024-25", "2024-25")
    p = participation_pct(m)
    assert (p.numerator, p.denominator, p.value) == (4, 5, 80.0)
    assert attendance_pct(m).value == 60.0
    assert no_participation_pct(m).value == 20.0
    codes = participation_by_code(m).set_index("code")["reviews"].to_dict()
    assert codes == {"PN0": 1, "PN1": 2, "PN2": 0, "PN3": 1, "PN4": 0, "PN5": 1, "PN6": 0, "PN7": 1}
    by_age = participation_by_age(m).set_index("age_band")
    assert by_age.loc["4 to 9"].tolist() == [2, 2, 100.0]  # A is 9
    assert by_age.loc["16 and over"].tolist() == [3, 2, 66.7]  # B is 16
    assert by_age.loc["10 to 15", "reviews"] == 0


def test_pn_codes_against_age_are_findings(council):
    council.child("Y", "2022-06-01").child("A", "2015-01-01")
    council.stay("Y", ("2024-04-02", "S", "U4")).stay("A", ("2024-04-02", "S", "U4"))
    council.review("Y", "2024-05-01", "PN1").review("A", "2024-05-01", "PN0")
    council.review("Y", "2026-06-01", "PN0")  # her 4th birthday is 01/06/2026: on the day she is 4
    m = council.model("2024-25", "2026-27", year="2026-27")
    rules = m.data.findings.frame()["rule"].value_counts().to_dict()
    assert rules.get("pn-under-4") == 1 and rules.get("pn0-age-4-plus") == 2


@pytest.fixture
def service(council):
    """IROs: I1 1.0 FTE and I2 0.5 FTE in post; I3 1.0 FTE left on 31/03/2025 (an end date is the first
    day not in post); I4 starts 01/04/2025. FTE 1.5, headcount 2.
    Children on 31 March: K1 and K2 allocated to I1, K3 to I2; K4's allocation ended 31/03/2025.
    Caseload 3 / 1.5 = 2.0. K3 started Mon 06/05/2024 (bank holiday), allocated 13/05 = the 5th
    working day: within. K4 started Mon 02/12/2024, allocated 10/12 = the 6th working day: not.
    K1 had I3 then I1 during the year: 2 IROs; the others 1."""
    c = council
    for cid in ["K1", "K2", "K3", "K4"]:
        c.child(cid, "2012-01-01")
    c.stay("K1", ("2023-06-01", "S", "U4")).stay("K2", ("2023-06-01", "S", "U4"))
    c.stay("K3", ("2024-05-06", "S", "U4")).stay("K4", ("2024-12-02", "S", "U4"))
    for iro, fte, start, end in [("I1", "1", "01/01/2020", ""), ("I2", "0.5", "01/06/2022", ""),
                                 ("I3", "1.0", "01/01/2019", "31/03/2025"), ("I4", "0.8", "01/04/2025", "")]:
        c.record("iro_staff", IRO_ID=iro, FTE=fte, START_DATE=start, END_DATE=end, AGENCY="0")
    for cid, iro, start, end in [("K1", "I3", "01/06/2023", "01/06/2024"), ("K1", "I1", "01/06/2024", ""),
                                 ("K2", "I1", "02/06/2023", ""), ("K3", "I2", "13/05/2024", ""),
                                 ("K4", "I2", "10/12/2024", "31/03/2025")]:
        c.record("iro_allocations", CHILD=cid, IRO_ID=iro, START_DATE=start, END_DATE=end)
    return c


def test_iro_service(service):
    m = service.model("2023-24", "2024-25")
    assert iro_fte_at_31_march(m).value == 1.5
    assert iro_headcount_at_31_march(m).value == 2
    caseload = iro_caseload_per_fte(m)
    assert (caseload.value, caseload.numerator) == (2.0, 3)
    assert iro_caseload_by_iro(m).set_index("caseload_per_fte")["iros"].to_dict() == {
        "under 50": 2, "50 to 70": 0, "over 70": 0}
    within = iro_allocated_within_5wd_pct(m)
    assert (within.numerator, within.denominator, within.value) == (1, 2, 50.0)
    changes = iro_changes(m).set_index("iros")["children"].to_dict()
    assert changes == {"none recorded": 0, "1": 3, "2": 1, "3 or more": 0}


def test_iro_section_is_null_when_not_supplied(council):
    council.child("A", "2012-01-01").stay("A", ("2024-05-01", "S", "U4"))
    indicators, tables = compute_all(council.model("2024-25", "2024-25"))
    assert indicators["iro_caseload_per_fte"].value is None
    assert indicators["escalations_raised"].value is None
    assert tables["iro_changes"] is None


def test_escalations(council):
    """E1 raised Mon 02/12/2024, resolved 02/01/2025 = 20th working day: within. E2 same day, resolved
    03/01/2025 = 21st: not. E3 raised 01/03/2025, ongoing. E4 raised 01/02/2024 (last year), resolved
    10/04/2024 (47 working days: not within). E5 raised 20/03/2025, resolved 02/04/2025: open on
    31 March. Raised in the year: E1 E2 E3 E5 = 4; resolved in the year E1 E2 E4, within 1 of 3 = 33.3%;
    open at 31 March: E3 E5 = 2; median working days to resolution: 21."""
    c = council
    c.child("A", "2012-01-01").stay("A", ("2023-05-01", "S", "U4"))
    for eid, raised, stage, resolved, outcome in [
            ("E1", "02/12/2024", "INFORMAL", "02/01/2025", "RESOLVED"),
            ("E2", "02/12/2024", "FORMAL1", "03/01/2025", "RESOLVED"),
            ("E3", "01/03/2025", "FORMAL2", "", "ONGOING"),
            ("E4", "01/02/2024", "INFORMAL", "10/04/2024", "RESOLVED"),
            ("E5", "20/03/2025", "INFORMAL", "02/04/2025", "RESOLVED")]:
        c.record("escalations", ESCALATION_ID=eid, CHILD="A", DATE_RAISED=raised, STAGE=stage, THEME="DRIFT",
                 DATE_RESOLVED=resolved, OUTCOME=outcome)
    m = c.model("2023-24", "2024-25")
    assert escalations_raised(m).value == 4
    within = escalations_resolved_within_20wd_pct(m)
    assert (within.numerator, within.denominator, within.value) == (1, 3, 33.3)
    assert escalations_open_at_31_march(m).value == 2
    stages = escalations_by_stage(m).set_index("stage")["escalations"].to_dict()
    assert stages == {"Informal": 2, "Formal stage 1": 1, "Formal stage 2": 1, "Formal stage 3": 0,
                      "Referred to Cafcass": 0}
    res = escalations_resolution(m).set_index("outcome")
    assert res.loc["Resolved", "escalations"] == 3 and res.loc["Resolved", "median_working_days"] == 21


def test_quality_and_voice(service):
    """Looked after 6 months or more on 31 March: K1 K2 K3 (K3 from 06/05/2024); contacts in the year for
    K1 and K3: 2 of 3 = 66.7%. Review records: K1's review 10/06/2024 sent 08/07/2024 (20th working day),
    K2's sent 09/07/2024 (21st): 1 of 2. Feedback from children 5, 4, 2: 66.7% positive; a carer 3: 0%.
    Audits: 2 good, 1 inadequate."""
    c = service
    c.review("K1", "2024-06-10").review("K2", "2024-06-10")
    c.record("iro_contacts", CHILD="K1", CONTACT_DATE="01/09/2024", CONTACT_TYPE="MIDWAY_REVIEW")
    c.record("iro_contacts", CHILD="K3", CONTACT_DATE="01/12/2024", CONTACT_TYPE="VISIT")
    c.record("iro_contacts", CHILD="K2", CONTACT_DATE="01/12/2023", CONTACT_TYPE="CALL")  # last year
    c.record("review_records", CHILD="K1", REVIEW="10/06/2024", RECORD_SENT="08/07/2024")
    c.record("review_records", CHILD="K2", REVIEW="10/06/2024", RECORD_SENT="09/07/2024")
    for i, (who, score) in enumerate([("CHILD", 5), ("CHILD", 4), ("CHILD", 2), ("CARER", 3)]):
        c.record("feedback", RESPONSE_ID=f"R{i}", DATE="01/10/2024", RESPONDENT=who, QUESTION="Q", SCORE=score)
    for i, grade in enumerate(["GOOD", "GOOD", "INADEQUATE"]):
        c.record("audits", AUDIT_ID=f"A{i}", CHILD="K1", DATE="01/11/2024", GRADE=grade)
    m = c.model("2023-24", "2024-25")
    contact = iro_contact_between_reviews_pct(m)
    assert (contact.numerator, contact.denominator, contact.value) == (2, 3, 66.7)
    records = review_records_within_20wd_pct(m)
    assert (records.numerator, records.denominator) == (1, 2)
    fb = feedback_by_respondent(m).set_index("respondent")
    assert fb.loc["Child or young person"].tolist() == [3, 2, 66.7]
    assert fb.loc["Carer"].tolist() == [1, 0, 0.0]
    assert audits_by_grade(m).set_index("grade")["audits"].to_dict() == {
        "Outstanding": 0, "Good": 2, "Requires improvement": 0, "Inadequate": 1}

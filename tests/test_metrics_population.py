"""Children looked after (metrics.md §1), worked by hand. Year 2024-25, returns 2023-24 and 2024-25.

P1 a baby, in care from 05/06/2024.                           P2 in 10/04/2024 - 01/06/2024 (E4A), again
P3 started 01/01/2025, open.                                   01/09/2024 - 01/12/2024 (E13): one start,
P4 ceased 31/03/2025 with an SGO (E45): not looked after       one cease (the last, "Returned home").
   on 31 March (an episode ending on a day is not open on it).  P5 started 31/03/2025: looked after.
P6 short breaks (V3): excluded everywhere.                   P7 UASC (status ceases after 31 March).
P8 UASC until 01/03/2025: not UASC on 31 March.
Looked after on 31 March: P1 P3 P5 P7 P8 = 5; during the year 7 (not P6); starts P1 P2 P3 P5 = 4;
ceased P2 P4 = 2. Rate per 10,000 with 2,500 children: 5 / 2,500 x 10,000 = 20.
"""

from iro_metrics.metrics.population import (cla_at_31_march, cla_by_age, cla_by_ethnicity, cla_by_legal_status,
                                            cla_by_placement, cla_by_sex, cla_ceased, cla_ceased_by_reason,
                                            cla_during_year, cla_rate_per_10000, cla_starts, uasc_at_31_march)


def build(c):
    c.child("P1", "2024-06-01").child("P2", "2015-01-01", sex="F").child("P3", "2021-05-01", ethnic="BAFR")
    c.child("P4", "2014-01-01").child("P5", "2017-08-01", ethnic="MWBC", sex="F").child("P6", "2012-01-01")
    c.child("P7", "2008-06-01", ethnic="OOTH").child("P8", "2012-07-01", ethnic="AOTH")
    c.stay("P1", ("2024-06-05", "S", "U3"))
    c.stay("P2", ("2024-04-10", "S", "U6"), end="2024-06-01", rec="E4A")
    c.stay("P2", ("2024-09-01", "S", "U6", "V2"), end="2024-12-01", rec="E13")
    c.stay("P3", ("2025-01-01", "S", "K2", "V2"))
    c.stay("P4", ("2023-05-01", "S", "U4"), end="2025-03-31", rec="E45")
    c.stay("P5", ("2025-03-31", "S", "U6", "L1"))
    c.stay("P6", ("2024-01-01", "S", "U4", "V3"))
    c.stay("P7", ("2023-10-01", "S", "H5", "V2"))
    c.stay("P8", ("2023-10-01", "S", "U6", "V2"))
    c.uasc = [{"CHILD": "P7", "SEX": "M", "DOB": "01/06/2008", "DUC": "01/06/2026"},
              {"CHILD": "P8", "SEX": "M", "DOB": "01/07/2012", "DUC": "01/03/2025"}]
    return c.model("2023-24", "2024-25", population=2500)


def test_counts(council):
    m = build(council)
    assert cla_at_31_march(m).value == 5
    assert cla_during_year(m).value == 7
    assert cla_starts(m).value == 4
    assert cla_ceased(m).value == 2
    rate = cla_rate_per_10000(m)
    assert (rate.value, rate.numerator, rate.denominator) == (20, 5, 2500)
    assert uasc_at_31_march(m).value == 1


def test_rate_is_absent_without_a_population(council):
    council.child("A", "2010-01-01").stay("A", ("2024-05-01", "S", "U4"))
    assert cla_rate_per_10000(council.model("2024-25", "2024-25")).value is None


def test_rate_rounds_half_up(council):
    # Rutland 2025 as published: 32 / 8,012 x 10,000 = 39.94 -> 40; and 1 / 400 x 10,000 = 25 exactly
    council.child("A", "2010-01-01").stay("A", ("2024-05-01", "S", "U4"))
    assert cla_rate_per_10000(council.model("2024-25", "2024-25", population=400)).value == 25
    assert cla_rate_per_10000(council.model("2024-25", "2024-25", population=8000)).value == 1  # 1.25 -> 1
    assert cla_rate_per_10000(council.model("2024-25", "2024-25", population=5714)).value == 2  # 1.75 -> 2


def test_breakdowns(council):
    m = build(council)
    ages = cla_by_age(m).set_index("age_band")["children"].to_dict()
    assert ages == {"Under 1": 1, "1 to 4": 1, "5 to 9": 1, "10 to 15": 1, "16 and over": 1}
    assert cla_by_sex(m).set_index("sex")["children"].to_dict() == {"Male": 4, "Female": 1, "Unknown": 0}
    eth = cla_by_ethnicity(m).set_index("ethnicity")["children"].to_dict()
    assert eth == {"White": 1, "Mixed": 1, "Asian": 1, "Black": 1, "Other": 1, "Not known": 0}
    ls = cla_by_legal_status(m).set_index("legal_status")["children"].to_dict()
    assert ls["Care order"] == 1 and ls["Section 20"] == 3 and ls["Police protection / EPO / CAO"] == 1
    pl = cla_by_placement(m).set_index("placement")["children"].to_dict()
    assert pl["Foster with relative or friend"] == 1 and pl["Other foster"] == 2
    assert pl["Children's homes"] == 1 and pl["Supported or independent living"] == 1
    ceased = cla_ceased_by_reason(m).set_index("reason")["children"].to_dict()
    assert ceased["Special guardianship order"] == 1 and ceased["Returned home"] == 1
    assert sum(ceased.values()) == 2


def test_inputs_are_not_mutated(council):
    m = build(council)
    before = {k: v.copy() for k, v in m.data.tables.items()}
    episodes, periods, reviews = m.episodes.copy(), m.periods.copy(), m.reviews.copy()
    from iro_metrics.metrics import compute_all

    compute_all(m)
    for k, v in before.items():
        assert v.equals(m.data.tables[k]), k
    assert episodes.equals(m.episodes) and periods.equals(m.periods) and reviews.equals(m.reviews)

"""Placement stability (metrics.md §4), worked by hand. Year 2024-25 (31 March 2025); returns from
2022-23, so that the 2.5-year history is in the data.

S1 U4 since 01/06/2023; T4 10/06/2024; back to U4 15/06/2024; moves to U6 01/09/2024: three new
   episodes with a placement reason, one move: 2 placements in the year.
S2 starts 01/05/2024, moves 01/08 and 01/11: 3 placements (3 or more).
S3 U4 since 01/04/2022; placement order 01/06/2024 (L); placed for adoption with the same carer
   (A5, RNE T) 01/07/2024: no move; in care 2.5 years and with the same carer since 01/04/2022.
S4 in care since 30/09/2022 (exactly 2.5 years): in the long-term cohort, stable.
S5 in care since 01/10/2022: one day short of 2.5 years, not in the cohort.
S6 in care since 2020, moved 01/04/2023: one day short of 2 years in the placement, not stable.
S7 in care since 2020, moved 31/03/2023: exactly 2 years, stable.
S8 aged 16 on 31 March: not in the cohort.
3+ placements: S2 of 8 = 12.5%. Long-term cohort S3 S4 S6 S7, stable S3 S4 S7 = 75.0%.
"""

from builders import by_child
from iro_metrics.metrics.stability import long_term_stability_pct, placements_3plus_pct, placements_in_year


def build(c):
    for cid in ["S1", "S2", "S3", "S4", "S5", "S6", "S7"]:
        c.child(cid, "2014-01-01")
    c.child("S8", "2008-06-01")
    c.stay("S1", ("2023-06-01", "S", "U4"), ("2024-06-10", "P", "T4"), ("2024-06-15", "P", "U4"),
           ("2024-09-01", "P", "U6"))
    c.stay("S2", ("2024-05-01", "S", "U6"), ("2024-08-01", "P", "U4"), ("2024-11-01", "P", "K2"))
    c.stay("S3", ("2022-04-01", "S", "U4", "C2"), ("2024-06-01", "L", "U4", "E1"), ("2024-07-01", "T", "A5", "E1"))
    c.stay("S4", ("2022-09-30", "S", "U4"))
    c.stay("S5", ("2022-10-01", "S", "U4"))
    c.stay("S6", ("2020-01-01", "S", "U4"), ("2023-04-01", "P", "U6"))
    c.stay("S7", ("2020-01-01", "S", "U4"), ("2023-03-31", "P", "U6"))
    c.stay("S8", ("2019-01-01", "S", "U4"))
    return c.model("2022-23", "2024-25")


def test_placements_in_year(council):
    m = build(council)
    counts = by_child(m.data, placements_in_year(m))
    assert counts["S1"] == 2
    assert counts["S2"] == 3
    assert counts["S3"] == 1
    moves = m.episodes[m.episodes["child_id"] == m.data.child_key("S1")]["is_move"].tolist()
    assert moves == [False, False, False, True]
    pct = placements_3plus_pct(m)
    assert (pct.numerator, pct.denominator, pct.value) == (1, 8, 12.5)


def test_long_term_stability(council):
    m = build(council)
    pct = long_term_stability_pct(m)
    assert (pct.numerator, pct.denominator, pct.value) == (3, 4, 75.0)


def test_a_return_to_a_different_placement_is_a_move(council):
    council.child("X", "2014-01-01")
    council.stay("X", ("2023-06-01", "S", "U4"), ("2024-06-10", "P", "T4"), ("2024-06-15", "P", "K2"))
    m = council.model("2023-24", "2024-25")
    assert by_child(m.data, placements_in_year(m))["X"] == 2

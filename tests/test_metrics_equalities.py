"""Equalities (metrics.md §9), worked by hand. Year 2024-25; one return unless said.

Reviews: 100 children, all boys born 01/01/2012, in care from Mon 01/07/2024 (first review due on the
20th working day, 29/07/2024), one review each: on time on 10/07/2024, late on 05/08/2024.
  Black 20 children: 14 on time, 6 late = 70.0%  (20 reviews, 15 points below: attention)
  Asian 19 children: 10 on time, 9 late = 52.6%  (19 reviews: too few for attention)
  White 61 children: 61 on time = 100.0%         (15 points above: attention)
  All 100 reviews, 85 on time = 85.0%.
"""

import pandas as pd
import pytest

from iro_metrics.errors import FatalDataError
from iro_metrics.ingest.population import read_population_by_ethnicity
from iro_metrics.metrics import compute_all
from iro_metrics.metrics.equalities import (cla_disproportionality, equalities_escalations, equalities_participation,
                                            equalities_reviews, equalities_stability, iro_workforce_diversity)
from iro_metrics.metrics.stability import long_term_stability_pct, placements_3plus_pct
from iro_metrics.model import build_model
from iro_metrics.present.equalities import attention_statements
from iro_metrics.present.publish import publish_table


def _reviews(c):
    n = 0
    for ethnic, on_time, late in (("BAFR", 14, 6), ("APKN", 10, 9), ("WBRI", 61, 0)):
        for i in range(on_time + late):
            cid = f"R{n}"
            n += 1
            c.child(cid, "2012-01-01", ethnic=ethnic).stay(cid, ("2024-07-01", "S", "U4"))
            c.review(cid, "2024-07-10" if i < on_time else "2024-08-05", "PN1")
    return c.model("2024-25", "2024-25")


def test_reviews_by_group_and_the_attention_rule_at_20_and_19(council):
    t = equalities_reviews(_reviews(council)).set_index(["characteristic", "group"])
    assert t.loc[("All", "All children"), ["reviews", "on_time", "late", "on_time_pct"]].tolist() == [100, 85, 15, 85.0]
    assert t.loc[("Ethnicity", "Black"), ["reviews", "on_time", "late", "on_time_pct"]].tolist() == [20, 14, 6, 70.0]
    assert t.loc[("Ethnicity", "Asian"), ["reviews", "on_time", "late", "on_time_pct"]].tolist() == [19, 10, 9, 52.6]
    assert t.loc[("Ethnicity", "Black"), "attention"] == "Yes"  # exactly 20 reviews, 15 points below
    assert t.loc[("Ethnicity", "Asian"), "attention"] == "No"  # 32.4 points below, but only 19 reviews
    assert t.loc[("Ethnicity", "White"), "attention"] == "Yes"
    assert t.loc[("Sex", "Male"), ["reviews", "attention"]].tolist() == [100, "No"]
    assert ("Sex", "Unknown") not in t.index  # an empty fallback group is left out
    assert t.loc[("Age", "10 to 15"), "reviews"] == 100 and t.loc[("Age", "Under 1"), "reviews"] == 0
    assert t.loc[("UASC", "Not UASC"), "reviews"] == 100 and t.loc[("Disability", "Disability"), "reviews"] == 0


def test_attention_in_words(council):
    published = publish_table(equalities_reviews(_reviews(council)))
    assert attention_statements("equalities_reviews", published) == [
        "Reviews of White children were on time 100.0% of the time, against 85.0% for all children.",
        "Reviews of Black children were on time 70.0% of the time, against 85.0% for all children."]


def test_suppression_of_small_groups_with_secondary_suppression_in_each_block():
    """Sex: Female late 5 is primary; then Male late 10 (the only other late count of the block).
    Ethnicity: Asian reviews 3 and on time 3 are primary, then Black 27 and 22 (the smallest other
    non-zero cells of their columns); Black late 5 is primary, Asian late is 0 (shown), so White late
    10 goes too. Reviews are on time + late (+ unknown): a row with a hidden part hides its reviews
    too, or reviews - on time would give the late count back (Male, Female, White). Every row with a
    hidden count hides its percentage and attention flag. The council row is never suppressed."""
    df = pd.DataFrame({
        "characteristic": ["All", "Sex", "Sex", "Ethnicity", "Ethnicity", "Ethnicity"],
        "group": ["All children", "Male", "Female", "White", "Black", "Asian"],
        "reviews": [100, 60, 40, 70, 27, 3], "on_time": [85, 50, 35, 60, 22, 3], "late": [15, 10, 5, 10, 5, 0],
        "on_time_pct": [85.0, 83.3, 87.5, 85.7, 81.5, 100.0], "attention": ["", "No", "No", "No", "No", "No"]})
    p = publish_table(df).set_index("group")
    assert p.loc["All children"].tolist() == ["All", "100", "85", "15", "85.0", ""]
    assert p.loc["Male"].tolist() == ["Sex", "c", "50", "c", "c", "c"]
    assert p.loc["Female"].tolist() == ["Sex", "c", "35", "c", "c", "c"]
    assert p.loc["White"].tolist() == ["Ethnicity", "c", "60", "c", "c", "c"]
    assert p.loc["Black"].tolist() == ["Ethnicity", "c", "c", "c", "c", "c"]
    assert p.loc["Asian"].tolist() == ["Ethnicity", "c", "c", "0", "c", "c"]


def test_a_suppressed_group_is_never_stated_in_words():
    df = pd.DataFrame({"characteristic": ["All", "Ethnicity", "Ethnicity"], "group": ["All children", "White", "Black"],
                       "reviews": [100, 97, 3], "on_time": [90, 90, 0], "late": [10, 7, 3],
                       "on_time_pct": [90.0, 92.8, 0.0], "attention": ["", "No", "Yes"]})
    assert attention_statements("equalities_reviews", publish_table(df)) == []


def test_participation_by_group(council):
    """A girl PN1; two boys PN7 and PN5; a boy PN0 under 4 (left out). All: 3 reviews, 2 conveyed
    66.7%, none 1 33.3%. Boys 2: 1 conveyed 50.0%, none 50.0%; girls 1: 100.0%, 0.0%."""
    c = council
    for cid, dob, sex, code in (("A", "2012-01-01", "F", "PN1"), ("B", "2012-01-01", "M", "PN7"),
                                ("C", "2012-01-01", "M", "PN5"), ("D", "2023-01-01", "M", "PN0")):
        c.child(cid, dob, sex=sex).stay(cid, ("2024-07-01", "S", "U4")).review(cid, "2024-07-10", code)
    t = equalities_participation(c.model("2024-25", "2024-25")).set_index(["characteristic", "group"])
    cols = ["reviews", "conveyed", "participation_pct", "no_participation", "no_participation_pct"]
    assert t.loc[("All", "All children"), cols].tolist() == [3, 2, 66.7, 1, 33.3]
    assert t.loc[("Sex", "Male"), cols].tolist() == [2, 1, 50.0, 1, 50.0]
    assert t.loc[("Sex", "Female"), cols].tolist() == [1, 1, 100.0, 0, 0.0]
    assert "Age" not in t.index.get_level_values(0)  # participation by age is in §3


def test_stability_by_group_agrees_with_the_headline(council):
    from test_spec_revisions import _same_carer

    council.child("G", "2014-01-01", sex="F", ethnic="BAFR")
    council.stay("G", ("2020-06-01", "S", "U6", "C2", ), cin="N2")
    m = _same_carer(council)
    t = equalities_stability(m).set_index(["characteristic", "group"])
    cols = ["children", "placements_3plus", "placements_3plus_pct", "long_term_children", "long_term_stable",
            "long_term_stability_pct"]
    # T1-T4 (boys, White) as in test_spec_revisions, and G: a Black girl with the same carer since 2020
    assert t.loc[("All", "All children"), cols].tolist() == [5, 1, 20.0, 5, 3, 60.0]
    h3, hl = placements_3plus_pct(m), long_term_stability_pct(m)
    assert (h3.numerator, h3.denominator, hl.numerator, hl.denominator) == (1, 5, 3, 5)
    assert t.loc[("Sex", "Male"), cols].tolist() == [4, 1, 25.0, 4, 2, 50.0]
    assert t.loc[("Ethnicity", "Black"), cols].tolist() == [1, 0, 0.0, 1, 1, 100.0]
    assert t.loc[("Disability", "Disability"), cols].tolist() == [1, 0, 0.0, 1, 1, 100.0]


def test_escalations_per_100_children(council):
    """K1 a boy born 01/01/2012: E1 01/06/2024, E2 01/09/2024; E0 01/12/2023 (last year, left out).
    K2 a girl born 01/06/2020: E3 01/05/2024 (aged 3: 1 to 4; 4 on 31 March, 1 to 4). K3 a girl born
    01/01/2010, no escalation (15 on 31 March). All: 3 per 3 children = 100.0; boys 2/1 = 200.0;
    girls 1/2 = 50.0; 1 to 4: 1/1 = 100.0; 10 to 15: 2/2 = 100.0."""
    c = council
    c.child("K1", "2012-01-01").child("K2", "2020-06-01", sex="F").child("K3", "2010-01-01", sex="F")
    for cid in ("K1", "K2", "K3"):
        c.stay(cid, ("2023-06-01", "S", "U4"))
    for eid, cid, raised in (("E0", "K1", "01/12/2023"), ("E1", "K1", "01/06/2024"), ("E2", "K1", "01/09/2024"),
                             ("E3", "K2", "01/05/2024")):
        c.record("escalations", ESCALATION_ID=eid, CHILD=cid, DATE_RAISED=raised, STAGE="INFORMAL", THEME="DRIFT",
                 DATE_RESOLVED="", OUTCOME="ONGOING")
    t = equalities_escalations(c.model("2023-24", "2024-25")).set_index(["characteristic", "group"])
    cols = ["escalations", "children", "per_100_children"]
    assert t.loc[("All", "All children"), cols].tolist() == [3, 3, 100.0]
    assert t.loc[("Sex", "Male"), cols].tolist() == [2, 1, 200.0]
    assert t.loc[("Sex", "Female"), cols].tolist() == [1, 2, 50.0]
    assert t.loc[("Age", "1 to 4"), cols].tolist() == [1, 1, 100.0]
    assert t.loc[("Age", "10 to 15"), cols].tolist() == [2, 2, 100.0]
    assert t.loc[("Age", "Under 1"), cols[:2]].tolist() == [0, 0] and pd.isna(t.loc[("Age", "Under 1"), cols[2]])


def test_workforce_with_no_staff_ethnicity_recorded(council):
    """Three IROs in post (F, F, M), no ETHNIC recorded; a fourth left on 31/03/2025. Children on
    31 March: two White, one Black, one Asian (three boys, one girl)."""
    c = council
    for cid, sex, ethnic in (("A", "M", "WBRI"), ("B", "M", "WIRI"), ("C", "F", "BCRB"), ("D", "M", "AIND")):
        c.child(cid, "2012-01-01", sex=sex, ethnic=ethnic).stay(cid, ("2024-05-01", "S", "U4"))
    for iro, sex, end in (("I1", "F", ""), ("I2", "F", ""), ("I3", "M", ""), ("I4", "M", "31/03/2025")):
        c.record("iro_staff", IRO_ID=iro, FTE="1", START_DATE="01/01/2020", END_DATE=end, AGENCY="0", SEX=sex,
                 ETHNIC="")
    t = iro_workforce_diversity(c.model("2024-25", "2024-25")).set_index(["characteristic", "group"])
    cols = ["iros", "iros_pct", "children", "children_pct"]
    assert t.loc[("All", "All"), cols].tolist() == [3, 100.0, 4, 100.0]
    assert t.loc[("Sex", "Female"), cols].tolist() == [2, 66.7, 1, 25.0]
    assert t.loc[("Sex", "Male"), cols].tolist() == [1, 33.3, 3, 75.0]
    assert t.loc[("Ethnicity", "Not recorded"), cols].tolist() == [3, 100.0, 0, 0.0]
    assert t.loc[("Ethnicity", "White"), cols].tolist() == [0, 0.0, 2, 50.0]
    assert ("Sex", "Not recorded") not in t.index and ("Ethnicity", "Not known") not in t.index
    # published: each share is hidden with its own count, not with the whole row
    p = publish_table(t.reset_index()).set_index("group")
    assert p.loc["All", ["iros", "iros_pct", "children", "children_pct"]].tolist() == ["3", "100.0", "4", "100.0"]
    assert p.loc["Female", ["iros", "iros_pct", "children", "children_pct"]].tolist() == ["c", "c", "c", "c"]
    assert p.loc["White", ["iros", "iros_pct", "children", "children_pct"]].tolist() == ["0", "0.0", "c", "c"]
    assert p.loc["Not recorded", ["iros", "iros_pct", "children", "children_pct"]].tolist() == ["c", "c", "0", "0.0"]


def test_disproportionality(council):
    """On 31 March: two White, one Black, one Asian child. Population White 10,000, Black 3,000,
    Asian 5,000, Mixed 1,000. Rates: White 2.0 -> 2, Black 3.33 -> 3, Asian 2.0 -> 2, Mixed 0; ratios
    to White from the unrounded rates: 1.00, 1.67, 1.00, 0.00."""
    c = council
    for cid, ethnic in (("A", "WBRI"), ("B", "WOTH"), ("C", "BAFR"), ("D", "APKN")):
        c.child(cid, "2012-01-01", ethnic=ethnic).stay(cid, ("2024-05-01", "S", "U4"))
    c.write("2024-25", "2024-25")
    from iro_metrics.ingest.load import load_council

    data = load_council(c.root, "2024-25")
    assert cla_disproportionality(build_model(data)) is None
    m = build_model(data, population_by_ethnicity={"White": 10000, "Black": 3000, "Asian": 5000, "Mixed": 1000})
    t = cla_disproportionality(m).set_index("ethnicity")
    assert t.loc[["White", "Mixed", "Asian", "Black"], "rate_per_10000"].tolist() == [2, 0, 2, 3]
    assert t.loc[["White", "Mixed", "Asian", "Black"], "ratio_to_white"].tolist() == [1.0, 0.0, 1.0, 1.67]
    assert "Other" not in t.index
    # one Black child: the count, and the rate and ratio that would reveal it, are suppressed
    assert publish_table(t.reset_index()).set_index("ethnicity").loc["Black"].tolist() == ["c", "3,000", "c", "c"]
    shown = publish_table(pd.DataFrame({"ethnicity": ["White"], "children": pd.Series([30], dtype="int64"),
                                        "population": pd.Series([18000], dtype="int64"), "rate_per_10000": [3.0],
                                        "ratio_to_white": [1.0]}))
    assert shown.iloc[0].tolist() == ["White", "30", "18,000", "3", "1.00"]
    _, tables = compute_all(m)
    assert tables["cla_disproportionality"] is not None


def test_population_file(tmp_path):
    good = tmp_path / "pop.csv"
    good.write_text("ethnicity,population\nWhite,\"38,400\"\nblack,4600\n")
    assert read_population_by_ethnicity(good) == {"White": 38400, "Black": 4600}
    bad = tmp_path / "bad.csv"
    bad.write_text("ethnicity,population\nWhite,-3\nPurple,10\nWhite,5\n")
    with pytest.raises(FatalDataError) as e:
        read_population_by_ethnicity(bad)
    assert [str(p) for p in e.value.problems] == [
        f"{bad}, row 2, column population: '-3' is not a whole number of children above 0",
        f"{bad}, row 3, column ethnicity: 'Purple' is not one of White, Mixed, Asian, Black, Other",
        f"{bad}, row 4, column ethnicity: White is given twice"]
    with pytest.raises(FatalDataError, match="expected the header row"):
        (tmp_path / "h.csv").write_text("group,count\nWhite,1\n")
        read_population_by_ethnicity(tmp_path / "h.csv")


def test_no_hidden_part_can_be_worked_out_from_its_row(demo_data):
    """On the demo council: wherever a part of a row's reviews is hidden, the reviews are hidden too
    (found by a review: reviews 22, views conveyed 20 gave the hidden 'no participation' back)."""
    from iro_metrics.ingest.load import load_council

    _, tables = compute_all(build_model(load_council(demo_data, "2024-25")))
    for mid, parts in (("equalities_reviews", ["on_time", "late"]),
                       ("equalities_participation", ["conveyed", "no_participation"])):
        p = publish_table(tables[mid])
        groups = p[p["characteristic"] != "All"]
        part_hidden = (groups[parts] == "c").any(axis=1)
        assert part_hidden.any(), mid  # the demo has small groups: the rule is exercised
        assert (groups.loc[part_hidden, "reviews"] == "c").all(), mid

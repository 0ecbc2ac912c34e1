"""Reconciliation with DfE's published figures (metrics.md §10), on hand-made councils and tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.comparators.reconcile import categories, reconcile, summary
from iro_metrics.errors import UsageError

LA = "E09000999"
AREA = {"time_identifier": "Reporting year", "geographic_level": "Local authority", "country_code": "E92000001",
        "country_name": "England", "region_code": "E13000001", "region_name": "Inner London", "old_la_code": "999",
        "la_name": "Testshire", "new_la_code": LA}
CLA_COLS = ["population_type", "population_estimate", "children_count", "rate_per_10000"]
CHAR_COLS = ["cla_group", "characteristic", "number", "percentage"]
STAB_COLS = ["cla_group", "placement_stability", "children_count", "children_percent"]
THREE = "CLA on 31 March"
LONG = "Children looked after continuously for at least 2.5 years on 31 March aged under 16 years"


def write(path: Path, cols: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time_period", *AREA, *cols])
        for r in rows:
            w.writerow(["2025", *AREA.values(), *r])


def published(folder: Path) -> Path:
    """DfE's tables for Testshire, 2024-25, as they would be published for the three children below."""
    folder.mkdir()
    write(folder / "cla_number_and_rate_per_10k_children.csv", CLA_COLS, [
        ["Children looked after on 31 March each year", "20000", "2", "1"],
        ["Children starting to be looked after each year", "20000", "1", "1"],
        ["Children ceasing to be looked after each year", "20000", "1", "1"]])
    char = "la_cla_on_31_march_by_characteristics_DERIVED.csv"
    rows = [["Age group", "Under 1 year", "0", "0"], ["Age group", "1 to 4 years", "1", "50"],
            ["Age group", "5 to 9 years", "0", "0"], ["Age group", "10 to 15 years", "1", "50"],
            ["Age group", "16 years and over", "0", "0"], ["Age group", "Total", "2", "100"],
            ["Sex", "Male", "1", "50"], ["Sex", "Female", "1", "50"],
            ["Ethnicity", "White", "1", "50"], ["Ethnicity", "Mixed or Multiple ethnic groups", "0", "0"],
            ["Ethnicity", "Black, African, Caribbean or Black British", "1", "50"],
            ["Legal status", "Interim care order", "1", "50"], ["Legal status", "Full care order", "1", "50"],
            ["Legal status", "Voluntary agreements under S20 CA 1989", "0", "0"],
            ["Legal status", "Detained for child protection", "c", "c"],
            ["Placement", "Foster placements", "2", "100"], ["Placement", "Secure homes and children's homes", "0", "0"],
            ["Placement", "Other placements", "x", "x"],
            ["Category of need", "N1. Abuse or neglect", "2", "100"],
            ["Unaccompanied asylum-seeking children", "UASC", "0", "0"],
            ["Unaccompanied asylum-seeking children", "Non-UASC", "2", "100"]]
    write(folder / char, CHAR_COLS, rows)
    write(folder / "la_children_who_ceased_during_the_year.csv", CHAR_COLS, [
        ["Reason episode ceased", "Returned home to live with parents or other person with parental responsibility "
         "which was part of the care planning process", "1", "100"],
        ["Reason episode ceased", "Adopted", "0", "0"], ["Age on ceasing", "16 years", "1", "100"],
        ["Gender", "Male", "1", "100"]])
    write(folder / "la_cla_placement_stability.csv", STAB_COLS, [
        [THREE, "With 3 or more placements during the year", "0", "0"], [THREE, "Total children", "2", "100"],
        [LONG, "Living with the same carer for at least 2 years", "0", "z"], [LONG, "Total children", "0", "z"]])
    return folder


def three_children(council):
    """A in foster care all year (10 to 15, boy, White, full care order); B started in the year (1 to 4,
    girl, Black African, interim care order); C went home in September at 16."""
    council.child("A", "2013-01-01", "M", "WBRI").stay("A", ("2023-06-01", "S", "U4", "C2"))
    council.child("B", "2021-05-01", "F", "BAFR").stay("B", ("2024-06-01", "S", "U6", "C1"))
    council.child("C", "2008-02-01", "M", "WBRI").stay("C", ("2022-01-01", "S", "K2", "V2"), end="2024-09-01",
                                                       rec="E4A")
    return council


def test_the_council_as_published_agrees_on_every_comparable_figure(council, tmp_path):
    pub = published(tmp_path / "pub")
    t = reconcile(three_children(council).model("2024-25", "2024-25", population=20000), LA, data=pub)
    comparable = t[t["status"] != "not comparable"]
    assert set(comparable["status"]) == {"agrees"}, comparable[comparable["status"] != "agrees"]
    # c, x and z are not comparable, never zero
    assert set(t.loc[t["status"] == "not comparable", "published"]) == {"c", "x", "z"}
    # 2 children on 31 March, 1 start, 1 cease, rate, 5 age groups, 2 sexes, 3 ethnic groups, 3 legal statuses,
    # 2 placements, 1 need, 2 UASC, 3 ceased (reason, age, sex), 3+ placements (3) and long-term numerator/denominator
    assert len(comparable) == 4 + 5 + 2 + 3 + 3 + 2 + 1 + 2 + 4 + 3 + 2
    assert summary(t) == f"Agrees with DfE's published figures: {len(comparable)} of {len(comparable)}"


def test_a_child_added_and_a_placement_recoded_are_exactly_the_differences(council, tmp_path):
    pub = published(tmp_path / "pub")
    three_children(council)
    council.episodes[0]["PLACE"] = "K2"  # A's foster placement recoded as a children's home
    council.child("D", "2017-03-01", "F", "MWBC").stay("D", ("2024-07-01", "S", "U6", "V2"))  # a child added
    t = reconcile(council.model("2024-25", "2024-25", population=20000), LA, data=pub)
    d = t[t["status"] == "differs"]
    found = {(r["measure"], r["breakdown"], r["category"], r["difference"]) for _, r in d.iterrows()}
    cla = "Children looked after on 31 March"
    assert found == {
        (cla, "", "Total", 1), ("Children who started to be looked after", "", "Total", 1),
        (cla, "Age group", "5 to 9 years", 1), (cla, "Sex", "Female", 1),
        (cla, "Ethnicity", "Mixed or Multiple ethnic groups", 1),
        (cla, "Legal status", "Voluntary agreements under S20 CA 1989", 1),
        (cla, "Placement", "Secure homes and children's homes", 1),  # A recoded; foster: -1 (A) +1 (D) = 0
        (cla, "Category of need", "N1. Abuse or neglect", 1), (cla, "Unaccompanied asylum-seeking children",
                                                                "Non-UASC", 1),
        ("Children with 3 or more placements in the year", "denominator", "Total children", 1)}
    # the rate: 3 / 20,000 x 10,000 = 1.5 -> 2 against 1 published: within DfE's +-1
    rate = t[t["measure"] == "Children looked after per 10,000 children"].iloc[0]
    assert (rate["computed"], rate["status"]) == (2, "agrees")
    assert all(c for c in d["causes"]) and "short breaks" in d["causes"].iloc[0]
    assert summary(t).startswith(f"Agrees with DfE's published figures: {len(t[t['status'] == 'agrees'])} of "
                                 f"{len(t[t['status'] == 'agrees']) + 10}; differences: Children looked after on "
                                 "31 March +1 (3 against 2);")


def test_rate_beyond_one_differs_and_no_population_is_not_computed(council, tmp_path):
    pub = published(tmp_path / "pub")
    rate = "Children looked after per 10,000 children"
    t = reconcile(three_children(council).model("2024-25", "2024-25", population=6000), LA, data=pub)
    assert t.loc[t["measure"] == rate, ["computed", "difference", "status"]].iloc[0].tolist() == [3, 2, "differs"]
    t = reconcile(council.model("2024-25", "2024-25"), LA, data=pub)
    assert t.loc[t["measure"] == rate, "status"].iloc[0] == "not computed"


def test_unknown_code_and_unpublished_year_are_clear_errors(council, tmp_path):
    pub = published(tmp_path / "pub")
    m = three_children(council).model("2024-25", "2024-25")
    with pytest.raises(UsageError, match="E09000998: not an English council"):
        reconcile(m, "E09000998", data=pub)
    council.write("2023-24", "2024-25")
    from iro_metrics.ingest.load import load_council
    with pytest.raises(UsageError, match=r"no figures for 2023-24 \(published: 2024-25\)"):
        reconcile(load_council(council.root, "2023-24"), LA, data=pub)


def test_categories_cover_every_valid_code_once():
    """Each 903 placement, legal status (short breaks aside) and ethnicity code is in exactly one DfE category."""
    from iro_metrics import spec
    for name, field in (("placement", "PLACE"), ("legal_status", "LS"), ("ethnicity", "ETHNIC")):
        codes = [c for cs in categories()[name]["categories"].values() for c in cs]
        assert len(codes) == len(set(codes))
        assert set(codes) == spec.all_codes(field) - {"V3", "V4"}, name


def test_cli_strict_and_json(tmp_path, capsys):
    """The shipped tables: a synthetic council is not Southwark, so --strict exits 1; bad codes exit 1."""
    from iro_metrics.synth import SynthConfig, write_council
    from iro_metrics.years import year_range

    write_council(tmp_path / "d", SynthConfig(children=60, years=year_range("2024-25:2024-25")))
    args = ["reconcile", "--data", str(tmp_path / "d"), "--year", "2024-25", "--la-code", "E09000028"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Southwark (E09000028), 2024-25" in out and "Agrees with DfE's published figures:" in out
    assert main([*args, "--strict"]) == 1
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["figures"][0]["measure"] == "Children looked after on 31 March"
    assert doc["figures"][0]["published"] == "387"  # as published, text
    assert main([*args[:-1], "E99999999"]) == 1
    assert "not an English council" in capsys.readouterr().err
    assert main([*args[:4], "2019-20", *args[5:]]) == 1
    assert "DfE has published no figures for 2019-20" in capsys.readouterr().err

"""Hostile inputs (issue 14): malformed CSV, unreadable files, gaps in the history, impossible dates and
values. Each is a fatal problem naming the file (row, column) and what to do, or a finding saying what
was done with the row; never an internal error, never a silent change in the figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.errors import FatalDataError
from iro_metrics.ingest.load import load_council
from iro_metrics.metrics import compute_all
from iro_metrics.model import build_model
from iro_metrics.report_text import validation_summary


def fatal(root: Path, year: str = "2024-25") -> list[str]:
    with pytest.raises(FatalDataError) as e:
        load_council(root, year)
    return [str(p) for p in e.value.problems]


def rules(root: Path, year: str = "2024-25", **kw) -> list[tuple]:
    f = load_council(root, year, **kw).findings.frame()
    return list(f[["file", "row", "column", "rule", "action"]].itertuples(index=False, name=None))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# --- malformed CSV ---------------------------------------------------------------------------------

def test_duplicate_column_names(good):
    p = good / "2024-25" / "reviews.csv"
    p.write_text(p.read_text().replace("REVIEW_CODE", "REVIEW_CODE,REVIEW", 1).replace("PN1", "PN1,x"))
    assert fatal(good) == ["2024-25/reviews.csv, row 1, column REVIEW: the column name appears twice (columns 3 "
                           "and 5); delete or rename one of them"]


def test_old_mac_line_endings_are_read(good):
    p = good / "2024-25" / "reviews.csv"
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r"))
    data = load_council(good, "2024-25")
    assert len(data["reviews"]) == 2 and len(data.findings) == 0


def test_a_row_with_too_many_fields(good):
    p = good / "2024-25" / "reviews.csv"
    lines = p.read_text().splitlines()
    lines[2] += ",extra"
    p.write_text("\n".join(lines) + "\n")
    assert fatal(good) == ["2024-25/reviews.csv, row 3: 5 fields in this row but 4 columns in the header; a value "
                           "holding a comma must be in double quotes"]


def test_an_unbalanced_quote(good):
    p = good / "2024-25" / "reviews.csv"
    lines = p.read_text().splitlines()
    lines[1] = lines[1].replace("PN1", '"PN1')
    p.write_text("\n".join(lines) + "\n")
    [problem] = fatal(good)
    assert problem.startswith("2024-25/reviews.csv, row 2: a double quote opened in this row is never closed")


def test_unreadable_file_and_folder(good, monkeypatch, capsys):
    """The tests run as root, where permissions do not bite: the refusal is simulated."""
    real_read, real_iterdir = Path.read_bytes, Path.iterdir
    locked = {good / "2024-25" / "reviews.csv", good / "2023-24"}
    (good / "2023-24").mkdir()

    def read_bytes(self):
        if self in locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    def iterdir(self):
        if self in locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    assert fatal(good) == [
        "2023-24/: the folder cannot be read (permission denied); ask whoever manages it to give you read access, "
        "or copy it",
        "2024-25/reviews.csv: the file cannot be read (permission denied); ask whoever manages the folder to give "
        "you read access, or copy the file"]
    assert main(["validate", "--data", str(good), "--year", "2024-25"]) == 1
    assert "internal error" not in capsys.readouterr().err


# --- gaps in the history ---------------------------------------------------------------------------

@pytest.fixture
def three_years(council) -> Path:
    council.child("A", "2012-01-15").stay("A", ("2022-05-01", "S", "U4"))
    council.review("A", "2022-06-01").review("A", "2022-11-20").review("A", "2023-05-10").review("A", "2024-05-01")
    return council.write("2022-23", "2024-25")


def test_a_missing_year_in_the_middle_is_fatal(three_years, capsys):
    shutil.rmtree(three_years / "2023-24")
    assert fatal(three_years) == [
        "2023-24/: this collection year's return is missing from the history (2022-23 to 2024-25): without it, "
        "children's care in that year is unknown and the figures are wrong. Add it, or use only the years after "
        "the gap (--cut-at-gap, or cut_at_gap: true in a params file)"]
    assert main(["validate", "--data", str(three_years), "--year", "2024-25"]) == 1


def test_cut_at_gap_uses_the_years_after_it_loudly(three_years, capsys):
    shutil.rmtree(three_years / "2023-24")
    data = load_council(three_years, "2024-25", cut_at_gap=True)
    assert data.earliest_year.label == "2024-25"
    assert set(data["reviews"]["_year"]) == {2024}
    f = data.findings.frame()
    assert set(f["rule"]) == {"history-gap"} and set(f["action"]) == {"ignored"}
    assert sorted(f["file"]) == sorted(["2022-23/episodes.csv", "2022-23/header.csv", "2022-23/reviews.csv"])
    assert f.set_index("file")["message"].str.split(":").str[0].to_dict() == {
        "2022-23/episodes.csv": "its row not used", "2022-23/header.csv": "its row not used",
        "2022-23/reviews.csv": "its 2 rows not used"}
    assert any("2023-24 return is missing" in n for n in data.notes)
    assert main(["validate", "--data", str(three_years), "--year", "2024-25", "--cut-at-gap"]) == 0
    assert "history-gap" in capsys.readouterr().out


@pytest.mark.build
def test_a_build_refuses_a_gap_unless_its_params_say_cut_at_gap(three_years, tmp_path, capsys):
    shutil.rmtree(three_years / "2023-24")
    params = tmp_path / "params" / "a" / "2024-25.yaml"
    params.parent.mkdir(parents=True)
    params.write_text(f"council: A Town\nyear: 2024-25\ndata: {three_years}\n")
    assert main(["build", str(params), "--outputs", str(tmp_path / "out")]) == 1
    assert "2023-24/: this collection year's return is missing" in capsys.readouterr().err
    params.write_text(f"council: A Town\nyear: 2024-25\ndata: {three_years}\ncut_at_gap: true\n")
    assert main(["build", str(params), "--outputs", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "a-town" / "2024-25" / "appendix.html").read_text()
    assert "history-gap" in page and "2023-24 return is missing" in page


# --- optional files, children, identifiers ----------------------------------------------------------

def test_an_optional_iro_file_with_a_header_and_no_rows(good):
    (good / "2024-25" / "escalations.csv").write_text(
        "ESCALATION_ID,CHILD,DATE_RAISED,STAGE,THEME,DATE_RESOLVED,OUTCOME\n")
    assert rules(good) == [("2024-25/escalations.csv", 1, "", "no-data-rows", "kept")]


def test_an_episode_for_a_child_missing_from_the_header(good):
    p = good / "2024-25" / "header.csv"
    p.write_text("\n".join(line for line in p.read_text().splitlines() if not line.startswith("B,")) + "\n")
    found = rules(good)
    assert ("2024-25/episodes.csv", 3, "CHILD", "episode-unknown-child", "kept") in found


def test_identifiers_that_collide_after_removing_zeros_spaces_and_case(council):
    council.child("7", "2012-01-15").child("007", "2012-01-15").child("ab1", "2013-01-01").child("AB1", "2013-01-01")
    council.stay("7", ("2023-05-01", "S", "U4"), end="2024-02-01")
    council.stay("007", ("2024-05-01", "S", "U4"))
    council.stay("ab1", ("2023-06-01", "S", "U4"))
    council.stay("AB1", ("2024-06-01", "S", "U4"))
    root = council.write("2023-24", "2024-25")
    f = load_council(root, "2024-25").findings.frame()
    hit = f[f["rule"] == "identifier-collision"]
    # each of the four children's header row and episode row
    assert len(hit) == 8 and set(hit["column"]) == {"CHILD"} and set(hit["value"]) == {""}
    assert not [m for m in hit["message"] for v in ("007", "ab1", "AB1") if v in m]  # no identifier values


def test_an_identifier_rekeyed_in_the_episodes_alone_is_a_collision(council):
    """The header says 42; one year's episodes say 0042 (re-keyed by a case-management migration)."""
    council.child("42", "2012-01-15").stay("42", ("2023-05-01", "S", "U4"))
    root = council.write("2023-24", "2024-25")
    edit(root / "2024-25" / "episodes.csv", "42,01/05/2023", "0042,01/05/2023")
    f = load_council(root, "2024-25").findings.frame()
    # the combined header keeps the latest return's row; each episode row is named
    assert set(f.loc[f["rule"] == "identifier-collision", "file"]) == {"2023-24/episodes.csv", "2024-25/episodes.csv",
                                                                       "2024-25/header.csv"}
    assert (f["rule"] == "episode-unknown-child").sum() == 1


# --- impossible dates --------------------------------------------------------------------------------

def test_absurd_dates(good):
    ep = good / "2024-25" / "episodes.csv"
    edit(ep, "01/05/2024", "01/05/1066")
    edit(ep, "01/06/2024,S,C2,N1,U6,PR1,,", "01/06/2024,S,C2,N1,U6,PR1,01/01/2099,")
    rv = good / "2024-25" / "reviews.csv"
    edit(rv, "25/06/2024", "25/06/2025")
    found = rules(good)
    assert ("2024-25/episodes.csv", 2, "DECOM", "date-too-early", "excluded") in found
    assert ("2024-25/episodes.csv", 3, "DEC", "date-after-year-end", "value-excluded") in found
    assert ("2024-25/reviews.csv", 3, "REVIEW", "date-after-year-end", "excluded") in found
    data = load_council(good, "2024-25")
    assert data["episodes"]["end_date"].isna().all() and len(data["reviews"]) == 1
    # the summary says what was done once: "row excluded", not "row excluded (excluded)"
    text = validation_summary(data)
    assert "DECOM = '01/05/1066': before 1900: not a possible date here; row excluded\n" in text + "\n"
    assert "row excluded (excluded)" not in text
    assert "the date is left out (the rest of the row is kept) (value-excluded)" in text


@pytest.mark.parametrize("table, row, start, end", [
    ("iro_staff", {"IRO_ID": "I1", "FTE": "1"}, "START_DATE", "END_DATE"),
    ("iro_allocations", {"CHILD": "A", "IRO_ID": "I1"}, "START_DATE", "END_DATE"),
    ("escalations", {"ESCALATION_ID": "E1", "CHILD": "A", "STAGE": "1", "THEME": "CP", "OUTCOME": "R"},
     "DATE_RAISED", "DATE_RESOLVED"),
])
def test_end_before_start_is_excluded(council, table, row, start, end):
    council.child("A", "2012-01-15").stay("A", ("2024-05-01", "S", "U4"))
    council.record(table, **row, **{start: "10/06/2024", end: "01/06/2024"})
    root = council.write("2024-25", "2024-25")
    found = [r for r in rules(root) if r[3] == "end-before-start"]
    assert found == [(f"2024-25/{table}.csv", 2, end, "end-before-start", "excluded")]
    assert len(load_council(root, "2024-25")[table]) == 0


def test_missing_episode_ending_before_it_starts(council):
    council.child("A", "2012-01-15").stay("A", ("2024-05-01", "S", "U4"))
    root = council.write("2024-25", "2024-25")
    (root / "2024-25" / "missing.csv").write_text("CHILD,DOB,MISSING,MIS_START,MIS_END\n"
                                                  "A,15/01/2012,M,10/06/2024,01/06/2024\n")
    assert rules(root) == [("2024-25/missing.csv", 2, "MIS_END", "end-before-start", "excluded")]


# --- impossible values -------------------------------------------------------------------------------

@pytest.mark.parametrize("fte", ["-0.5", "37"])
def test_an_impossible_fte_is_left_out_of_the_caseload(council, fte):
    """Two IROs: I1 (1.0 FTE, 2 children) and I2 (FTE impossible, 1 child): caseload per FTE is
    I1's 2 children / 1.0, not 3 / 0.5 or 3 / 38."""
    for c in "ABC":
        council.child(c, "2012-01-15").stay(c, ("2024-05-01", "S", "U4"))
    council.record("iro_staff", IRO_ID="I1", FTE="1", START_DATE="01/01/2020")
    council.record("iro_staff", IRO_ID="I2", FTE=fte, START_DATE="01/01/2020")
    for c, iro in (("A", "I1"), ("B", "I1"), ("C", "I2")):
        council.record("iro_allocations", CHILD=c, IRO_ID=iro, START_DATE="01/05/2024")
    root = council.write("2024-25", "2024-25")
    data = load_council(root, "2024-25")
    f = data.findings.frame()
    assert list(f[["file", "row", "column", "value", "rule", "action"]].itertuples(index=False, name=None)) == [
        ("2024-25/iro_staff.csv", 3, "FTE", fte, "out-of-range", "value-excluded")]
    assert "left out of every figure" in f["message"][0]
    indicators, _ = compute_all(build_model(data))
    assert indicators["iro_caseload_per_fte"].value == 2.0
    assert indicators["iro_fte_at_31_march"].value == 1.0


def test_the_data_quality_section_counts_rows_and_says_what_was_done(good):
    from iro_metrics.report.appendix import findings_sentence

    ep = good / "2024-25" / "episodes.csv"
    edit(ep, "01/05/2024", "01/05/1066")
    edit(ep, "01/06/2024,S,C2,N1,U6,PR1,,", "01/06/2024,S,C2,N1,U6,PR1,01/01/2099,")
    f = load_council(good, "2024-25").findings.frame()
    assert findings_sentence(f) == ("The checks found 3 problems in 3 rows of 2 files (rows: 1 excluded from every "
                                    "figure; 1 kept with one value left out of the figures; 1 kept as they are). "
                                    "They are counted below by rule.")


def test_a_record_for_a_child_in_no_header_is_a_finding_in_every_child_table(council):
    """A re-keyed CHILD in the IRO allocations (or any other child table) used to count in no figure without a
    word: each such row is now named."""
    council.child("A", "2012-01-15").stay("A", ("2024-05-01", "S", "U4")).review("A", "2024-05-20")
    council.record("iro_allocations", CHILD="A", IRO_ID="I1", START_DATE="01/05/2024")
    council.record("iro_allocations", CHILD="LA1-A", IRO_ID="I1", START_DATE="01/05/2024")  # re-keyed
    found = [f for f in rules(council.write("2024-25", "2024-25")) if f[3].endswith("unknown-child")]
    assert found == [("2024-25/iro_allocations.csv", 3, "CHILD", "record-unknown-child", "kept")]


def test_leading_zeros_lost_in_the_reviews_alone_are_named_as_collisions(council):
    """A spreadsheet dropped the reviews' leading zeros: each review used to be only "for a child not in the
    header"; now the cause is named too."""
    council.child("007", "2012-01-15").stay("007", ("2024-05-01", "S", "U4")).review("007", "2024-05-20")
    root = council.write("2024-25", "2024-25")
    edit(root / "2024-25" / "reviews.csv", "007,", "7,")
    found = [f for f in rules(root) if f[3] in ("identifier-collision", "review-unknown-child")]
    assert found == [("2024-25/episodes.csv", 2, "CHILD", "identifier-collision", "kept"),
                     ("2024-25/header.csv", 2, "CHILD", "identifier-collision", "kept"),
                     ("2024-25/reviews.csv", 2, "CHILD", "identifier-collision", "kept"),
                     ("2024-25/reviews.csv", 2, "CHILD", "review-unknown-child", "kept")]


@pytest.mark.parametrize("damage", ["header only", "deleted", "every row excluded"])
def test_a_year_whose_reviews_file_has_no_usable_row_shows_not_supplied_not_zeros(council, damage):
    """Last year's reviews must not make this year's missing reviews read as none held (found walking a return
    whose reviews.csv was exported empty): the year's review figures are not supplied, and a note says why."""
    council.child("A", "2012-01-15").stay("A", ("2023-05-01", "S", "U4"))
    council.review("A", "2023-05-20").review("A", "2023-11-20").review("A", "2024-05-20")
    root = council.write("2023-24", "2024-25")
    reviews = root / "2024-25" / "reviews.csv"
    if damage == "deleted":
        reviews.unlink()
    elif damage == "header only":
        reviews.write_text(reviews.read_text().splitlines()[0] + "\n")
    else:
        edit(reviews, "20/05/2024", "")
    data = load_council(root, "2024-25")
    assert any("2024-25 return has no usable row of reviews.csv" in n for n in data.notes)
    indicators, _ = compute_all(build_model(data))
    assert indicators["reviews_held"].value is None and indicators["participation_pct"].value is None
    earlier, _ = compute_all(build_model(load_council(root, "2023-24")))
    assert earlier["reviews_held"].value == 2  # the earlier year keeps its own

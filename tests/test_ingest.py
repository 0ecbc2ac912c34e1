"""Reading a council's data: broken inputs give exact, clear outcomes; nothing is dropped silently."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from iro_metrics.cli import main
from iro_metrics.errors import FatalDataError, UsageError
from iro_metrics.ingest.load import load_council, load_history


def year_dir(root: Path) -> Path:
    return root / "2024-25"


def fatal(root: Path) -> list[str]:
    with pytest.raises(FatalDataError) as e:
        load_council(root, "2024-25")
    return [str(p) for p in e.value.problems]


def findings(root: Path):
    return load_council(root, "2024-25").findings.frame()


def test_good_data_has_no_findings(good):
    data = load_council(good, "2024-25")
    assert len(data.findings) == 0
    assert len(data["episodes"]) == 2 and len(data["reviews"]) == 2


def test_missing_column(good):
    p = year_dir(good) / "reviews.csv"
    text = p.read_text().replace(",REVIEW_CODE", "").replace(",PN1", "")
    p.write_text(text)
    assert fatal(good) == ["2024-25/reviews.csv, row 1, column REVIEW_CODE: required column missing (expected the "
                           "DfE columns CHILD,DOB,REVIEW,REVIEW_CODE)"]


def test_wrong_delimiter(good):
    p = year_dir(good) / "episodes.csv"
    p.write_text(p.read_text().replace(",", ";"))
    assert fatal(good) == ["2024-25/episodes.csv, row 1: the columns are separated by ';', not commas; save the "
                           "file as comma-separated CSV"]


def test_semicolons_in_an_unnamed_file(good):
    (year_dir(good) / "extract.csv").write_text("CHILD;DECOM;RNE\n1;01/04/2024;S\n")
    assert fatal(good) == ["2024-25/extract.csv, row 1: the columns are separated by ';', not commas; save the "
                           "file as comma-separated CSV"]


def test_excel_file_renamed_csv(good):
    (year_dir(good) / "header.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100)
    assert fatal(good) == ["2024-25/header.csv: this is an Excel workbook (.xlsx) renamed .csv, not a CSV file; "
                           "open it in Excel and save as 'CSV UTF-8'"]


def test_empty_file(good):
    (year_dir(good) / "episodes.csv").write_text("")
    assert fatal(good) == ["2024-25/episodes.csv: the file is empty (expected a CSV header row and data rows)"]


def test_header_only(good):
    (year_dir(good) / "episodes.csv").write_text("CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,"
                                                 "REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n")
    assert fatal(good) == ["2024-25/episodes.csv: the file has a header but no data rows"]


def test_missing_required_file(good):
    (year_dir(good) / "header.csv").unlink()
    assert fatal(good) == ["2024-25/header.csv: required file missing for 2024-25"]


def test_every_problem_is_listed_at_once(good):
    (year_dir(good) / "header.csv").unlink()
    (year_dir(good) / "episodes.csv").write_text("")
    assert len(fatal(good)) == 2


def test_non_utf8_bytes(good):
    p = year_dir(good) / "header.csv"
    lines = p.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"WBRI", b"W\xe9RI")
    p.write_bytes(b"\n".join(lines))
    assert fatal(good) == ["2024-25/header.csv, row 3: byte 0xe9 is not UTF-8 text; save the file as 'CSV UTF-8'"]


def test_unknown_table(good):
    (year_dir(good) / "notes.csv").write_text("WHAT,EVER\n1,2\n")
    [problem] = fatal(good)
    assert problem.startswith("2024-25/notes.csv, row 1: the header matches no known table")


def replace_cell(path: Path, old: str, new: str, count: int = 1) -> None:
    path.write_text(path.read_text().replace(old, new, count))


def test_impossible_date_is_excluded_with_a_finding(good):
    replace_cell(year_dir(good) / "reviews.csv", "20/05/2024", "31/02/2024")
    f = findings(good)
    assert f[["file", "row", "column", "value", "rule", "action"]].to_dict("records") == [
        {"file": "2024-25/reviews.csv", "row": 2, "column": "REVIEW", "value": "31/02/2024",
         "rule": "date-invalid", "action": "excluded"}]
    assert len(load_council(good, "2024-25")["reviews"]) == 1


def test_two_digit_year(good):
    replace_cell(year_dir(good) / "reviews.csv", "25/06/2024", "25/06/24")
    [row] = findings(good).to_dict("records")
    assert (row["row"], row["rule"], row["action"]) == (3, "date-format", "excluded")
    assert row["message"] == "expected a date written dd/mm/yyyy with a 4-digit year"


def _serial(m: re.Match) -> str:
    """A date as a spreadsheet's day number (a date cell saved without its format)."""
    return str((dt.date(int(m[3]), int(m[2]), int(m[1])) - dt.date(1899, 12, 30)).days)


@pytest.mark.parametrize("written, hint", [
    (r"\3-\2-\1", "They look like yyyy-mm-dd"),  # an export in ISO dates
    (r"\2/\1/\3", "They look like mm/dd/yyyy, month first"),  # a spreadsheet set to US dates
    (r"\1-Mar-\3", "They are written with the month's name"),
    (_serial, "They look like a spreadsheet's day numbers"),
])
def test_a_date_column_in_another_format_refuses_the_file_rather_than_publish_nothing(tmp_path, written, hint):
    """Excluding every row with a date not written dd/mm/yyyy, one by one, published a report of zeros
    from a file an export or a spreadsheet had written in another format. At least half the rows (and at
    least five): the file is refused, naming the column, the first row and what to do. Fewer: findings."""
    from iro_metrics.synth import SynthConfig, write_council

    iso = written == r"\3-\2-\1"
    write_council(tmp_path, SynthConfig(children=60, seed=3))
    episodes = year_dir(tmp_path) / "episodes.csv"
    lines = episodes.read_text().splitlines(keepends=True)
    dates = r"(\d{2})/(\d{2})/(\d{4})"
    reviews = year_dir(tmp_path) / "reviews.csv"
    reviews_text = reviews.read_text()
    reviews.write_text(re.sub(dates, written, reviews_text))  # a second file in another format: named too
    problem, also = fatal_after(tmp_path, episodes, "".join(lines[:1] + [re.sub(dates, written, x)
                                                                        for x in lines[1:]]))
    first = re.match(r"[^,]*,(\d{2})/(\d{2})/(\d{4})", lines[1])
    assert problem.startswith(f"2024-25/episodes.csv, row 2, column DECOM: {len(lines) - 1} of the {len(lines) - 1} "
                              "dates" if iso else "2024-25/episodes.csv, row ")
    assert hint in problem and "export it again from the source system with dates as dd/mm/yyyy" in problem
    assert also.startswith("2024-25/reviews.csv, row ")
    if iso:  # the value shown is the file's own (not a child identifier)
        assert f"such as '{first[3]}-{first[2]}-{first[1]}'" in problem
    reviews.write_text(reviews_text)
    if iso:  # an optional column, blank in many rows: the share is of the dates it holds
        rows = list(csv.reader(io.StringIO("".join(lines))))
        dec = rows[0].index("DEC")
        ended = [k for k, row in enumerate(rows) if k and row[dec]]
        changed = ended[:int(len(ended) * 0.8)]
        assert len(ended) / 2 <= len(changed) < (len(rows) - 1) / 2  # most of its dates, under half the rows
        for k in changed:
            rows[k][dec] = re.sub(dates, written, rows[k][dec])
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        [problem] = fatal_after(tmp_path, episodes, out.getvalue())
        assert f"column DEC: {len(changed)} of the {len(ended)} dates are not real dates" in problem
    few = lines[:1] + [re.sub(dates, r"\3-\2-\1", x) if k < 4 else x for k, x in enumerate(lines[1:])]
    episodes.write_text("".join(few))
    f = findings(tmp_path)
    assert ((f["rule"] == "date-format") & (f["column"] == "DECOM")).sum() == 4  # four rows excluded


def fatal_after(root: Path, path: Path, text: str) -> list[str]:
    path.write_text(text)
    return fatal(root)


def test_trailing_spaces_in_codes_are_trimmed_and_reported(good):
    replace_cell(year_dir(good) / "reviews.csv", "PN1", "PN1 ")
    data = load_council(good, "2024-25")
    [row] = data.findings.frame().to_dict("records")
    assert (row["row"], row["column"], row["value"], row["rule"], row["action"]) == (
        2, "REVIEW_CODE", "PN1 ", "whitespace", "trimmed")
    assert set(data["reviews"]["participation"]) == {"PN1"}


def test_byte_order_mark_is_accepted(good):
    p = year_dir(good) / "header.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    data = load_council(good, "2024-25")
    assert len(data.findings) == 0 and len(data["header"]) == 2


def test_blank_required_value_excludes_the_row(good):
    replace_cell(year_dir(good) / "episodes.csv", ",U6,", ",,")
    data = load_council(good, "2024-25")
    blank, outside = data.findings.frame().to_dict("records")
    assert (blank["row"], blank["column"], blank["rule"], blank["action"]) == (3, "PLACE", "required-blank", "excluded")
    assert len(data["episodes"]) == 1
    # with its only episode excluded, B's review is outside any period of care: said, not hidden
    assert (outside["file"], outside["row"], outside["rule"]) == ("2024-25/reviews.csv", 3, "review-outside-care")


def test_unknown_code_is_kept_and_reported(good):
    replace_cell(year_dir(good) / "episodes.csv", ",U6,", ",U9,")
    data = load_council(good, "2024-25")
    [row] = data.findings.frame().to_dict("records")
    assert (row["rule"], row["value"], row["action"]) == ("unknown-code", "U9", "kept")
    assert len(data["episodes"]) == 2


def test_code_valid_only_in_other_years(good):
    replace_cell(year_dir(good) / "episodes.csv", ",U6,", ",Z11,")  # from 2025-26
    [row] = findings(good).to_dict("records")
    assert row["rule"] == "code-not-valid-for-year"


def test_sex_coded_for_another_year_is_mapped_and_reported(good):
    replace_cell(year_dir(good) / "header.csv", "A,M,", "A,1,")
    data = load_council(good, "2024-25")
    [row] = data.findings.frame().to_dict("records")
    assert (row["rule"], row["value"]) == ("sex-coding", "1")
    assert data["header"].set_index("child_id").loc[data.child_key("A"), "sex"] == "M"


def test_duplicate_row(good):
    p = year_dir(good) / "reviews.csv"
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines + [lines[1]]) + "\n")
    [row] = findings(good).to_dict("records")
    assert (row["row"], row["rule"], row["action"]) == (4, "duplicate-row", "excluded")


def test_a_duplicate_key_is_named_as_the_file_names_its_columns(good):
    p = year_dir(good) / "reviews.csv"
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines + [lines[1].replace(",PN1", ",PN2")]) + "\n")  # same CHILD and REVIEW
    [row] = findings(good).to_dict("records")
    assert (row["row"], row["rule"], row["action"]) == (4, "duplicate-key", "excluded")
    assert row["message"].startswith("same CHILD + REVIEW as an earlier row")


def test_identifiers_never_appear_in_findings(good):
    replace_cell(year_dir(good) / "header.csv", "A123456789012", "12345")
    replace_cell(year_dir(good) / "episodes.csv", "ZZ1 1AA", "BADPOST")
    f = findings(good)
    assert set(f["rule"]) == {"upn-format", "postcode-format"}
    assert set(f["value"]) == {""}


def test_multi_year_combination_latest_return_wins(council):
    council.child("A", "2012-01-15")
    council.stay("A", ("2023-05-01", "S", "U4"), end="2024-06-01", rec="E4A")
    council.write("2023-24", "2024-25")
    data = load_council(council.root, "2024-25")
    ep = data["episodes"]
    assert len(ep) == 1  # restated in both returns, one episode
    assert ep["end_date"].iloc[0].strftime("%d/%m/%Y") == "01/06/2024"
    assert ep["_file"].iloc[0] == "2024-25/episodes.csv"


def test_later_years_are_not_read(council):
    council.child("A", "2012-01-15").stay("A", ("2023-05-01", "S", "U4"))
    council.write("2023-24", "2024-25")
    assert load_council(council.root, "2023-24")["episodes"]["_year"].max() == 2023


def write_liia(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "episodes.csv").write_text(
        "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN,LA,YEAR\n"
        "1,2024-05-01,S,C2,N1,U4,PR1,,,,,,,Northtown,2025\n"
        "1,2024-05-01,S,C2,N1,U4,PR1,,,,,,,Southville,2025\n"
        "2,2023-05-01,S,V2,N1,U6,PR1,,,,,,,Southville,2024\n"
        "2,2023-05-01,S,V2,N1,U6,PR1,,,,,,,Southville,2025\n")
    (root / "header.csv").write_text(
        "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,LA,YEAR\n"
        "1,M,2012-01-01,WBRI,UN2,,,Northtown,2025\n"
        "1,F,2014-01-01,WBRI,UN2,0,,Southville,2025\n"
        "2,1,2010-01-01,WBRI,UN2,,,Southville,2024\n"
        "2,M,2010-01-01,WBRI,UN2,,,Southville,2025\n")
    return root


def test_liia_flat_files(tmp_path):
    root = write_liia(tmp_path / "liia")
    with pytest.raises(UsageError, match="hold 2 councils; choose one with --la"):
        load_council(root, "2024-25")
    data = load_council(root, "2024-25", la="Southville")
    assert len(data["episodes"]) == 2 and len(data["header"]) == 2
    assert data["header"].set_index("child_id").loc[data.child_key("1"), "sex"] == "F"
    assert data.earliest_year.label == "2023-24"
    assert any("end of the collection year" in n for n in data.notes)
    north = load_council(root, "2024-25", la="Northtown")
    assert north["header"].set_index("child_id").loc[north.child_key("1"), "sex"] == "M"


def test_a_gap_in_liia_flat_files_names_the_rows_of_the_year_left_out(tmp_path):
    root = write_liia(tmp_path / "liia")
    for name in ("episodes.csv", "header.csv"):  # Southville's 2023-24 rows become 2022-23's: 2023-24 missing
        text = (root / name).read_text().replace("2023-05-01,S,V2,N1,U6,PR1,,,,,,,Southville,2024",
                                                 "2022-05-01,S,V2,N1,U6,PR1,,,,,,,Southville,2023")
        (root / name).write_text(text.replace(",Southville,2024\n", ",Southville,2023\n"))
    data = load_council(root, "2024-25", la="Southville", cut_at_gap=True)
    f = data.findings.frame()
    assert f.loc[f["rule"] == "history-gap", "message"].str.split(":").str[0].tolist() == [
        "the row for 2022-23 not used", "the row for 2022-23 not used"]  # not "its row": the file has four


def test_cli_validate_exit_codes(good, capsys, tmp_path):
    assert main(["validate", "--data", str(good), "--year", "2024-25"]) == 0
    assert "No findings" in capsys.readouterr().out
    assert main(["validate", "--data", str(good), "--year", "2024-25", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == [] and doc["year"] == "2024-25" and doc["usable"] and doc["problems"] == []
    (year_dir(good) / "episodes.csv").write_text("")
    assert main(["validate", "--data", str(good), "--year", "2024-25"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the data cannot be used (1 problem):")
    assert "Traceback" not in err
    # --json: a program reading the output is told too, not left with nothing to parse
    assert main(["validate", "--data", str(good), "--year", "2024-25", "--json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out) == {"usable": False, "problems": [
        {"file": "2024-25/episodes.csv", "message": "the file is empty (expected a CSV header row and data rows)",
         "column": None, "row": None}]}
    assert out.err.startswith("error: the data cannot be used (1 problem):")
    assert main(["validate", "--data", str(good), "--year", "2019-20", "--json"]) == 1  # no such year
    out = capsys.readouterr()
    [problem] = json.loads(out.out)["problems"]
    assert problem["file"] == str(good) and problem["message"] in out.err
    assert main(["validate", "--data", str(tmp_path / "nowhere"), "--year", "2024-25"]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert main(["validate", "--data", str(good), "--year", "2024"]) == 1
    assert "expected YYYY-YY" in capsys.readouterr().err


def test_only_the_command_itself_spares_its_last_garbage_collections(good, monkeypatch):
    """Run as ``iro-report`` (no arguments given to main), the heap is frozen as the process ends; a caller
    in a long-lived process (these tests) keeps collecting its garbage."""
    import gc
    import sys

    before = gc.get_freeze_count()
    assert main(["validate", "--data", str(good), "--year", "2024-25"]) == 0
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(sys, "argv", ["iro-report", "validate", "--data", str(good), "--year", "2024-25"])
    try:
        assert main() == 0
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("command", [[], ["validate"], ["metrics"], ["synth"], ["definitions"], ["publish"], ["build"]])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([*command, "--help"])
    assert e.value.code == 0
    assert "usage: iro-report" in capsys.readouterr().out


def test_python_dash_m(good):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "iro_metrics", "validate", "--data", str(good), "--year", "2024-25"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "No findings" in r.stdout
    shutil.rmtree(good)


def test_blank_lines_keep_row_numbers_right(good):
    p = year_dir(good) / "reviews.csv"
    lines = p.read_text().splitlines()
    p.write_text("\n".join([lines[0], lines[1], "", ",,,", lines[2].replace("PN1", "PNX")]) + "\n")
    data = load_council(good, "2024-25")
    [row] = data.findings.frame().to_dict("records")
    assert (row["row"], row["rule"]) == (5, "unknown-code")  # the header is row 1; two blank rows skipped
    assert len(data["reviews"]) == 2


def _identified(data, table: str) -> pd.DataFrame:
    """A table with each child's number replaced by its CHILD (numbers differ between loads of
    different returns; identifiers do not)."""
    df = data.tables[table]
    return df.assign(child_id=data.children[df["child_id"]]) if "child_id" in df else df


def _same(a, b) -> None:
    assert a.year == b.year and a.earliest_year == b.earliest_year and a.files == b.files and a.notes == b.notes
    assert sorted(a.tables) == sorted(b.tables)
    for key in a.tables:
        pd.testing.assert_frame_equal(_identified(a, key), _identified(b, key))
    pd.testing.assert_frame_equal(a.findings.frame(), b.findings.frame())


def test_history_loads_each_year_as_load_council_does(demo_data):
    """The five-year trends read each return once; every year must come out exactly as on its own."""
    years = load_history(demo_data, "2024-25", earlier=4)
    assert list(years) == ["2020-21", "2021-22", "2022-23", "2023-24", "2024-25"]
    for label, data in years.items():
        _same(data, load_council(demo_data, label))
    assert list(load_history(demo_data, "2022-23", earlier=1)) == ["2021-22", "2022-23"]


def test_history_of_liia_flat_files_with_findings(tmp_path):
    from test_peer_data import flat
    from conftest import shared_path

    src = shared_path("data", "peer-903", "cs-demand-model-regional")
    root = flat(tmp_path, {p.name: p for p in src.glob("*.csv")})
    years = load_history(root, "2021-22", la="Bromley", earlier=4)
    assert len(years) > 1 and any(len(d.findings) for d in years.values())
    for label, data in years.items():
        _same(data, load_council(root, label, la="Bromley"))


def test_padding_and_blank_rows_are_found_as_the_line_by_line_expressions_find_them():
    """Reading looks for padded cells and blank rows in the text's bytes (a regular expression tried at
    every character of a national return took 11 s): the same answers as the expressions, on every
    short text of commas, spaces, tabs, line endings and a letter, and on texts with a header."""
    import itertools
    import re

    from iro_metrics.ingest import read

    padding = re.compile(r"(^|,)[ \t]|[ \t](,|\r?$)", re.MULTILINE)

    def blank_line(text: str) -> bool:
        return re.compile(r"^[, \t\r]*$", re.MULTILINE).search(text.rstrip("\r\n"),
                                                              len(text.split("\n", 1)[0])) is not None

    texts = ["".join(t) for n in range(1, 7) for t in itertools.product("a, \t\r\n", repeat=n)]
    texts += ["CHILD,SEX\n" + t for t in texts if len(t) <= 5]
    texts += ["CHILD,SEX\n1,é \n", "é,\n ", "CHILD\n€\n\n"]  # characters of two and three bytes
    for text in texts:
        data = read._bytes(text)
        assert read._has_padding(data) == (padding.search(text) is not None), repr(text)
        assert read._has_blank_line(text, data) == blank_line(text), repr(text)


def test_children_are_numbered_in_identifier_order_the_same_in_every_return_and_table(council):
    """CHILD identifiers become numbers once, on load: sorted as text, so "10" < "9" < "A", and "007" is
    not "7"; each child the same number in every table of every return."""
    for cid in ("B", "9", "10", "A", "7", "007"):
        council.child(cid, "2014-01-01").episode(cid, "2023-06-01").review(cid, "2023-12-01")
    root = council.write("2023-24", "2024-25")
    header = root / "2024-25" / "header.csv"  # a padded file is numbered the same way
    header.write_text(header.read_text().replace("\nB,", "\n B ,"))
    data = load_council(root, "2024-25")
    assert data.children.tolist() == ["007", "10", "7", "9", "A", "B"]
    written = {(f"{p.parent.name}/{p.name}", n): row["CHILD"].strip()  # each file's CHILD by row number
               for p in root.rglob("*.csv") for n, row in enumerate(csv.DictReader(p.open()), start=2)
               if "CHILD" in row}
    for table in ("header", "episodes", "reviews"):
        df = data[table]
        assert df["child_id"].dtype == "int64"
        assert [data.children[n] for n in df["child_id"]] == [written[k] for k in zip(df["_file"], df["_row"])]
        assert sorted(df["child_id"]) == list(range(6))  # each child one number, the same in every table
    assert set(data["header"]["_year"]) == {2024} and set(data["reviews"]["_year"]) == {2023}  # two returns
    assert data.child_key("A") == 4
    with pytest.raises(KeyError):
        data.child_key("C")
    assert (data.findings.frame()["rule"] == "identifier-collision").sum() > 0  # 7 and 007, still found


def test_a_gap_in_liia_flat_files_is_not_named_as_a_folder(tmp_path):
    root = write_liia(tmp_path / "liia")
    for name in ("episodes.csv", "header.csv"):  # as in the test above: Southville's 2023-24 missing
        text = (root / name).read_text().replace("2023-05-01,S,V2,N1,U6,PR1,,,,,,,Southville,2024",
                                                 "2022-05-01,S,V2,N1,U6,PR1,,,,,,,Southville,2023")
        (root / name).write_text(text.replace(",Southville,2024\n", ",Southville,2023\n"))
    with pytest.raises(FatalDataError) as e:
        load_council(root, "2024-25", la="Southville")
    [problem] = e.value.problems
    assert problem.file == "2023-24 (flat files)" and "the flat files have no rows for it" in problem.message

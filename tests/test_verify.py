"""Reviewers: every published artefact is rebuilt and compared. The demo council is built once for the
module; each test tampers with a copy of one artefact and checks that verify names it, its section,
and what was expected and found."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.report.appendix import REPORT_SECTIONS
from iro_metrics.report.build import build

pytestmark = pytest.mark.build  # builds appendices: not in `make test-quick`

YEAR = "2024-25"
COMMENTARY = ("## summary\n\nWe held {{ reviews_held }} reviews this year.\n\n"
              "## reviews\n\nLate reviews were mostly rescheduled at the family's request.\n")


@pytest.fixture(scope="module")
def published(tmp_path_factory, demo_data) -> Path:
    """A council folder as a reviewer receives it: data, params, commentary and outputs side by side."""
    root = tmp_path_factory.mktemp("council")
    shutil.copytree(demo_data, root / "data")
    params = root / "params" / "demo" / f"{YEAR}.yaml"
    params.parent.mkdir(parents=True)
    params.write_text(f"council: Demo Borough\nyear: {YEAR}\ndata: ../../data\npopulation: 52000\n"
                      "la_code: E09000028\n")
    params.with_name(f"{YEAR}.commentary.md").write_text(COMMENTARY)
    build(params, outputs=root / "outputs")
    return root


@pytest.fixture
def copy(published, tmp_path) -> Path:
    """A copy of the whole council folder, to tamper with."""
    shutil.copytree(published, tmp_path / "copy")
    return tmp_path / "copy"


def out_dir(root: Path) -> Path:
    return root / "outputs" / "demo-borough" / YEAR


def verify(capsys, *args: str) -> tuple[int, str]:
    code = main(["verify", *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out + captured.err


def differences(out: str, artefact: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith(f"{artefact} (")]


def test_a_copy_moved_away_from_its_data_reproduces_as_json(published, tmp_path, capsys, monkeypatch):
    """Untouched outputs reproduce, every artefact compared. Here the repository holds params,
    commentary and outputs, and the data stay elsewhere ($IRO_REPORT_DATA); the text report of an
    appendix that reproduces is shown in test_two_appendices_in_parallel."""
    repo = tmp_path / "elsewhere" / "repo"
    shutil.copytree(published / "outputs", repo / "outputs")
    shutil.copytree(published / "params", repo / "params")
    monkeypatch.setenv("IRO_REPORT_DATA", str(published / "data"))
    code, out = verify(capsys, str(repo / "outputs"), "--json")
    report = json.loads(out)
    assert code == 0, out
    assert report["status"] == "reproduces" and report["appendices"][0]["differences"] == []
    assert report["appendices"][0]["notes"] == []  # the commentary file was found beside the params
    checked = report["appendices"][0]["checked"]  # every published artefact was compared
    assert checked[:5] == ["appendix.ipynb (19 code cells)", "appendix.html", "appendix.pdf", "appendix.docx",
                           "metrics.json"]
    assert checked[5].startswith("tables (") and checked[6:] == ["tables.xlsx", "tables.ods", "build.json"]


def test_no_data_could_not_run(published, tmp_path, capsys):
    shutil.copytree(published / "outputs", tmp_path / "outputs")
    code, out = verify(capsys, str(tmp_path / "outputs"))
    assert code == 2
    assert "COULD NOT RUN" in out and "--data DIR or $IRO_REPORT_DATA" in out
    code, out = verify(capsys, str(tmp_path / "nothing-here"))
    assert code == 2 and "no such file or folder" in out
    (tmp_path / "empty").mkdir()  # a data folder without the returns: the notebook fails as it loads them
    code, out = verify(capsys, str(tmp_path / "outputs"), "--data", str(tmp_path / "empty"))
    assert code == 2 and "COULD NOT RUN" in out and "the notebook failed while loading the data" in out


def test_unreadable_parameters_could_not_run(published, tmp_path, capsys):
    shutil.copytree(published / "outputs", tmp_path / "outputs")
    notebook = out_dir(tmp_path) / "appendix.ipynb"
    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    cell["source"] = [line for line in cell["source"] if not line.startswith("data = ")]
    notebook.write_text(json.dumps(nb))
    code, out = verify(capsys, str(tmp_path / "outputs"), "--json")
    assert code == 2
    [appendix] = json.loads(out)["appendices"]
    assert appendix["status"] == "could not run"
    assert appendix["reason"] == "the notebook's injected parameters lack data"


def test_html_number_tampered(copy, capsys):
    page = out_dir(copy) / "appendix.html"
    text = page.read_text()
    start = text.index('id="participation"')
    m = re.compile(r'<td class="num">(\d+)</td>').search(text, start)
    old = m.group(1)
    new = str(int(old) + 9)
    page.write_text(text[:m.start(1)] + new + text[m.end(1):])
    code, out = verify(capsys, str(copy / "outputs"))
    assert code == 1
    [line] = differences(out, "appendix.html")
    assert line.startswith("appendix.html (Participation in reviews") and f'expected "{old}", found "{new}"' in line


def test_html_commentary_word_tampered(copy, capsys):
    page = out_dir(copy) / "appendix.html"
    page.write_text(page.read_text().replace("were mostly rescheduled", "were rarely rescheduled"))
    code, out = verify(capsys, str(copy / "outputs"))
    assert code == 1
    [line] = differences(out, "appendix.html")
    assert line.startswith("appendix.html (Reviews and their timeliness")
    assert 'expected "mostly", found "rarely"' in line
    assert not differences(out, "appendix.pdf") and not differences(out, "appendix.ipynb")


def test_pdf_number_tampered(copy, capsys):
    old, new = swap_digits_in_pdf(out_dir(copy) / "appendix.pdf")
    code, out = verify(capsys, str(copy / "outputs"))
    assert code == 1
    lines = differences(out, "appendix.pdf")
    assert lines and all(old in line and new in line for line in lines[:1])
    section = lines[0].split("(", 1)[1].split(",")[0]
    assert section in REPORT_SECTIONS.values()
    assert "expected" in lines[0] and "found" in lines[0] and "page " in lines[0]
    assert not differences(out, "appendix.html")


def test_metrics_json_tampered(copy, capsys):
    metrics = out_dir(copy) / "metrics.json"
    doc = json.loads(metrics.read_text())
    old = doc["indicators"]["reviews_on_time_pct"]["value"]
    doc["indicators"]["reviews_on_time_pct"]["value"] = 99.9
    metrics.write_text(json.dumps(doc, indent=2) + "\n")
    code, out = verify(capsys, str(copy / "outputs"), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["status"] == "does not reproduce"
    [diff] = report["appendices"][0]["differences"]
    assert diff == {"artefact": "metrics.json", "section": "Reviews and their timeliness", "expected": str(old),
                    "found": "99.9", "where": "indicators.reviews_on_time_pct.value"}


def test_notebook_output_tampered(copy, capsys):
    notebook = out_dir(copy) / "appendix.ipynb"
    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if "participation" in "".join(c["source"]) and c["cell_type"] == "code")
    html = "".join(cell["outputs"][0]["data"]["text/html"])
    m = re.search(r'<td class="num">(\d+)</td>', html)
    new = str(int(m.group(1)) + 9)
    cell["outputs"][0]["data"]["text/html"] = html[:m.start(1)] + new + html[m.end(1):]
    notebook.write_text(json.dumps(nb, indent=1))
    code, out = verify(capsys, str(copy / "outputs"))
    assert code == 1
    [line] = differences(out, "appendix.ipynb")
    assert line.startswith("appendix.ipynb (Participation in reviews, cell ")
    assert f'expected "{m.group(1)}", found "{new}"' in line
    assert not differences(out, "appendix.html")  # the page is rebuilt from the re-executed outputs


def _rezip(path: Path, member: str, change) -> None:
    """Rewrite one member of a zip file (a .docx or .xlsx) with ``change`` applied to its text."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            z.writestr(info, change(data.decode("utf-8")).encode("utf-8") if info.filename == member else data)


def test_a_table_the_word_paper_the_spreadsheet_and_the_file_list_tampered_at_once(copy, capsys):
    """Four independent artefacts changed in one copy, one verify run: each named, cell by cell, and
    nothing else reported."""
    table = out_dir(copy) / "tables" / "cla_by_age.csv"
    rows = list(csv.reader(table.open()))
    old = rows[1][1]
    rows[1][1] = str(int(old) + 1) if old.isdigit() else "7"
    with table.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    docx = out_dir(copy) / "appendix.docx"
    with zipfile.ZipFile(docx) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    w = re.search(r"<w:t(?: [^>]*)?>(\d{3,})</w:t>", xml)  # a number in a table
    _rezip(docx, "word/document.xml", lambda t: t[:w.start(1)] + str(int(w.group(1)) + 1) + t[w.end(1):])
    xlsx = out_dir(copy) / "tables.xlsx"
    with zipfile.ZipFile(xlsx) as z:
        sheet = "xl/worksheets/sheet3.xml"  # the first table (cover and contents come first)
        xml = z.read(sheet).decode("utf-8")
    x = re.search(r'<c r="([A-Z]+\d+)"(?![^>]*t="s")[^>]*><v>(\d+)</v>', xml)  # a number, not a string
    _rezip(xlsx, sheet, lambda t: t[:x.start(2)] + str(int(x.group(2)) + 5) + t[x.end(2):])
    (out_dir(copy) / "tables" / "cla_by_sex.csv").unlink()
    (out_dir(copy) / "notes.txt").write_text("edited by hand\n")

    code, out = verify(capsys, str(copy / "outputs"))
    assert code == 1
    [line] = differences(out, "tables/cla_by_age.csv")
    assert line == (f'tables/cla_by_age.csv (Children in care, row 1 ({rows[1][0]}), column {rows[0][1]}): '
                    f'expected "{old}", found "{rows[1][1]}"')
    [line] = differences(out, "appendix.docx")
    assert f'expected "{w.group(1)}", found "{int(w.group(1)) + 1}"' in line
    [line] = differences(out, "tables.xlsx")
    assert f"cell {x.group(1)}" in line and f'expected "{x.group(2)}", found "{int(x.group(2)) + 5}"' in line
    assert 'tables/cla_by_sex.csv: expected a published file, found none (missing)' in out
    assert 'notes.txt: expected no such file, found an extra file' in out
    for untouched in ("appendix.html", "appendix.pdf", "appendix.ipynb", "metrics.json"):
        assert not differences(out, untouched)


def test_a_changed_input_is_named_and_leaks_no_identifier(copy, capsys):
    reviews = copy / "data" / YEAR / "reviews.csv"
    lines = reviews.read_text().splitlines()
    first = lines[1].split(",")
    first[3] = "PN7" if first[3] != "PN7" else "PN6"  # one participation code
    reviews.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    code, out = verify(capsys, str(copy / "outputs"))
    assert code == 1
    notebook, manifest = differences(out, "appendix.ipynb"), differences(out, "build.json")
    assert any(line.startswith("appendix.ipynb (Participation in reviews") for line in notebook)
    assert any(line.startswith("build.json (inputs data/2024-25/reviews.csv)") for line in manifest)
    assert "(Placement stability" not in out  # unaffected sections still reproduce
    header = list(csv.DictReader((copy / "data" / YEAR / "header.csv").open()))
    identifiers = {r["CHILD"] for r in header} | {r["UPN"] for r in header} | {r["DOB"] for r in header}
    assert not identifiers & set(re.findall(r"[A-Za-z0-9/]+", out))


def swap_digits_in_pdf(path: Path) -> tuple[str, str]:
    """Change one number in the PDF's text: swap two different digits of a number shown on its own, using
    the glyphs of the font's own ToUnicode map. Returns (old, new)."""
    import pikepdf

    pdf = pikepdf.open(path, allow_overwriting_input=True)
    for page in list(pdf.pages)[2:]:
        maps = {}
        for name, font in page.Resources.Font.items():
            cmap = font.ToUnicode.read_bytes().decode("latin-1")
            pairs = re.findall(r"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]{4})>", cmap)  # bfchar: glyph -> character
            maps[name] = {int(g, 16): chr(int(u, 16)) for g, u in pairs}
        ops = pikepdf.parse_content_stream(page)
        font = None
        for i, (operands, op) in enumerate(ops):
            if str(op) == "Tf":
                font = str(operands[0])
            if str(op) != "TJ" or font not in maps:
                continue
            parts = [p for p in operands[0] if isinstance(p, pikepdf.String)]
            if len(parts) != 1:
                continue
            raw = bytes(parts[0])
            gids = [int.from_bytes(raw[k:k + 2], "big") for k in range(0, len(raw), 2)]
            text = "".join(maps[font].get(g, "?") for g in gids)
            if len(text) >= 2 and text.isdigit() and len(set(text)) >= 2:
                a, b = text[0], next(c for c in text if c != text[0])
                swapped = "".join(b if c == a else a if c == b else c for c in text)
                back = {v: k for k, v in maps[font].items()}
                new_raw = b"".join(back[c].to_bytes(2, "big") for c in swapped)
                ops[i] = pikepdf.ContentStreamInstruction([pikepdf.Array([pikepdf.String(new_raw)])], op)
                page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(ops))
                pdf.save(path)
                return text, swapped
    raise AssertionError("no number found to change in the PDF")


def test_two_appendices_in_parallel(copy, capsys):
    """--workers 2: each appendix in its own process; one tampered, one not."""
    shutil.copytree(out_dir(copy), copy / "outputs" / "twin-borough" / YEAR)
    (out_dir(copy) / "metrics.json").write_text("{}\n")
    code, out = verify(capsys, str(copy / "outputs"), "--workers", "2")
    assert code == 1
    assert "demo-borough/2024-25: DOES NOT REPRODUCE" in out and "twin-borough/2024-25: REPRODUCES" in out
    assert "1 of 2 appendices reproduce" in out


def test_nbval_formats_kernel_messages_only_for_its_debug_log():
    """verify runs nbval with its per-message pretty-printing off (0.18 s) unless its debug log is on,
    and leaves nbval as it found it."""
    import logging

    from nbval import kernel

    from iro_metrics.report.nbval_capture import _no_message_dumps

    real = kernel.pformat
    with _no_message_dumps():
        assert kernel.pformat({"a": 1}) == ""
    assert kernel.pformat is real
    log = logging.getLogger("nbval")
    level = log.level
    log.setLevel(logging.DEBUG)
    try:
        with _no_message_dumps():
            assert kernel.pformat({"a": 1}) == "{'a': 1}"
    finally:
        log.setLevel(level)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority: Linux")
def test_verify_renders_the_pages_at_a_lower_priority_than_the_re_execution():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from iro_metrics.report.verify import _in_the_background

    def niceness() -> tuple[int, int]:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), os.getpriority(os.PRIO_PROCESS, 0)

    with ThreadPoolExecutor(1) as pool:
        (thread, _), (ours, _) = pool.submit(_in_the_background, niceness).result(), niceness()
    assert thread == min(ours + 10, 19) and niceness()[0] == ours  # this thread's own is unchanged


def test_data_given_for_many_councils_finds_the_council_folder_by_its_name(tmp_path):
    """``--data`` may hold one folder per council, named as the council's slug or with a name giving it
    (two such names, and none the slug itself: which is meant is not guessed)."""
    from iro_metrics.report.verify import CouldNotRun, data_folder

    for name in ("Space Council", "other"):
        (tmp_path / "data" / name / YEAR).mkdir(parents=True)
    notebook = tmp_path / "outputs" / "space-council" / YEAR / "appendix.ipynb"
    assert data_folder(notebook, "unused", tmp_path / "data", "space-council") == tmp_path / "data" / "Space Council"
    assert data_folder(notebook, "unused", tmp_path / "data" / "other", "space-council") == tmp_path / "data" / "other"
    (tmp_path / "data" / "SPACE_COUNCIL" / YEAR).mkdir(parents=True)
    with pytest.raises(CouldNotRun, match="holds more than one folder for this council .SPACE_COUNCIL, Space Council."):
        data_folder(notebook, "unused", tmp_path / "data", "space-council")
    (tmp_path / "data" / "space-council" / YEAR).mkdir(parents=True)  # the slug itself comes first
    assert data_folder(notebook, "unused", tmp_path / "data", "space-council") == tmp_path / "data" / "space-council"


def test_an_input_file_not_at_hand_could_not_run_naming_it(tmp_path):
    """The council's other inputs (here its population by ethnicity) are recorded relative to the notebook:
    verifying a copy moved away from them says which file, as recorded and where it was looked for."""
    import nbformat

    from iro_metrics.report.verify import CouldNotRun, _verify

    (tmp_path / "data" / YEAR).mkdir(parents=True)
    folder = tmp_path / "copy" / YEAR
    folder.mkdir(parents=True)
    cell = nbformat.v4.new_code_cell(f"council = 'Demo Borough'\nyear = '{YEAR}'\ndata = '../../data'\n"
                                     "population_by_ethnicity = '../../params/demo/ethnicity.csv'\n",
                                     metadata={"tags": ["injected-parameters"]})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / "appendix.ipynb")
    with pytest.raises(CouldNotRun) as e:
        _verify(folder / "appendix.ipynb", None)
    assert str(e.value).startswith(f"population_by_ethnicity: ../../params/demo/ethnicity.csv (recorded in the "
                                   f"notebook, relative to it: {tmp_path / 'params' / 'demo' / 'ethnicity.csv'}) "
                                   "is not at hand")

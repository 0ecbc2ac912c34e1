"""Officers' commentary survives every rebuild: written in the file or in the notebook, never lost."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from iro_metrics.cli import main
from iro_metrics.report import commentary as C
from iro_metrics.report.appendix import REPORT_SECTIONS
from iro_metrics.report.build import NOTEBOOK, build
from iro_metrics.report.commentary import PLACEHOLDER, CommentaryError, harvest_notebook, parse, template_sections
from iro_metrics.report.render import RenderError

pytestmark = pytest.mark.build  # most tests build an appendix: not in `make test-quick`


@pytest.fixture(scope="module")
def first_build(tmp_path_factory, demo_data) -> Path:
    """The demo council with its data, params and a first build (blank commentary), made once for the module."""
    root = tmp_path_factory.mktemp("council")
    shutil.copytree(demo_data, root / "data")
    params(root).parent.mkdir(parents=True)
    params(root).write_text("council: Demo Borough\nyear: 2024-25\ndata: ../../data\npopulation: 52000\n")
    assert run_build(root) == 0
    return root


@pytest.fixture
def council(tmp_path, first_build) -> Path:
    """A council whose outputs have been built once, as an officer's are when the commentary starts (each
    test's own copy: relative paths, so the copy builds as the original would)."""
    shutil.copytree(first_build, tmp_path, dirs_exist_ok=True)
    return tmp_path


def params(root: Path) -> Path:
    return root / "params" / "demo" / "2024-25.yaml"


def notes(root: Path) -> Path:
    return root / "params" / "demo" / "2024-25.commentary.md"


def out(root: Path) -> Path:
    return root / "outputs" / "demo-borough" / "2024-25"


def run_build(root: Path, *extra: str) -> int:
    return main(["build", str(params(root)), "--outputs", str(root / "outputs"), *extra])


def checksums(root: Path) -> dict[str, str]:
    """Every published file and the commentary file (not a killed build's hidden scratch folder)."""
    files = [p for p in sorted((root / "outputs").rglob("*")) if p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)] + [notes(root)]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.exists()}


def edit_cells(nb_path: Path, texts: dict[str, str]) -> None:
    """Type into narrative cells and save, as JupyterLab does (nbformat, indent 1)."""
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        sid = cell.metadata.get("iro", {}).get("section")
        if sid in texts:
            cell.source = texts[sid]
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def pdf_text(path: Path) -> str:
    if not shutil.which("pdftotext"):
        if os.environ.get("CI"):
            pytest.fail("CI must provide pdftotext (.ci/run installs poppler-utils)")
        pytest.skip("needs pdftotext (poppler-utils)")
    return " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split())


def test_round_trip_notebook_then_file(council, capsys):
    assert run_build(council) == 0
    notebook = out(council) / "appendix.ipynb"
    typed = {"reviews": "Timeliness held up: {{ reviews_on_time_pct }} of reviews were on time.",
             "participation": "Children told us *what mattered*; {{ participation_pct }} took part."}
    edit_cells(notebook, typed)
    assert main(["harvest", str(notebook)]) == 0
    sections = parse(notes(council).read_text(), template_sections()).texts
    assert sections["reviews"] == typed["reviews"] and sections["participation"] == typed["participation"]
    by_hand = "We opened a new duty system in **September**."
    notes(council).write_text(notes(council).read_text().replace("## escalations\n", f"## escalations\n\n{by_hand}\n"))
    assert run_build(council) == 0
    page = (out(council) / "appendix.html").read_text()
    figures = json.loads((out(council) / "metrics.json").read_text())["indicators"]
    on_time = f"{round(figures['reviews_on_time_pct']['value'])}%"
    took_part = f"{round(figures['participation_pct']['value'])}%"
    assert f"Timeliness held up: {on_time} of reviews were on time." in page
    assert f"<em>what mattered</em>; {took_part} took part." in page
    assert "We opened a new duty system in <strong>September</strong>." in page
    text = pdf_text(out(council) / "appendix.pdf")
    assert f"Timeliness held up: {on_time} of reviews were on time." in text
    assert "We opened a new duty system in September." in text
    nb = nbformat.read(out(council) / "appendix.ipynb", as_version=4)
    cells = {c.metadata["iro"]["section"]: c.source for c in nb.cells if "commentary" in c.metadata.get("tags", [])}
    assert cells["reviews"] == typed["reviews"] and cells["escalations"] == by_hand
    assert cells["stability"] == PLACEHOLDER


def test_rebuild_without_harvesting_refuses_and_changes_nothing(council, capsys):
    assert run_build(council) == 0
    edit_cells(out(council) / "appendix.ipynb", {"summary": "Typed in JupyterLab, not yet harvested."})
    before = checksums(council)
    assert run_build(council) == 1
    err = capsys.readouterr().err
    assert "holds commentary that is not in the commentary file: summary (edited)" in err
    assert "iro-report harvest" in err
    assert checksums(council) == before
    assert run_build(council, "--discard-notebook-edits") == 0
    assert "Typed in JupyterLab" not in (out(council) / "appendix.html").read_text()


def test_a_failed_build_leaves_commentary_and_outputs(council, capsys):
    notes(council).write_text("## summary\n\nKeep me.\n")
    assert run_build(council) == 0
    before = checksums(council)
    (council / "data" / "2024-25" / "episodes.csv").write_text("")
    assert run_build(council) == 1
    assert checksums(council) == before
    # the notebook's kernel met the bad file: said as plainly as if build had read it itself
    err = capsys.readouterr().err
    assert "error: the data cannot be used" in err and "2024-25/episodes.csv: the file is empty" in err
    assert "notebook failed" not in err and "internal error" not in err


def test_killing_a_build_leaves_commentary_and_outputs(council):
    notes(council).write_text("## summary\n\nKeep me.\n")
    assert run_build(council) == 0
    before = checksums(council)
    proc = subprocess.Popen([sys.executable, "-m", "iro_metrics", "build", str(params(council)), "--outputs",
                             str(council / "outputs"), "--full"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)  # mid-way: the notebook is executing (--full: else only the commentary would be rebuilt)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checksums(council) == before
    assert run_build(council) == 0  # the next build clears the killed one's scratch folder
    assert not [p for p in out(council).parent.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


def test_malicious_commentary_is_refused_or_inert(council, capsys):
    notes(council).write_text("## summary\n\n{{ ''.__class__ }}\n")
    assert run_build(council) == 1
    assert "2024-25.commentary.md, line 3 (section 'summary'): only a figure name can go between" in \
        capsys.readouterr().err
    notes(council).write_text("## participation\n\n<script>alert('x')</script> <img src=x onerror=alert(1)>\n")
    assert run_build(council) == 0
    page = (out(council) / "appendix.html").read_text()
    assert "<script>alert" not in page and "onerror" not in re.sub(r"&lt;.*?&gt;", "", page)
    assert "&lt;script&gt;" in page


def test_only_a_table_cells_alignment_survives_as_a_style():
    from iro_metrics.report.render import sanitise

    kept = sanitise('<table><tr><th scope="col" style="text-align:center">a</th><td style="text-align:right">1</td>'
                    '</tr></table>')
    assert '<th scope="col" style="text-align:center;">a</th>' in kept and '<td style="text-align:right;">1</td>' in kept
    for given in ['<td style="text-align:right;color:red">1</td>', '<td style="background:url(javascript:x)">1</td>',
                  '<td style="text-align: right; position: fixed">1</td>', '<td scope="row">1</td>']:
        assert "<td>1</td>" in sanitise(f"<table><tr>{given}</tr></table>"), given
    assert sanitise('<p style="text-align:right">x</p>') == "<p>x</p>"


def test_a_params_file_copied_for_another_council_with_the_same_name_does_not_replace_its_report(council, capsys):
    """An analyst copies a council's params file for a new council and leaves ``council:`` as it was:
    building it would replace the first council's published report. Refused, nothing changed."""
    other = council / "params" / "copy" / "2024-25.yaml"
    other.parent.mkdir()
    other.write_text(params(council).read_text())
    shutil.copy(notes(council), other.with_name("2024-25.commentary.md"))
    before = checksums(council)
    assert main(["build", str(other), "--outputs", str(council / "outputs")]) == 1
    err = capsys.readouterr().err
    assert "two params files give the same council name" in err and str(params(council).parent) in err
    assert checksums(council) == before
    assert main(["build", str(other), "--outputs", str(council / "elsewhere")]) == 0  # its own folder: built


def test_an_unknown_figure_name_is_an_error_naming_the_section(council, capsys):
    notes(council).write_text("## reviews\n\n{{ reviews_on_tme_pct }}\n")
    assert run_build(council) == 1
    err = capsys.readouterr().err
    assert "2024-25.commentary.md, line 3 (section 'reviews'): {{ reviews_on_tme_pct }} is not a figure" in err


def test_a_bad_quote_is_named_by_its_line_in_the_commentary_file(council, capsys):
    """The line an officer is told is the file's, wherever the section sits and however often its
    heading appears; also when only the commentary changed since the last build."""
    text = ("# Commentary\n\nA preamble.\n\n## summary\n\nFine.\n\n## reviews\n\n\nWe held {{ reviews_held }}.\n"
            "Then {{ reviews_hled }}.\n\n## trends\n\nMore.\n\n## reviews\n\nAgain {{ reviews_held }}.\n"
            "And {{ oops }}.\n")
    lines = text.splitlines()
    notes(council).write_text(text.replace("{{ oops }}", "no quote"))
    assert run_build(council) == 1
    err = capsys.readouterr().err
    line = lines.index("Then {{ reviews_hled }}.") + 1
    assert f"2024-25.commentary.md, line {line} (section 'reviews'): {{{{ reviews_hled }}}} is not a figure" in err
    notes(council).write_text(text.replace("{{ reviews_hled }}", "{{ reviews_held }}"))
    assert run_build(council) == 1  # the second heading's part
    line = lines.index("And {{ oops }}.") + 1
    assert f"2024-25.commentary.md, line {line} (section 'reviews'): {{{{ oops }}}} is not a figure" in \
        capsys.readouterr().err
    notes(council).write_text("## reviews\n\nWe held {{ reviews_held }}.\n")
    assert run_build(council) == 0
    notes(council).write_text("## reviews\n\nWe held {{ reviews_held }}.\n\n{{ nope }}\n")
    assert run_build(council) == 1  # a commentary-only rebuild checks the quotes with the figures
    assert "2024-25.commentary.md, line 5 (section 'reviews'): {{ nope }} is not a figure" in capsys.readouterr().err


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_a_file_with_windows_or_old_mac_line_endings_reads_as_written(tmp_path, ending):
    path = tmp_path / "2024-25.commentary.md"
    path.write_bytes(ending.join(["# Commentary", "", "## summary", "", "Our words.", "", "## reviews", "",
                                  "", "{{ nope }}", ""]).encode())
    got = C.read(path, ["summary", "reviews"])
    assert got.texts == {"summary": "Our words.", "reviews": "{{ nope }}"}
    with pytest.raises(CommentaryError, match="line 10 .section 'reviews'.: .. nope .. is not a figure"):
        C.check_quotes(got, FIGURES, ["summary", "reviews"], path)


def test_final_needs_every_section(council, capsys):
    assert run_build(council, "--final") == 1
    assert "--final: still no commentary, or the placeholder text, for summary" in capsys.readouterr().err
    notes(council).write_text("".join(f"## {s}\n\nWritten.\n\n" for s in template_sections()))
    assert run_build(council, "--final") == 0
    assert 'class="draft"' not in (out(council) / "appendix.html").read_text()
    assert "Draft" not in pdf_text(out(council) / "appendix.pdf")
    with pytest.raises(CommentaryError):
        notes(council).write_text("## summary\n\n{{ nope }}\n")
        build(params(council), outputs=council / "outputs")


# --- issue 15: every path that lost words, the commentary file, the officer notebook -------------------

FIGURES = {"reviews_held": "1,103", "reviews_on_time_pct": "94%", "participation_pct": "88%"}
ORDER = template_sections()


def fast_build(root: Path, discard: bool = False, final: bool = False) -> Path:
    """The commentary half of `build` (the same library calls, without executing the notebook)."""
    target = out(root)
    notes_ = C.prepare(notes(root), target / "appendix.ipynb", ORDER, discard, final)
    template = nbformat.read(NOTEBOOK, as_version=4)
    C.inject(template, notes_, "../../../params/demo/2024-25.commentary.md", FIGURES)
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(template, target / "appendix.ipynb")
    return target / "appendix.ipynb"


@pytest.fixture
def desk(tmp_path) -> Path:
    """A council folder for the fast tests: a params file and no data (nothing is executed)."""
    params(tmp_path).parent.mkdir(parents=True)
    params(tmp_path).write_text("council: Demo Borough\nyear: 2024-25\ndata: ../../data\n")
    return tmp_path


def cells_of(nb, section: str) -> list[int]:
    """Indices of the Markdown cells owned by a section (after its code cell, up to the next one)."""
    idx = next(i for i, c in enumerate(nb.cells) if c.metadata.get("iro", {}).get("section") == section
               and c.cell_type == "code")
    run = []
    for i in range(idx + 1, len(nb.cells)):
        if nb.cells[i].cell_type == "code":
            break
        run.append(i)
    return run


def save(nb, path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def test_path1_a_new_markdown_cell_is_harvested_in_order(desk):
    nb_path = fast_build(desk)
    nb = nbformat.read(nb_path, as_version=4)
    first = cells_of(nb, "reviews")[0]
    nb.cells[first].source = "First paragraph."
    nb.cells.insert(first + 1, nbformat.v4.new_markdown_cell("A new cell the officer added."))
    save(nb, nb_path)
    before = notes(desk).read_bytes()
    with pytest.raises(CommentaryError, match=r"reviews \(edited\)"):
        fast_build(desk)
    assert notes(desk).read_bytes() == before
    h = harvest_notebook(nb_path)
    assert h.taken == ["reviews"]
    assert C.read(notes(desk)).texts["reviews"] == "First paragraph.\n\nA new cell the officer added."
    fast_build(desk)  # harvested: accepted


def test_path2_a_duplicated_cell_keeps_both_copies(desk):
    nb_path = fast_build(desk)
    nb = nbformat.read(nb_path, as_version=4)
    first = cells_of(nb, "participation")[0]
    nb.cells[first].source = "Original cell."
    copy_ = nbformat.from_dict(json.loads(json.dumps(nb.cells[first])))
    copy_.source = "Edited duplicate."
    nb.cells.insert(first + 1, copy_)
    save(nb, nb_path)
    harvest_notebook(nb_path)
    assert C.read(notes(desk)).texts["participation"] == "Original cell.\n\nEdited duplicate."


def test_path3_mixed_editing_merges_and_a_conflict_writes_nothing(desk):
    notes(desk).parent.mkdir(parents=True, exist_ok=True)
    notes(desk).write_text("## summary\n\nOld summary.\n\n## reviews\n\nOld reviews.\n")
    nb_path = fast_build(desk)
    notes(desk).write_text("## summary\n\nSummary edited in the file.\n\n## reviews\n\nOld reviews.\n")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[cells_of(nb, "reviews")[0]].source = "Reviews edited in the notebook."
    save(nb, nb_path)
    h = harvest_notebook(nb_path)
    merged = C.read(notes(desk)).texts
    assert h.taken == ["reviews"] and merged["summary"] == "Summary edited in the file."
    assert merged["reviews"] == "Reviews edited in the notebook."
    assert "Old reviews." in h.backup.read_text()
    # now both sides change the same section
    notes(desk).write_text(notes(desk).read_text().replace("Reviews edited in the notebook.", "File wins?"))
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[cells_of(nb, "reviews")[0]].source = "Notebook wins?"
    save(nb, nb_path)
    before, nb_before = notes(desk).read_bytes(), nb_path.read_bytes()
    assert main(["harvest", str(nb_path)]) == 1
    with pytest.raises(CommentaryError) as e:
        harvest_notebook(nb_path)
    assert "File wins?" in str(e.value) and "Notebook wins?" in str(e.value) and "section reviews" in str(e.value)
    assert notes(desk).read_bytes() == before and nb_path.read_bytes() == nb_before


def test_path4_a_deleted_cell_stops_the_build_and_harvest_keeps_the_text(desk, capsys):
    notes(desk).parent.mkdir(parents=True, exist_ok=True)
    notes(desk).write_text("## escalations\n\nWords that must survive.\n")
    nb_path = fast_build(desk)
    nb = nbformat.read(nb_path, as_version=4)
    del nb.cells[cells_of(nb, "escalations")[0]]
    save(nb, nb_path)
    with pytest.raises(CommentaryError, match=r"escalations \(its commentary cell was deleted\)"):
        fast_build(desk)
    assert main(["harvest", str(nb_path)]) == 0
    said = capsys.readouterr().out
    assert "commentary cell of escalations was deleted" in said and "is kept" in said
    assert C.read(notes(desk)).texts["escalations"] == "Words that must survive."
    assert "## unplaced" not in notes(desk).read_text()
    rebuilt = nbformat.read(fast_build(desk), as_version=4)
    assert rebuilt.cells[cells_of(rebuilt, "escalations")[0]].source == "Words that must survive."


def test_unplaced_text_stops_the_build_unless_discarded(desk):
    nb_path = fast_build(desk)
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_markdown_cell("Typed above every section."))
    save(nb, nb_path)
    with pytest.raises(CommentaryError, match="text outside every section"):
        fast_build(desk)
    assert harvest_notebook(nb_path).unplaced == 1
    assert "Typed above every section." in C.read(notes(desk)).texts["unplaced"]
    with pytest.raises(CommentaryError, match=r"under '## unplaced' \(line \d+\)"):
        fast_build(desk)
    fast_build(desk, discard=True)
    assert "Typed above every section." in notes(desk).read_text()  # left out of the report, kept in the file


def test_path6_final_refuses_placeholder_text_anywhere(desk):
    notes(desk).parent.mkdir(parents=True, exist_ok=True)
    notes(desk).write_text("".join(f"## {s}\n\nWritten.\n\n" for s in ORDER))
    fast_build(desk, final=True)
    nb_path = out(desk) / "appendix.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[cells_of(nb, "reviews")[0]].source = PLACEHOLDER + "\n\nTyped below the placeholder."
    save(nb, nb_path)
    harvest_notebook(nb_path)
    assert C.read(notes(desk)).texts["reviews"] == "Typed below the placeholder."
    fast_build(desk, final=True)
    notes(desk).write_text(notes(desk).read_text().replace("Typed below", PLACEHOLDER + " Typed below"))
    with pytest.raises(CommentaryError, match="--final: .*reviews"):
        fast_build(desk, final=True)


def test_path7_headings_match_ignoring_case_and_spacing_unknown_ones_are_errors(desk, capsys):
    sections = parse("## Reviews\n\nA.\n\n##   IRO service  \n\nB.\n\n## Quality and voice\n\nC.\n", ORDER,
                     REPORT_SECTIONS).texts
    assert sections == {"reviews": "A.", "iro_service": "B.", "quality": "C."}
    notes(desk).parent.mkdir(parents=True, exist_ok=True)
    notes(desk).write_text("## summary\n\nFine.\n\n## Reviewz\n\nLost?\n")
    assert run_build(desk) == 1
    err = capsys.readouterr().err
    assert "line 5: '## Reviewz' is not a section" in err and "summary, trends, population" in err


def test_a_new_council_gets_a_commentary_skeleton(desk, tmp_path, demo_data, capsys):
    fast_build(desk)
    assert list(parse(notes(desk).read_text(), ORDER).texts) == ORDER
    shutil.copytree(demo_data, tmp_path / "multi" / "north-town")
    assert main(["params", "--data", str(tmp_path / "multi"), "--year", "2024-25", "--out", str(tmp_path / "p")]) == 0
    skeleton = tmp_path / "p" / "north-town" / "2024-25.commentary.md"
    assert list(parse(skeleton.read_text(), ORDER).texts) == ORDER


def test_backups_are_timestamped_and_the_last_20_kept(desk):
    nb_path = fast_build(desk)
    for i in range(25):
        nb = nbformat.read(nb_path, as_version=4)
        nb.cells[cells_of(nb, "summary")[0]].source = f"Version {i}."
        save(nb, nb_path)
        harvest_notebook(nb_path)
    kept = C.backups(notes(desk))
    assert len(kept) == 20 and "Version 23." in kept[-1].read_text() and "Version 4." in kept[0].read_text()


@pytest.mark.parametrize("bad, said", [
    ("{{ reviews_held }", "unexpected '}'"),
    ("{% for i in range(10**9) %}x{% endfor %}", "only {{ figure name }} can be written here"),
    ("{% for %}", "only {{ figure name }} can be written here"),
    ("{{ ''.__class__ }}", "only a figure name can go between"),
    ("{# hidden #}", "only {{ figure name }} can be written here"),
])
def test_figure_quote_typos_and_code_are_refused_naming_the_section(bad, said):
    with pytest.raises(CommentaryError) as e:
        C.render(f"We held many reviews.\n{bad}", "reviews", FIGURES)
    assert f"section 'reviews', line 2: {said}" in str(e.value)
    with pytest.raises(CommentaryError) as e:  # a form feed or U+2028 does not end a line: the line quoted is 2
        C.render(f"Page one\fstill line one \u2028 too.\n{bad}", "reviews", FIGURES)
    assert f"section 'reviews', line 2: {said}" in str(e.value) and repr(bad.strip()[:120]) in str(e.value)
    assert C.render("We held {{ reviews_held }} reviews; {braces} and }} alone are text.", "r", FIGURES) == \
        "We held 1,103 reviews; {braces} and }} alone are text."


def test_bad_files_get_a_plain_message_and_exit_1(desk, capsys):
    notes(desk).parent.mkdir(parents=True, exist_ok=True)
    notes(desk).write_bytes("## summary\n\nCaf\u00e9 \u2013 children\u2019s views\n".encode("cp1252"))
    assert run_build(desk) == 1
    err = capsys.readouterr().err
    assert "2024-25.commentary.md, line 3: not UTF-8" in err and "Encoding: UTF-8" in err
    notes(desk).unlink()
    notes(desk).mkdir()
    assert run_build(desk) == 1
    assert "is a folder" in capsys.readouterr().err
    notes(desk).rmdir()
    nb_path = fast_build(desk)
    nb_path.write_text('{"cells": [')
    assert main(["harvest", str(nb_path)]) == 1
    err = capsys.readouterr().err
    assert "appendix.ipynb: not a valid notebook" in err and "internal error" not in err
    assert run_build(desk) == 1  # the previous executed notebook is damaged: say so, change nothing
    assert "not a valid notebook" in capsys.readouterr().err


def test_the_officer_notebook_is_locked_and_lists_the_figures(desk):
    template = nbformat.read(NOTEBOOK, as_version=4)
    assert "instructions" in template.cells[0].metadata["tags"]
    for cell in template.cells:
        if cell.cell_type == "code":
            assert cell.metadata["jupyter"]["source_hidden"] and cell.metadata["editable"] is False
            assert cell.metadata["deletable"] is False
    assert all(c.metadata["editable"] for c in C.commentary_cells(template))
    nb = nbformat.read(fast_build(desk), as_version=4)
    assert "| `{{ reviews_held }}` | 1,103 |" in nb.cells[0].source


def test_a_renderer_failure_names_the_section_and_line():
    cell = nbformat.v4.new_markdown_cell("Fine.\n\nA cuneiform sign \U00012000 here.\nMore.",
                                         metadata={"tags": ["commentary"], "iro": {"section": "quality"}})
    said = RenderError("x").explain(nbformat.v4.new_notebook(cells=[cell]))
    assert said.startswith("commentary for section 'quality', line 3: the PDF cannot show 'A cuneiform sign")


@pytest.mark.parametrize("seed", range(8))
def test_property_random_edits_never_lose_a_sentence(desk, seed):
    """Random file edits, notebook edits (add, split, duplicate, delete, edit cells), harvests and builds:
    every sentence ever written is in the file, a backup, or a refusal message."""
    rng = random.Random(seed)
    written: set[str] = set()
    said: list[str] = []
    count = 0

    def sentence() -> str:
        nonlocal count
        count += 1
        written.add(f"Sentence number {count} here.")
        return f"Sentence number {count} here."

    def kept_text() -> str:
        return notes(desk).read_text() + "".join(p.read_text() for p in C.backups(notes(desk))) + "".join(said)

    def harvest() -> None:
        try:
            harvest_notebook(nb_path)
        except CommentaryError as e:  # a conflict: the officer pastes the notebook's version into the file
            said.append(str(e))
            found, file_ = C.collect(nbformat.read(nb_path, as_version=4)), C.read(notes(desk))
            for sid in re.findall(r"--- section (\w+), in \S+appendix\.ipynb", str(e)):
                file_.texts[sid] = found.texts[sid]
            notes(desk).write_text(C.render_file(file_, ORDER))
            harvest_notebook(nb_path)

    nb_path = fast_build(desk)
    for _ in range(150):
        op = rng.choice(["file", "file", "add", "split", "duplicate", "delete", "edit", "edit", "harvest", "build"])
        try:
            if op == "file":
                text, sid = notes(desk).read_text(), rng.choice(ORDER)
                notes(desk).write_text(text.replace(f"## {sid}\n", f"## {sid}\n\n{sentence()}\n", 1))
            elif op == "harvest":
                harvest()
            elif op == "build":
                fast_build(desk)
            else:
                nb = nbformat.read(nb_path, as_version=4)
                run = cells_of(nb, rng.choice(ORDER))
                if not run and op != "add":
                    continue
                i = rng.choice(run) if run else None
                if op == "add":
                    nb.cells.insert((i if i is not None else len(nb.cells) - 1) + 1,
                                    nbformat.v4.new_markdown_cell(sentence()))
                elif op == "edit":
                    nb.cells[i].source = nb.cells[i].source + "\n\n" + sentence()
                elif op == "split":
                    parts = nb.cells[i].source.split("\n\n")
                    nb.cells[i].source = parts[0]
                    nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell("\n\n".join(parts[1:])))
                elif op == "duplicate":
                    nb.cells.insert(i + 1, nbformat.from_dict(json.loads(json.dumps(nb.cells[i]))))
                elif op == "delete":  # words typed and deleted again before any harvest are the officer's choice
                    gone = nb.cells.pop(i).source
                    seen = kept_text() + "".join(c.source for c in nb.cells)
                    written.difference_update(w for w in re.findall(r"Sentence number \d+ here\.", gone)
                                              if w not in seen)
                save(nb, nb_path)
        except CommentaryError as e:
            said.append(str(e))
    harvest()
    kept = kept_text()
    assert len(written) > 30 and len(C.backups(notes(desk))) > 3
    assert [s for s in written if s not in kept] == []


def test_path5_any_markdown_and_any_script_renders_in_html_and_pdf(council):
    notes(council).write_text(
        "## reviews\n\n### Key points\n\n- Reviews held: {{ reviews_held }}\n  - nested **point**\n\n"
        "| Team | Reviews |\n|---|--:|\n| North | 12 |\n| **South**.East | 7 |\n\n*emphasis that runs\nacross two lines* and "
        "**permanence**.Next and [the handbook](https://www.gov.uk/government/publications/iro-handbook) and "
        "https://www.example.org/a/very/long/address/that/goes/on/and/on/without/any/break/at/all/anywhere.html\n\n"
        "## participation\n\nZażółć gęślą jaźń. Mae’r plant yn "
        "hapus ŵ ŷ. مرحبا. میں خوش ہوں. "
        "Happy 😊 <b>raw html</b>\n")
    assert run_build(council) == 0
    page = (out(council) / "appendix.html").read_text()
    assert "<h3>Key points</h3>" in page and "<td>North</td>" in page and "<strong>permanence</strong>.Next" in page
    assert '<td style="text-align:right;">12</td>' in page  # a column aligned right stays so, in the paper too
    paper = zipfile.ZipFile(out(council) / "appendix.docx").read("word/document.xml").decode()
    assert re.search(r'<w:jc w:val="right" />(?:(?!</w:tc>).)*<w:t[^>]*>12</w:t>', paper, flags=re.S)
    assert "<em>emphasis that runs\nacross two lines</em>" in page and "&lt;b&gt;raw html&lt;/b&gt;" in page
    text = pdf_text(out(council) / "appendix.pdf")
    assert "Key points" in text and "permanence.Next" in text and "North 12" in text and "South.East 7" in text
    assert "Zażółć gęślą jaźń" in text and "😊" in text
    fonts = subprocess.run(["pdffonts", str(out(council) / "appendix.pdf")], capture_output=True, text=True).stdout
    assert "NotoSansArabic" in fonts and "NotoEmoji" in fonts
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(out(council) / "appendix.pdf")],
                                                             capture_output=True, text=True).stdout).group(1))
    assert text.count("Draft: not yet approved for publication") == pages  # a Draft mark on every page
    import pikepdf

    with pikepdf.open(out(council) / "appendix.pdf") as pdf:
        assert pdf.open_metadata().get("pdfuaid:part") == "1"


def test_officer_journey_in_jupyterlab(council, tmp_path):
    """A real browser: open the executed notebook in JupyterLab, type into a commentary cell, save,
    harvest, build; the words and the figure appear in HTML and PDF."""
    a11y = Path(__file__).parent / "a11y"
    chromium = next((p for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] if Path(p).exists()), None)
    if not (chromium and shutil.which("node") and (a11y / "node_modules" / "playwright-core").is_dir()):
        if os.environ.get("CI"):
            pytest.fail("CI must provide chromium, node and tests/a11y/node_modules (.ci/run installs them)")
        pytest.skip("needs chromium and `npm ci --prefix tests/a11y` (.ci/run installs both)")
    assert run_build(council) == 0
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jrt")}
    lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                            "--ServerApp.token=officer", f"--ServerApp.root_dir={council / 'outputs'}",
                            "--LabApp.news_url=", "--allow-root"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    shots = Path(os.environ.get("IRO_SCREENSHOTS", tmp_path))
    try:
        import urllib.request

        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=officer", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/lab/tree/demo-borough/2024-25/appendix.ipynb?token=officer"
        typed = "Typed in JupyterLab: we held {{ reviews_held }} reviews this year."
        r = subprocess.run(["node", str(a11y / "lab.mjs"), url, typed, str(shots)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
    finally:
        lab.terminate()
        lab.wait(timeout=30)
    assert main(["harvest", str(out(council) / "appendix.ipynb")]) == 0
    assert parse(notes(council).read_text(), template_sections()).texts["reviews"] == typed
    assert run_build(council) == 0
    held = f"{json.loads((out(council) / 'metrics.json').read_text())['indicators']['reviews_held']['value']:,}"
    said = f"Typed in JupyterLab: we held {held} reviews this year."
    assert said in (out(council) / "appendix.html").read_text() and said in pdf_text(out(council) / "appendix.pdf")


def test_path5_a_moved_commentary_file_stops_the_build_and_harvest_writes_it_again(desk, capsys):
    notes(desk).parent.mkdir(parents=True, exist_ok=True)
    notes(desk).write_text("## reviews\n\nWords that exist nowhere else.\n\n## stability\n\nStability words.\n")
    nb_path = fast_build(desk)
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[cells_of(nb, "stability")[0]].source = "Stability words, edited in JupyterLab."
    save(nb, nb_path)
    notes(desk).rename(desk / "renamed by mistake.md")  # or deleted: the notebook is the only copy left
    before = nb_path.read_bytes()
    with pytest.raises(CommentaryError, match=r"no such file, but the last build .* holds commentary for "
                                              r"reviews, stability\. Nothing was changed"):
        fast_build(desk)
    assert not notes(desk).exists() and nb_path.read_bytes() == before  # no skeleton, the notebook as it was
    assert main(["harvest", str(nb_path)]) == 0
    assert "the file was missing; written again from the notebook's commentary (reviews, stability)" in \
        capsys.readouterr().out
    texts = C.read(notes(desk)).texts
    assert texts["reviews"] == "Words that exist nowhere else."
    assert texts["stability"] == "Stability words, edited in JupyterLab."
    rebuilt = nbformat.read(fast_build(desk), as_version=4)  # accepted now, with both
    assert rebuilt.cells[cells_of(rebuilt, "reviews")[0]].source == "Words that exist nowhere else."


def test_harvest_waits_for_a_build_of_the_folder_then_refuses_changing_nothing(desk, monkeypatch):
    from filelock import FileLock

    from iro_metrics.report.publication import lock_of

    nb_path = fast_build(desk)
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[cells_of(nb, "reviews")[0]].source = "Typed in JupyterLab."
    save(nb, nb_path)
    before, nb_before = notes(desk).read_bytes(), nb_path.read_bytes()
    monkeypatch.setattr("iro_metrics.report.publication.LOCK_WAIT", 0.2)
    with FileLock(lock_of(nb_path.parent)):  # a build of the folder is running (a watch's, say)
        with pytest.raises(CommentaryError, match="a build of this folder is running.*Nothing was changed"):
            harvest_notebook(nb_path)
    assert notes(desk).read_bytes() == before and nb_path.read_bytes() == nb_before
    assert harvest_notebook(nb_path).taken == ["reviews"]  # the build has finished


def test_path5_an_emptied_commentary_file_stops_the_build_and_harvest_writes_it_again(desk):
    notes(desk).parent.mkdir(parents=True, exist_ok=True)
    notes(desk).write_text("## reviews\n\nWords that exist nowhere else.\n")
    nb_path = fast_build(desk)
    for emptied in ["", "## reviews\n\n## stability\n"]:  # saved empty, or headings only (a save under way)
        notes(desk).write_text(emptied)
        before = nb_path.read_bytes()
        with pytest.raises(CommentaryError, match=r"holds no commentary in any section, but the last build .* "
                                                  r"holds commentary for reviews\. Nothing was changed"):
            fast_build(desk)
        assert nb_path.read_bytes() == before
    h = harvest_notebook(nb_path)
    assert h.restored == ["reviews"] and C.read(notes(desk)).texts["reviews"] == "Words that exist nowhere else."
    fast_build(desk, discard=True)  # and an officer who means to publish none can


def test_a_section_heading_inside_fenced_code_is_code():
    """A ``## `` line in fenced code (a comment in the code an officer quotes) is neither refused as an
    unknown section nor taken as another section's heading: the code stays whole in its section."""
    order = template_sections()
    code = "```python\n## count the late ones\nlate = 3\n## reviews\nprint(late)\n```"
    notes = parse(f"## stability\n\nBefore.\n\n{code}\n\nAfter.\n\n## reviews\n\nOurs.\n", order)
    assert notes.texts["stability"] == f"Before.\n\n{code}\n\nAfter."
    assert notes.texts["reviews"] == "Ours."
    left_open = parse("## stability\n\n~~~\n## reviews\n", order)  # a fence never closed runs to the end
    assert left_open.texts == {"stability": "~~~\n## reviews"}
    with pytest.raises(CommentaryError, match="'## nonsense' is not a section"):
        parse("## stability\n\n```a```\n## nonsense\n", order)  # inline code opens no fence


def test_an_http_link_keeps_its_address(council):
    """Officers link to older government pages that are still http: the address is kept (only https and
    mailto were, so the link was published without one); a script address is still dropped."""
    notes(council).write_text("## reviews\n\nSee [the archive](http://www.example.gov.uk/old) and "
                              "[this](javascript:alert(1)).\n")
    assert run_build(council) == 0
    page = (out(council) / "appendix.html").read_text()
    assert '<a href="http://www.example.gov.uk/old">the archive</a>' in page
    assert "javascript:" not in page


@pytest.mark.skipif(sys.platform == "win32", reason="Windows refuses a rename over a file open for writing")
def test_a_skeleton_never_replaces_an_officers_file_saved_meanwhile(tmp_path, monkeypatch):
    """The skeleton is created only where there is no file; an editor's save (write a temporary file,
    rename it into place) that lands while the skeleton is being written wins."""
    path, order = tmp_path / "2024-25.commentary.md", template_sections()
    path.write_text("## reviews\n\nThe officer's words.\n")
    assert C.write_skeleton(path, order) is False and "officer's words" in path.read_text()
    path.unlink()
    real = C.render_file

    def saved_meanwhile(notes, order):
        saved = tmp_path / ".editor-tmp"
        saved.write_text("## reviews\n\nSaved by the officer's editor.\n")
        os.replace(saved, path)
        return real(notes, order)

    monkeypatch.setattr(C, "render_file", saved_meanwhile)
    C.write_skeleton(path, order)
    assert path.read_text() == "## reviews\n\nSaved by the officer's editor.\n"
    monkeypatch.setattr(C, "render_file", real)
    path.unlink()
    assert C.write_skeleton(path, order) is True and "## reviews" in path.read_text()

"""Officers' commentary survives every rebuild: written in the file or in the notebook, never lost."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from iro_metrics.cli import main
from iro_metrics.report.build import build
from iro_metrics.report.commentary import PLACEHOLDER, CommentaryError, harvest_notebook, parse


@pytest.fixture
def council(tmp_path, demo_data) -> Path:
    shutil.copytree(demo_data, tmp_path / "data")
    params = tmp_path / "params" / "demo" / "2024-25.yaml"
    params.parent.mkdir(parents=True)
    params.write_text("council: Demo Borough\nyear: 2024-25\ndata: ../../data\npopulation: 52000\n")
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
    sections = parse(notes(council).read_text())
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
    assert "holds commentary edits that were not harvested (summary)" in err and "iro-report harvest" in err
    assert checksums(council) == before
    assert run_build(council, "--discard-notebook-edits") == 0
    assert "Typed in JupyterLab" not in (out(council) / "appendix.html").read_text()


def test_harvest_keeps_a_backup_and_unplaced_text(council):
    notes(council).write_text("## summary\n\nFirst words.\n\n## retired_section\n\nStill wanted.\n")
    assert run_build(council) == 0
    edit_cells(out(council) / "appendix.ipynb", {"summary": "Second words."})
    path, taken = harvest_notebook(out(council) / "appendix.ipynb")
    assert taken == ["summary"]
    text = path.read_text()
    assert "Second words." in text and "## unplaced" in text and "Still wanted." in text
    assert "First words." in (path.parent / (path.name + ".bak")).read_text()
    assert run_build(council) == 0  # harvested: the next build accepts the notebook


def test_a_failed_build_leaves_commentary_and_outputs(council):
    notes(council).write_text("## summary\n\nKeep me.\n")
    assert run_build(council) == 0
    before = checksums(council)
    (council / "data" / "2024-25" / "episodes.csv").write_text("")
    assert run_build(council) == 1
    assert checksums(council) == before


def test_killing_a_build_leaves_commentary_and_outputs(council):
    notes(council).write_text("## summary\n\nKeep me.\n")
    assert run_build(council) == 0
    before = checksums(council)
    proc = subprocess.Popen([sys.executable, "-m", "iro_metrics", "build", str(params(council)), "--outputs",
                             str(council / "outputs")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)  # mid-way: the notebook is executing
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checksums(council) == before
    assert run_build(council) == 0  # the next build clears the killed one's scratch folder
    assert not [p for p in out(council).parent.iterdir() if p.name.startswith(".")]


def test_malicious_commentary_renders_harmlessly(council):
    notes(council).write_text("## summary\n\n{{ ''.__class__ }}\n\n## reviews\n\n{% import os %}\n\n"
                              "## participation\n\n<script>alert('x')</script> <img src=x onerror=alert(1)>\n")
    assert run_build(council) == 0
    page = (out(council) / "appendix.html").read_text()
    shown = page.replace("&#39;", "'")
    assert "{{ ''.<strong>class</strong> }}" in shown  # shown as written (Markdown bolds __x__), never run
    assert "class 'str'" not in shown and "&lt;class" not in page
    assert "{% import os %}" in page
    assert "<script>alert" not in page and "onerror" not in re.sub(r"&lt;.*?&gt;", "", page)
    assert "&lt;script&gt;" in page


def test_an_unknown_figure_name_is_an_error_naming_the_section(council, capsys):
    notes(council).write_text("## reviews\n\n{{ reviews_on_tme_pct }}\n")
    assert run_build(council) == 1
    err = capsys.readouterr().err
    assert "commentary for section 'reviews'" in err and "reviews_on_tme_pct" in err


def test_final_needs_every_section(council, capsys):
    assert run_build(council, "--final") == 1
    assert "--final: still no commentary for summary" in capsys.readouterr().err
    sections = ["summary", "trends", "population", "iro_service", "reviews", "participation", "escalations", "stability",
                "quality", "priorities"]
    notes(council).write_text("".join(f"## {s}\n\nWritten.\n\n" for s in sections))
    assert run_build(council, "--final") == 0
    assert 'class="draft"' not in (out(council) / "appendix.html").read_text()
    with pytest.raises(CommentaryError):
        notes(council).write_text("## summary\n\n{{ nope }}\n")
        build(params(council), outputs=council / "outputs")

"""Reviewers: a published appendix re-executes with nbval to the same outputs, and a changed input
is caught and named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.report.build import build
from iro_metrics.report.verify import verify


@pytest.fixture(scope="module")
def published(tmp_path_factory, demo_data) -> Path:
    """A council folder as a reviewer receives it: data, params and outputs side by side."""
    root = tmp_path_factory.mktemp("council")
    shutil.copytree(demo_data, root / "data")
    params = root / "params" / "demo" / "2024-25.yaml"
    params.parent.mkdir(parents=True)
    params.write_text("council: Demo Borough\nyear: 2024-25\ndata: ../../data\npopulation: 52000\n"
                      "la_code: E09000028\n")
    build(params, outputs=root / "outputs")
    return root


def test_the_template_notebook_reproduces_under_nbval(published, capsys):
    assert main(["verify", str(published / "outputs")]) == 0
    out = capsys.readouterr().out
    assert "REPRODUCES" in out and "all 19 cells gave the published outputs" in out
    assert "metrics.json and the published tables match the notebook" in out


def test_nbval_under_xdist_loadfile(published):
    [outcome] = verify(published / "outputs" / "demo-borough" / "2024-25" / "appendix.ipynb", workers=2)
    assert outcome.ok, outcome.report()


def test_a_changed_input_fails_and_names_the_cells(published, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    reviews = copy / "data" / "2024-25" / "reviews.csv"
    lines = reviews.read_text().splitlines()
    first = lines[1].split(",")
    first[3] = "PN7" if first[3] != "PN7" else "PN6"  # one participation code
    reviews.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n")
    assert main(["verify", str(copy / "outputs")]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT REPRODUCE" in out
    assert "(Participation in reviews): the re-executed output differs" in out
    assert "(How this was produced): the re-executed output differs" in out  # the input file's hash
    assert "(Placement stability)" not in out  # unaffected sections still reproduce


def test_tampered_metrics_json_is_caught(published, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(published, copy)
    metrics = copy / "outputs" / "demo-borough" / "2024-25" / "metrics.json"
    doc = json.loads(metrics.read_text())
    doc["indicators"]["reviews_on_time_pct"]["value"] = 99.9
    metrics.write_text(json.dumps(doc, indent=2))
    table = copy / "outputs" / "demo-borough" / "2024-25" / "tables" / "cla_by_age.csv"
    table.write_text(table.read_text().replace("Under 1,", "Under 1,1"))
    assert main(["verify", str(copy / "outputs")]) == 1
    out = capsys.readouterr().out
    assert "metrics.json: reviews_on_time_pct: it is 99.9 but the notebook gives" in out
    assert "tables/cla_by_age.csv differs" in out

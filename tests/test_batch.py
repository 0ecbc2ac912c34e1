"""build-all: many councils in parallel; a failure stops no other; unchanged council-years are skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.report.batch import NOTEBOOK, build_all, summary
from iro_metrics.report.manifest import manifest


@pytest.fixture(scope="module")
def region(tmp_path_factory, demo_data) -> Path:
    root = tmp_path_factory.mktemp("batch")
    shutil.copytree(demo_data, root / "data")
    (root / "broken" / "2024-25").mkdir(parents=True)
    (root / "broken" / "2024-25" / "episodes.csv").write_text("")
    for name, data in [("north", "data"), ("south", "data"), ("east", "broken")]:
        p = root / "params" / name / "2024-25.yaml"
        p.parent.mkdir(parents=True)
        p.write_text(f"council: {name.title()} Town\nyear: 2024-25\ndata: ../../{data}\npopulation: 40000\n")
    return root


def params(root: Path) -> list[Path]:
    return sorted((root / "params").glob("*/2024-25.yaml"))


def test_one_failure_stops_no_other(region, capsys):
    assert main(["build-all", *map(str, params(region)), "--outputs", str(region / "outputs"), "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "East Town   2024-25  failed" in out
    assert "the data cannot be used: 2024-25/episodes.csv: the file is empty" in out
    assert "2 built, 0 unchanged (skipped), 1 failed" in out
    for town in ["north-town", "south-town"]:
        assert (region / "outputs" / town / "2024-25" / "appendix.pdf").exists()
    log = region / "outputs" / "east-town" / "2024-25.build.log"
    assert "FatalDataError" in log.read_text()


def test_unchanged_council_years_are_skipped(region):
    ok = [p for p in params(region) if "east" not in str(p)]
    results = build_all(ok, outputs=region / "outputs", workers=2)
    assert [r.status for r in results] == ["skipped", "skipped"]
    recorded = json.loads((region / "outputs" / "north-town" / "2024-25" / "build.json").read_text())
    assert recorded["fingerprint"] == manifest(ok[0], NOTEBOOK)["fingerprint"]
    assert "data/2024-25/episodes.csv" in recorded["inputs"] and "commentary" in recorded["inputs"]


def test_a_change_rebuilds_only_its_council_and_force_rebuilds_all(region):
    ok = [p for p in params(region) if "east" not in str(p)]
    north = next(p for p in ok if "north" in str(p))
    north.with_name("2024-25.commentary.md").write_text("## summary\n\nNew words for the north.\n")
    results = {r.council: r.status for r in build_all(ok, outputs=region / "outputs", workers=2)}
    assert results == {"North Town": "built", "South Town": "skipped"}
    assert "New words for the north." in (region / "outputs" / "north-town" / "2024-25" / "appendix.html").read_text()
    results = build_all(ok, outputs=region / "outputs", workers=2, force=True)
    assert [r.status for r in results] == ["built", "built"]
    assert "2 built, 0 unchanged (skipped), 0 failed" in summary(results)


def test_a_later_return_does_not_invalidate_an_earlier_year(region, tmp_path):
    p = params(region)[1]
    before = manifest(p, NOTEBOOK)["fingerprint"]
    later = region / "data" / "2025-26"
    later.mkdir()
    (later / "episodes.csv").write_text("CHILD,DECOM\n")
    try:
        assert manifest(p, NOTEBOOK)["fingerprint"] == before
    finally:
        shutil.rmtree(later)

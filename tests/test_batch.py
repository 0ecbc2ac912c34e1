"""build-all: many councils in parallel; a failure stops no other; unchanged council-years are skipped."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.report import batch
from iro_metrics.report.batch import NOTEBOOK, build_all, summary
from iro_metrics.report.build import build
from iro_metrics.report.manifest import manifest

pytestmark = pytest.mark.build  # builds appendices: not in `make test-quick`


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
    """Bad data, or a params file that cannot be used (each listed, not only the first), fails its own
    council only."""
    typo, unreadable = region / "typo" / "2024-25.yaml", region / "unreadable" / "2024-25.yaml"
    nowhere = region / "nowhere" / "2024-25.yaml"
    for path, text in [(typo, "council: Typo Town\nyear: 2024-25\ndata: ../data\npopulaton: 52000\n"),
                       (unreadable, "council: [Unclosed\n"),
                       (nowhere, "council: Nowhere Town\nyear: 2024-25\ndata: ../no-such-data\n")]:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert main(["build-all", *map(str, params(region)), str(typo), str(unreadable), str(nowhere), "--outputs",
                 str(region / "outputs"), "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "East Town" in out and "2024-25  failed" in out
    assert "the data cannot be used: 2024-25/episodes.csv: the file is empty" in out
    assert re.search(rf"{re.escape(str(typo))} +2024-25  failed +0.0  the params file cannot be used: populaton: "
                     r"unknown key \(did you mean population\?\)", out)
    assert re.search(rf"{re.escape(str(unreadable))} +2024-25  failed +0.0  the params file cannot be used: not "
                     "valid YAML", out)
    assert re.search(r"Nowhere Town +2024-25  failed +\d+\.\d  the params file cannot be used: data: \.\./no-such-data: "
                     r"no such folder \(relative to the params file: ", out)
    assert "2 built, 0 unchanged (skipped), 4 failed" in out
    for town in ["north-town", "south-town"]:
        assert (region / "outputs" / town / "2024-25" / "appendix.pdf").exists()
    log = region / "outputs" / "east-town" / "2024-25.build.log"
    logged = log.read_text()  # the user's own files: every problem, and no traceback
    assert logged.startswith("2024-25/episodes.csv: the file is empty") and "2024-25/header.csv: required file " \
        "missing" in logged and "Traceback" not in logged
    # a later build of a council that had failed leaves no out-of-date log
    stale = region / "outputs" / "north-town" / "2024-25.build.log"
    stale.write_text("an earlier failure\n")
    build(region / "params" / "north" / "2024-25.yaml", outputs=region / "outputs")
    assert not stale.exists()


def test_unchanged_council_years_are_skipped(region):
    ok = [p for p in params(region) if "east" not in str(p)]
    stale = region / "outputs" / "south-town" / "2024-25.build.log"  # from a failure since put right
    stale.write_text("an earlier failure\n")
    results = build_all(ok, outputs=region / "outputs", workers=2)
    assert [r.status for r in results] == ["skipped", "skipped"] and not stale.exists()
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


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> Path:
    """Three different synthetic councils (their own sizes and seeds), params by ``iro-report params``."""
    from iro_metrics.synth import SynthConfig, write_councils

    root = tmp_path_factory.mktemp("three")
    write_councils(root / "data", SynthConfig(children=200), councils=3)
    assert main(["params", "--data", str(root / "data"), "--year", "2024-25", "--out", str(root / "params")]) == 0
    return root


@pytest.fixture(scope="module")
def cold(three) -> Path:
    """Each council built on its own fresh kernel, as ``iro-report build`` does."""
    for p in params(three):
        build(p, outputs=three / "cold")
    return three / "cold"


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_warm_kernel_builds_are_byte_identical_to_cold_ones(three, cold):
    """Three councils in sequence on one worker's warm kernel: every output file as a fresh kernel's."""
    try:
        for p in params(three):
            assert batch.build_one(p, three / "warm")[0] == "built"
        kernel = batch.worker_kernel()
        assert (kernel.started, kernel.runs) == (1, 3)  # one kernel process ran all three
    finally:
        batch.close_kernels()
    warm, want = files(three / "warm"), files(cold)
    assert len(want) > 3 * 5 and warm.keys() == want.keys()
    assert [name for name in want if warm[name] != want[name]] == []
    councils = {name.split("/")[0] for name in want}
    assert len(councils) == 3 and len({want[f"{c}/2024-25/metrics.json"] for c in councils}) == 3
    for c in councils:  # and nothing went to a cell's error stream (kernel warnings, history clashes)
        nb = json.loads(want[f"{c}/2024-25/appendix.ipynb"])
        assert [o for cell in nb["cells"] for o in cell.get("outputs", [])
                if o.get("name") == "stderr" or o["output_type"] == "error"] == []


def test_a_warm_kernel_is_reset_between_notebooks(tmp_path):
    """State a notebook leaves behind (a variable, a pandas option, a matplotlib setting, an open figure,
    the working folder) is gone for the next one."""
    import nbformat

    from iro_metrics.report.kernel import Kernel

    leave = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, pandas as pd, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "left = 1\npd.set_option('display.precision', 1)\nmatplotlib.rcParams['font.size'] = 30\n"
        "plt.figure()\nos.chdir('/')")])
    look = nbformat.v4.new_code_cell(
        "import os, pandas as pd, matplotlib, matplotlib.pyplot as plt\n"
        "print('left' in dir(), pd.get_option('display.precision'), matplotlib.rcParams['font.size'], "
        "len(plt.get_fignums()), os.getcwd())")
    with Kernel(reuse=5) as kernel:
        kernel.run(leave, tmp_path)
        second = kernel.run(nbformat.v4.new_notebook(cells=[look]), tmp_path)
        assert kernel.started == 1
    with Kernel() as fresh:
        first = fresh.run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(look.source)]), tmp_path)
    assert second.cells[0].outputs[0].text == first.cells[0].outputs[0].text == f"False 6 10.0 0 {tmp_path}\n"
    assert second.cells[0].execution_count == 1


def test_a_failure_replaces_the_warm_kernel(tmp_path):
    import nbformat

    from iro_metrics.report.kernel import BuildError, Kernel

    with Kernel(reuse=5) as kernel:
        with pytest.raises(BuildError, match="failed in cell 1: ZeroDivisionError"):
            kernel.run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1 / 0")]), tmp_path)
        nb = kernel.run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('x' in dir())")]), tmp_path)
        assert nb.cells[0].outputs[0].text == "False\n" and kernel.started == 2


def test_dask_local_cluster_gives_the_same_outputs(three, cold, capsys):
    """``--scheduler`` on a LocalCluster (two worker processes): every file as the cold builds'."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        assert main(["build-all", *map(str, params(three)), "--outputs", str(three / "dask"),
                     "--scheduler", address]) == 0
    assert "3 built, 0 unchanged (skipped), 0 failed" in capsys.readouterr().out
    got, want = files(three / "dask"), files(cold)
    assert got.keys() == want.keys() and [name for name in want if got[name] != want[name]] == []


def test_an_unreachable_scheduler_is_a_clear_error(three, monkeypatch, capsys):
    pytest.importorskip("distributed")
    from iro_metrics.report import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    assert main(["build-all", str(params(three)[0]), "--outputs", str(three / "nowhere"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9") and "Traceback" not in err
    assert not (three / "nowhere").exists()


def test_params_for_a_pooled_liia_folder(tmp_path, capsys):
    """One params file per council in LIIA flat files; an existing one is kept as it is."""
    from test_ingest import write_liia

    root = write_liia(tmp_path / "pooled")
    kept = tmp_path / "params" / "northtown" / "2024-25.yaml"
    kept.parent.mkdir(parents=True)
    kept.write_text("council: Northtown\nyear: 2024-25\ndata: ../../pooled\nla: Northtown\npopulation: 9000\n")
    assert main(["params", "--data", str(root), "--year", "2024-25", "--out", str(tmp_path / "params")]) == 0
    assert "1 params files written, 1 already there" in capsys.readouterr().out
    assert "population: 9000" in kept.read_text()
    from iro_metrics.report.params import load_params

    south, data = load_params(tmp_path / "params" / "southville" / "2024-25.yaml")
    assert (south.council, south.la, data) == ("Southville", "Southville", root.resolve())

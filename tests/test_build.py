"""Params files and ``iro-report build``: checked before anything runs; outputs swapped in atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.report.build import build
from iro_metrics.report.params import ParamsError, load_params


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def params(tmp_path, demo_data) -> Path:
    return write(tmp_path / "params" / "demo" / "2024-25.yaml",
                 f"council: Demo Borough\nyear: 2024-25\ndata: {demo_data}\npopulation: 52000\n")


def checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_params_are_checked(tmp_path):
    p = write(tmp_path / "p.yaml", "council: X\nyear: 2024\ndata: 5\npopulaton: 100\nla_code: W123\n"
                                   "suppression_threshold: five\n")
    with pytest.raises(ParamsError) as e:
        load_params(p)
    assert e.value.problems == [
        "populaton: unknown key (did you mean population?)",
        "year: expected text, got 2024",
        "data: expected text, got 5",
        "suppression_threshold: expected a whole number, got 'five'",
        "la_code: expected an English council code (E06, E08, E09 or E10 and six digits), got 'W123'",
    ]


def test_required_keys_and_year(tmp_path):
    p = write(tmp_path / "p.yaml", "council: X\nyear: '2024-26'\n")
    with pytest.raises(ParamsError) as e:
        load_params(p)
    assert e.value.problems == ["data: required", "year: expected YYYY-YY, e.g. 2024-25, got '2024-26'"]


def test_data_is_relative_to_the_params_file(tmp_path):
    p = write(tmp_path / "params" / "x" / "2024-25.yaml", "council: X Town\nyear: 2024-25\ndata: ../../data/x\n"
                                                          "timeliness_target: 95\nla_code: E09000022\n")
    params, data = load_params(p)
    assert data == (tmp_path / "data" / "x").resolve()
    assert params.timeliness_target == 95.0 and params.slug == "x-town"


@pytest.mark.build
def test_build_writes_metrics_and_published_tables(params, tmp_path, monkeypatch):
    import nbformat

    import iro_metrics.ingest.load
    import iro_metrics.metrics

    def refuse(*_a, **_k):
        raise AssertionError("build computed figures itself: the notebook computes them, once")

    with monkeypatch.context() as m:  # the figures come from the notebook's kernel, not from this process
        for func in (iro_metrics.ingest.load.load_council, iro_metrics.metrics.compute_all):
            m.setattr(func, "__code__", refuse.__code__)  # wherever the function was imported
        m.chdir(tmp_path)  # the default outputs folder, relative to where the command is given
        assert main(["build", str(params)]) == 0
    out = tmp_path / "outputs" / "demo-borough" / "2024-25"
    assert (out / "metrics.json").is_file() and len(list((out / "tables").glob("*.csv"))) >= 15
    recorded = next(o["data"]["application/json"] for c in nbformat.read(out / "appendix.ipynb", 4).cells
                    for o in c.get("outputs", []) if "application/json" in o.get("data", {}))
    published = json.loads((out / "metrics.json").read_text())["indicators"]
    assert {k: v["value"] for k, v in published.items()} == {k: v["value"] for k, v in recorded["indicators"].items()}
    first = checksums(out)
    build(params, outputs=tmp_path / "outputs")
    assert checksums(out) == first  # byte-identical rebuild
    # no leftovers; the (empty) lock file stays, as removing it would race with a build starting
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == [".2024-25.lock"]


@pytest.mark.parametrize("text, problem", [
    ("population: -5000\n", "population: expected the number of children aged 0 to 17 (more than 0), got -5000"),
    ("timeliness_target: 500\n", "timeliness_target: expected a percentage from 0 to 100, got 500"),
    ("timeliness_target: -1.5\n", "timeliness_target: expected a percentage from 0 to 100, got -1.5"),
])
def test_impossible_params(tmp_path, text, problem):
    p = write(tmp_path / "p.yaml", "council: X\nyear: 2024-25\ndata: d\n" + text)
    with pytest.raises(ParamsError) as e:
        load_params(p)
    assert e.value.problems == [problem]


def test_council_name_without_letters(tmp_path):
    p = write(tmp_path / "p.yaml", "council: '--- 123'\nyear: 2024-25\ndata: d\n")
    with pytest.raises(ParamsError) as e:
        load_params(p)
    assert e.value.problems == ["council: expected the council's name (with letters), got '--- 123'"]
    write(p, "council: Ynys Môn\nyear: 2024-25\ndata: d\n")
    assert load_params(p)[0].council == "Ynys Môn"


def test_a_key_given_twice(tmp_path, capsys):
    p = write(tmp_path / "p.yaml", "council: X\nyear: 2024-25\npopulation: 1000\ndata: d\npopulation: 52000\n")
    assert main(["build", str(p), "--outputs", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "population is given twice (lines 3 and 5); keep one" in err and "internal error" not in err


def test_a_data_folder_that_does_not_exist_is_named_as_the_params_file_names_it(tmp_path, capsys):
    p = write(tmp_path / "params" / "x" / "2024-25.yaml", "council: X\nyear: 2024-25\ndata: ../../data/nowhere\n")
    assert main(["build", str(p), "--outputs", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"data: ../../data/nowhere: no such folder (relative to the params file: {tmp_path / 'data' / 'nowhere'})" \
        in err and "Traceback" not in err
    (tmp_path / "data" / "nowhere").mkdir(parents=True)  # a folder, but with no return in it
    assert main(["build", str(p), "--outputs", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "error: ../../data/nowhere: expected one folder per collection year named like 2024-25/" in err


def test_a_params_file_that_is_not_yaml_says_where(tmp_path):
    p = write(tmp_path / "p.yaml", "council: [Unclosed\n")
    with pytest.raises(ParamsError) as e:
        load_params(p)
    assert e.value.problems == ["not valid YAML: expected ',' or ']', but got '<stream end>' (line 2, column 1)"]


def test_params_names_a_council_from_its_folder_as_written(tmp_path):
    from iro_metrics.report.params import scaffold

    for folder in ("st. mary's & hove", "demo-borough"):
        (tmp_path / "data" / folder / "2024-25").mkdir(parents=True)
    scaffold(tmp_path / "data", "2024-25", out=tmp_path / "params")
    names = sorted(load_params(p)[0].council for p in (tmp_path / "params").glob("*/2024-25.yaml"))
    assert names == ["Demo Borough", "St. Mary's & Hove"]  # not "Mary'S"


def test_params_not_utf8(tmp_path, capsys):
    p = tmp_path / "p.yaml"
    p.write_bytes("council: Ynys Môn\nyear: 2024-25\ndata: d\n".encode("cp1252"))
    assert main(["build", str(p), "--outputs", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{p}:" in err and "byte 0xf4 (line 1) is not UTF-8 text; save the file as UTF-8" in err


@pytest.mark.build
def test_a_commentary_only_rebuild_reuses_the_run_and_gives_a_full_builds_bytes(params, tmp_path, monkeypatch):
    """Only the commentary changed: no data read, no kernel, and every output byte-identical to a full
    build of the same inputs. Anything else changed, or a cell run again in JupyterLab: a full build."""
    import nbformat

    import iro_metrics.report.build as B

    out = tmp_path / "out"
    target = build(params, outputs=out)
    notes = params.with_name("2024-25.commentary.md")
    notes.write_text(notes.read_text().replace("## reviews\n", "## reviews\n\nWe held {{ reviews_held }} reviews.\n"))

    def refuse(*_a, **_k):
        raise AssertionError("ran the notebook (which reads the data) although only the commentary changed")

    with monkeypatch.context() as m:
        m.setattr(B, "execute", refuse)
        build(params, outputs=out)
    reused = checksums(target)
    held = json.loads((target / "metrics.json").read_text())["indicators"]["reviews_held"]["value"]
    assert f"We held {held:,} reviews." in (target / "appendix.html").read_text()
    build(params, outputs=out, reuse=False)
    assert checksums(target) == reused

    # from here, whether the notebook is run again (that a full build gives these bytes is shown above)
    class Ran(Exception):
        pass

    def ran(*_a, **_k):
        raise Ran

    monkeypatch.setattr(B, "execute", ran)
    published = (target / "appendix.ipynb").read_bytes()

    # an officer re-ran a cell in JupyterLab: its execution count says so, and the notebook is run again
    nb = nbformat.read(target / "appendix.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[-2].execution_count = len(code) + 1
    nbformat.write(nb, target / "appendix.ipynb")
    with pytest.raises(Ran):
        build(params, outputs=out)
    (target / "appendix.ipynb").write_bytes(published)

    # a reused output edited by hand since (its SHA-256 is in build.json): not reused, run again
    metrics = target / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"value"', '"value" ', 1))
    with pytest.raises(Ran):
        build(params, outputs=out)


def test_replay_refuses_a_changed_code_cell():
    import nbformat

    from iro_metrics.report.kernel import INJECTED, replay

    template = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}, id="p"),
        nbformat.v4.new_code_cell("print(x)", id="a"), nbformat.v4.new_markdown_cell("words", id="m")])
    executed = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}, id="p", execution_count=1),
        nbformat.v4.new_code_cell("x = 2", metadata={"tags": [INJECTED]}, id=INJECTED, execution_count=2),
        nbformat.v4.new_code_cell("print(x)", id="a", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="2\n")])])
    nb = replay(template, executed)
    assert [c.get("id") for c in nb.cells] == ["p", INJECTED, "a", "m"]
    assert nb.cells[2].outputs[0].text == "2\n" and nb.cells[3].source == "words"
    executed.cells[2].source = "print(x + 1)"  # the code changed since: cannot reuse its output
    assert replay(template, executed) is None


@pytest.mark.build
def test_a_missing_population_file_is_named_as_the_params_name_it(params, tmp_path, capsys):
    params.write_text(params.read_text() + "population_by_ethnicity: pop.csv\n")
    assert main(["build", str(params), "--outputs", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{params.parent / 'pop.csv'}: no such file (population_by_ethnicity in the params file)" in err
    assert "../" not in err and "internal error" not in err


def test_an_old_quote_kept_aside_under_unplaced_is_not_checked():
    from iro_metrics.report import commentary as C

    notes = C.parse("## reviews\n\nWe held {{ reviews_held }}.\n\n## unplaced\n\n{{ gone_metric }}\n",
                    ["reviews"])
    C.check_quotes(notes, ["reviews_held"], ["reviews"])  # unplaced is never published: not refused
    with pytest.raises(C.CommentaryError, match="section 'reviews', line 1"):
        C.check_quotes(C.parse("## reviews\n\n{{ gone_metric }}\n", ["reviews"]), ["reviews_held"], ["reviews"])

"""Real-world-shaped files load: the fake 903 data other projects publish (../shared/data/peer-903/).

Fixtures are laid out at test time in a temporary folder (symbolic links); nothing is copied into the
repository. Each set is deliberately imperfect: the loader must read it and name its problems.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from conftest import shared_path
from iro_metrics.cli import main
from iro_metrics.errors import FatalDataError
from iro_metrics.ingest.load import load_council
from iro_metrics.metrics import to_json
from iro_metrics.model import build_model

pytestmark = pytest.mark.slow


def lay_out(tmp: Path, files: dict[str, list[Path]]) -> Path:
    """{year folder: [files]} -> tmp/data/<year>/<file> as links."""
    root = tmp / "data"
    for year, paths in files.items():
        (root / year).mkdir(parents=True, exist_ok=True)
        for p in paths:
            (root / year / p.name).symlink_to(p)
    return root


def flat(tmp: Path, files: dict[str, Path]) -> Path:
    """LIIA flat files straight in a folder, as --data expects them: {name in folder: source}."""
    root = tmp / "flat"
    root.mkdir()
    for name, src in files.items():
        (root / name).symlink_to(src)
    return root


def rules(data) -> dict[str, int]:
    return data.findings.frame()["rule"].value_counts().to_dict()


def age(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def test_dfe_validator_set(tmp_path, capsys):
    """The DfE validator's own fake return (shaped like 2017-18): every table, a BOM, placeholders."""
    src = shared_path("data", "peer-903", "csc-validator-be-903")
    files = [p for p in src.glob("*.csv") if p.name != "placed_for_adoption_errors.csv"]
    root = lay_out(tmp_path, {"2017-18": files})
    assert main(["validate", "--data", str(root), "--year", "2017-18"]) == 0
    data = load_council(root, "2017-18")
    found = rules(data)
    # PN0 for a child aged 4 or over on the review date, counted independently of the package
    # (a repeated child + review date is one review: the first row is kept; a review dated after the
    # return's 31 March is a finding of its own and is left out, so it is not checked for PN0)
    expected, seen = 0, set()
    with open(src / "reviews.csv", newline="", encoding="utf-8-sig") as f:
        for r in csv.DictReader(f):
            dob = dt.datetime.strptime(r["DOB"], "%d/%m/%Y").date()
            rev = dt.datetime.strptime(r["REVIEW"], "%d/%m/%Y").date()
            if (r["CHILD"], rev) in seen:
                continue
            seen.add((r["CHILD"], rev))
            expected += r["REVIEW_CODE"] == "PN0" and age(dob, rev) >= 4 and rev <= dt.date(2018, 3, 31)
    assert expected > 500
    assert found["pn0-age-4-plus"] == expected
    assert found["pn-under-4"] > 0
    # the SW and DoLo placeholders belong to later collection years
    assert found["table-not-in-year"] == 2
    assert found["review-outside-care"] > 552  # 552 children have reviews but no episodes at all
    # metrics run on it too (peer data holds review histories into the future: ignored after 31 March)
    doc = to_json(build_model(data))
    assert doc["indicators"]["cla_at_31_march"]["value"] > 0


def test_two_files_for_one_table_is_fatal(tmp_path):
    src = shared_path("data", "peer-903", "csc-validator-be-903")
    root = lay_out(tmp_path, {"2017-18": list(src.glob("*.csv"))})
    with pytest.raises(FatalDataError) as e:
        load_council(root, "2017-18")
    [problem] = e.value.problems
    assert str(problem) == ("2017-18/placed_for_adoption_errors.csv: a second file for the placed_for_adoption "
                            "table (the first is 2017-18/placed_for_adoption.csv)")


def test_cs_demand_model_five_years(tmp_path):
    src = shared_path("data", "peer-903", "cs-demand-model")
    root = lay_out(tmp_path, {f"{y}-{(y + 1) % 100:02d}": list((src / str(y)).glob("*.csv"))
                              for y in range(2017, 2022)})
    for y in ["2017-18", "2019-20", "2021-22"]:
        assert main(["validate", "--data", str(root), "--year", y]) == 0
    data = load_council(root, "2021-22")
    assert data.earliest_year.label == "2017-18"
    found = rules(data)
    assert found["pn0-age-4-plus"] > 0 and found["review-outside-care"] > 0
    assert found["unknown-code"] > 0  # OC3 ACCOM '01'/'02', F3/P3 after 2020-21
    # children left open in one return and absent from the next: ended there, each a finding
    assert found["not-restated"] > 0
    ended = data["episodes"][data["episodes"]["end_date"].isin([pd.Timestamp(f"{y}-03-31") for y in range(2018, 2022)])]
    assert ended["child_id"].nunique() > 0
    m = build_model(data)
    doc = to_json(m)
    held = doc["indicators"]["reviews_held"]
    assert held["value"] > 0
    # reviews dated after 31 March 2022 are in the files but never counted
    assert (m.reviews["review_date"] <= m.year_end).all()


def test_liia_pipeline_dirty_fixture(tmp_path):
    """A stray TEST_COLUMN, RNE '*DUMMY*', a blank LS, malformed postcodes, a repeated child."""
    src = shared_path("data", "peer-903", "liia-tools-pipeline")
    root = lay_out(tmp_path, {"2019-20": list(src.glob("*.csv"))})
    assert main(["validate", "--data", str(root), "--year", "2019-20"]) == 0
    found = rules(load_council(root, "2019-20"))
    assert found["unexpected-column"] == 1
    assert found["unknown-code"] >= 2  # RNE *DUMMY*, ETHNIC UNKN
    assert found["required-blank"] == 1  # LS
    assert found["postcode-format"] == 1  # '2TR'; 'C251YT' is a postcode written without its space
    assert found["duplicate-key"] >= 1  # the same CHILD with another DOB
    assert found["upn-format"] >= 1


def test_liia_tools_clean_episodes_with_pipeline_header(tmp_path):
    """liia-tools' DfE episodes are the clean counterpart of the pipeline's: overlapping episodes and an
    X1 without its continuation."""
    episodes = shared_path("data", "peer-903", "liia-tools", "SSDA903_2020_episodes.csv")
    header = shared_path("data", "peer-903", "liia-tools-pipeline", "SSDA903_2020_header.csv")
    root = lay_out(tmp_path, {"2019-20": [episodes, header]})
    found = rules(load_council(root, "2019-20"))
    assert found["episode-overlap"] >= 1 and found["x1-no-continuation"] >= 1


def test_liia_regional_flat_files(tmp_path):
    src = shared_path("data", "peer-903", "cs-demand-model-regional")
    root = flat(tmp_path, {p.name: p for p in src.glob("*.csv")})
    assert main(["validate", "--data", str(root), "--year", "2021-22"]) == 1  # three councils: choose one
    for la in ["Bromley", "Hillingdon", "Southwark"]:
        data = load_council(root, "2021-22", la=la)
        assert len(data["episodes"]) > 0
        assert any("YEAR read as the start" in n for n in data.notes)
    total_dups = sum(rules(load_council(root, "2021-22", la=la)).get("duplicate-row", 0)
                     for la in ["Bromley", "Hillingdon", "Southwark"])
    assert total_dups > 0  # the header's exact duplicate rows


def test_liia_episode_fixes_input(tmp_path):
    root = flat(tmp_path, {"episodes.csv": shared_path("data", "peer-903", "liia-tools",
                                                       "SSDA903_episodes_for_testing_fixes_INPUT.csv")})
    data = load_council(root, "2022-23", la="Newham")
    assert len(data["episodes"]) > 0
    assert any("not supplied: header.csv" in n for n in data.notes)


def test_d2i_multi_council_header(tmp_path):
    """28,436 header rows for 19 councils; the same CHILD ids recur across councils."""
    root = flat(tmp_path, {"header.csv": shared_path("data", "peer-903", "D2I-Jupyter-Notebook-Tools",
                                                     "choropleth_header.csv")})
    kent = load_council(root, "2016-17", la="Kent")
    surrey = load_council(root, "2016-17", la="Surrey")
    assert len(kent["header"]) > 1000 and len(surrey["header"]) > 1000
    assert set(kent.children[kent["header"]["child_id"]]) & set(surrey.children[surrey["header"]["child_id"]])

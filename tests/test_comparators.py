"""England, regional and statistical-neighbour comparators, the five-year trend, the regional summary."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from iro_metrics.cli import main
from iro_metrics.comparators import DATA, lookup, number, table
from iro_metrics.comparators.update import update
from iro_metrics.errors import UsageError
from iro_metrics.report.build import build

COUNCILS = {"southwark": "E09000028", "hull": "E06000010"}


def published(file: str, la_code: str | None, time_period: str, **where) -> dict:
    """One row of a shipped DfE table, read with nothing but the csv module."""
    with open(DATA / file, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            level_ok = (row["new_la_code"] == la_code) if la_code else row["geographic_level"] == "National"
            if level_ok and row["time_period"] == time_period and all(row[k] == v for k, v in where.items()):
                return row
    raise AssertionError(f"no row in {file}")


@pytest.fixture(scope="module")
def region(tmp_path_factory, demo_data) -> Path:
    """Two councils built together: the synthetic data under two real councils' codes."""
    root = tmp_path_factory.mktemp("region")
    shutil.copytree(demo_data, root / "data")
    for name, code in COUNCILS.items():
        p = root / "params" / name / "2024-25.yaml"
        p.parent.mkdir(parents=True)
        p.write_text(f"council: {name.title()}\nyear: 2024-25\ndata: ../../data\npopulation: 52000\nla_code: {code}\n")
        build(p, outputs=root / "outputs")
    return root


@pytest.mark.build
@pytest.mark.parametrize("name", list(COUNCILS))
def test_shipped_values_appear_unchanged(region, name):
    code = COUNCILS[name]
    folder = region / "outputs" / name / "2024-25"
    doc = json.loads((folder / "metrics.json").read_text())["indicators"]
    page = (folder / "appendix.html").read_text()
    rate_where = {"population_type": "Children looked after on 31 March each year"}
    stab_where = {"cla_group": "CLA on 31 March", "placement_stability": "With 3 or more placements during the year"}
    for indicator, file, column, where in [
            ("cla_rate_per_10000", "cla_number_and_rate_per_10k_children.csv", "rate_per_10000", rate_where),
            ("placements_3plus_pct", "la_cla_placement_stability.csv", "children_percent", stab_where)]:
        own = published(file, code, "2025", **where)
        england = published(file, None, "2025", **where)
        got = doc[indicator]["comparators"]
        assert got["council"]["published"] == own[column] and got["council"]["value"] == number(own[column])
        assert got["england"]["published"] == england[column]
        assert isinstance(got["england"]["value"], int | float)
        assert got["england"]["release"].endswith("2025 release (DfE)")
        summary_row = re.search(rf"<th scope=\"row\">{re.escape(_title(indicator))}</th>(.*?)</tr>", page).group(1)
        suffix = "%" if indicator.endswith("pct") else ""
        assert f">{england[column]}{suffix}<" in summary_row
        assert f">{got['region']['published']}{suffix}<" in summary_row


def _title(indicator: str) -> str:
    from iro_metrics.metrics import REGISTRY

    return REGISTRY[indicator].title


def test_region_and_neighbours():
    c = lookup("E09000028", "2024-25")["cla_rate_per_10000"]
    assert c["region"]["area"] == "Inner London"
    assert c["statistical_neighbours"]["of"] == 10 and c["statistical_neighbours"]["councils"] >= 8
    assert isinstance(c["statistical_neighbours"]["value"], int)  # rates are published whole: so is their mean
    children = lookup("E09000028", "2024-25")["cla_at_31_march"]["statistical_neighbours"]["value"]
    assert isinstance(children, int)  # an average of counts is a whole number (DfE), never "342.0"
    hull = lookup("E06000010", "2024-25")["cla_rate_per_10000"]
    assert hull["region"]["area"] == "Yorkshire and The Humber"


def test_unknown_council_code_is_an_error():
    with pytest.raises(UsageError, match="not an English council"):
        lookup("E09999999", "2024-25")

@pytest.mark.build

def test_the_synthetic_trend_is_each_years_metrics(region, capsys):
    from iro_metrics.metrics import REGISTRY

    page = (region / "outputs" / "southwark" / "2024-25" / "appendix.html").read_text()
    computed: dict[str, dict] = {}  # each year's metrics, as `iro-report metrics` gives them
    for indicator in ["reviews_on_time_pct", "placements_3plus_pct"]:
        caption = f"{REGISTRY[indicator].title} by year"
        table_html = page[page.index(caption):page.index("</table>", page.index(caption))]
        rows = re.findall(r'<th scope="row">(\d{4}-\d{2})</th><td class="num">([^<]+)</td>', table_html)
        assert len(rows) == 5
        for year, shown in rows:
            if year not in computed:
                main(["metrics", "--data", str(region / "data"), "--year", year, "--population", "52000"])
                computed[year] = json.loads(capsys.readouterr().out)["indicators"]
            assert shown == f"{computed[year][indicator]['value']:g}%"


def test_a_councils_own_comparators(tmp_path):
    local = tmp_path / "local.csv"
    local.write_text("indicator,time_period,geographic_level,area_code,area_name,value\n"
                     "reviews_on_time_pct,2025,National,E92000001,England (IRO managers' survey),91\n")
    got = lookup("E09000028", "2024-25", local=local)
    assert got["reviews_on_time_pct"]["england"]["value"] == 91
    assert got["reviews_on_time_pct"]["england"]["published"] == "91"
    assert got["reviews_on_time_pct"]["england"]["release"] == "local: local.csv"


def test_update_loads_a_new_release_unchanged(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    new = tmp_path / "download"
    new.mkdir()
    src = DATA / "la_cla_placement_stability.csv"
    (new / src.name).write_bytes(src.read_bytes())  # as downloaded
    assert update(new, "Children looked after in England including adoptions, 2026 release (DfE)", data) == [
        "updated la_cla_placement_stability.csv: Children looked after in England including adoptions, 2026 release (DfE)"]
    assert (data / src.name).read_bytes() == src.read_bytes()
    t = table(data)
    assert set(t[t["indicator"] == "placements_3plus_pct"]["release"]) == {
        "Children looked after in England including adoptions, 2026 release (DfE)"}
    (new / src.name).write_text("time_period,something_else\n2026,1\n")
    with pytest.raises(UsageError, match="columns differ"):
        update(new, "x", data)

@pytest.mark.build

def test_regional_summary(region):
    assert main(["regional", str(region / "outputs"), "--year", "2024-25"]) == 0
    page = (region / "outputs" / "regional" / "2024-25" / "regional.html").read_text()
    assert "<h1>Regional summary: 2 councils, 2024-25</h1>" in page
    assert '<th class="num" scope="col">Southwark</th>' in page and '<th class="num" scope="col">Hull</th>' in page
    doc = json.loads((region / "outputs" / "hull" / "2024-25" / "metrics.json").read_text())
    assert f">{doc['indicators']['cla_at_31_march']['value']}<" in page


@pytest.mark.build
def test_regional_summary_shows_england_for_councils_built_without_la_code(region, tmp_path, monkeypatch):
    """England's figure is DfE's whatever the council: a region built without la_code (whose metrics carry
    no comparators) shows it as one built with la_code does, not "x"."""
    import IPython.display

    from iro_metrics.report import regional

    shown: list[str] = []
    monkeypatch.setattr(IPython.display, "display", lambda h: shown.append(h.data))
    regional.summary(str(region / "outputs"), "2024-25")
    for name in COUNCILS:
        doc = json.loads((region / "outputs" / name / "2024-25" / "metrics.json").read_text())
        for ind in doc["indicators"].values():
            ind.pop("comparators", None)
        (tmp_path / name / "2024-25").mkdir(parents=True)
        (tmp_path / name / "2024-25" / "metrics.json").write_text(json.dumps(doc))
    regional.summary(str(tmp_path), "2024-25")
    with_codes, without = shown
    england = published("cla_number_and_rate_per_10k_children.csv", None, "2025",
                        population_type="Children looked after on 31 March each year")
    assert without == with_codes and f">{int(england['children_count']):,}<" in without

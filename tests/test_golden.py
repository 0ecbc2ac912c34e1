"""The whole metrics document for the synthetic council, against a golden copy.

A change to any published number fails here. When a change is intended, regenerate on purpose:
``IRO_REGENERATE_GOLDEN=1 python -m pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from iro_metrics.cli import main

GOLDEN = Path(__file__).parent / "golden" / "demo-borough-2024-25-metrics.json"


def test_metrics_json_matches_golden(demo_data, capsys):
    assert main(["metrics", "--data", str(demo_data), "--year", "2024-25", "--council", "Demo Borough",
                 "--population", "52000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    if os.environ.get("IRO_REGENERATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(doc, indent=2) + "\n")
    assert doc == json.loads(GOLDEN.read_text())


def test_metrics_json_is_plausible():
    """The synthetic council looks like a mid-sized English council (iro-annual-report.md §4)."""
    ind = {k: v["value"] for k, v in json.loads(GOLDEN.read_text())["indicators"].items()}
    assert 380 <= ind["cla_at_31_march"] <= 520
    assert 70 <= ind["cla_rate_per_10000"] <= 100  # England: 67-70
    assert 85 <= ind["reviews_on_time_pct"] <= 97
    assert 80 <= ind["participation_pct"] <= 98
    assert 3 <= ind["placements_3plus_pct"] <= 15  # England: 10-11%
    assert 40 <= ind["long_term_stability_pct"] <= 80  # England: 68-71%
    assert 45 <= ind["iro_caseload_per_fte"] <= 75  # the Handbook's 50-70
    assert ind["uasc_at_31_march"] > 0


def test_metrics_json_has_every_id_and_no_identifier(demo_data, capsys):
    from iro_metrics.metrics import REGISTRY

    main(["metrics", "--data", str(demo_data), "--year", "2024-25"])
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert set(doc["indicators"]) | set(doc["tables"]) == set(REGISTRY)
    for v in doc["indicators"].values():
        assert set(v) == {"value", "numerator", "denominator"}
    header = (demo_data / "2024-25" / "header.csv").read_text().splitlines()[1:]
    children = {line.split(",")[0] for line in header}
    upns = {line.split(",")[4] for line in header}
    assert not any(c in out for c in children | upns)


def test_definitions_doc_is_generated_from_the_code(capsys):
    assert main(["definitions"]) == 0
    doc = (Path(__file__).parents[1] / "docs" / "definitions.md").read_text()
    assert capsys.readouterr().out == doc, "docs/definitions.md is stale: run `iro-report definitions > docs/definitions.md`"


def test_a_subset_of_metrics_gives_the_same_figures(demo_data):
    """The trends compute only the indicators they show for earlier years: the same values."""
    from iro_metrics.ingest.load import load_council
    from iro_metrics.metrics import compute_all
    from iro_metrics.model import build_model

    model = build_model(load_council(demo_data, "2023-24"))
    every, _ = compute_all(model)
    some, tables = compute_all(model, only={"cla_at_31_march", "reviews_on_time_pct"})
    assert list(some) == ["cla_at_31_march", "reviews_on_time_pct"] and tables == {}
    assert some == {k: every[k] for k in some}

"""Cross-check: the vectorised model and a plain per-child implementation agree on every indicator
the reference covers, for every year of the synthetic council and for hand-built edge cases."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from reference import agree, reference_indicators  # noqa: E402

from iro_metrics.ingest.load import load_council  # noqa: E402
from iro_metrics.metrics import compute_all  # noqa: E402
from iro_metrics.model import build_model  # noqa: E402


@pytest.mark.parametrize("year", ["2020-21", "2022-23", "2024-25"])
def test_package_agrees_with_reference(demo_data, year):
    data = load_council(demo_data, year)
    indicators, _ = compute_all(build_model(data))
    assert agree(indicators, reference_indicators(data)) == []


@pytest.mark.parametrize("year", ["2023-24", "2024-25"])
def test_agreement_on_the_hand_built_review_cases(council, year):
    from test_metrics_reviews import build_scenario

    m = build_scenario(council).model("2023-24", "2024-25", year=year)
    indicators, _ = compute_all(m)
    assert agree(indicators, reference_indicators(m.data)) == []


@pytest.mark.parametrize("seed", [2, 3, *(pytest.param(s, marks=pytest.mark.slow) for s in range(4, 8))])
def test_agreement_across_councils(tmp_path, seed):  # two councils in the quick loop, all six in `make test`
    """Rarer situations (re-entry, adoption, a missed review before going home) need many councils."""
    from iro_metrics.synth import SynthConfig, write_council
    from iro_metrics.years import year_range

    write_council(tmp_path, SynthConfig(children=300, seed=seed, late_share=0.2,
                                        years=year_range("2022-23:2024-25")))
    for year in ["2023-24", "2024-25"]:
        data = load_council(tmp_path, year)
        indicators, _ = compute_all(build_model(data))
        assert agree(indicators, reference_indicators(data)) == [], (seed, year)


@pytest.mark.parametrize("case", ["return_window", "same_carer", "not_restated"])
def test_agreement_on_the_spec_revision_cases(council, case):
    """The 2026-11-30 revisions: the return window, time with the same carers, episodes not restated."""
    from test_spec_revisions import _drop_child, _same_carer

    if case == "same_carer":
        council.review("T1", "2024-11-01").review("T3", "2024-11-01")
        data = _same_carer(council).data
    else:
        council.child("W", "2012-01-01").child("N", "2012-01-01")
        council.stay("W", ("2020-06-01", "S", "U4"), end="2024-04-01", rec="E4A")
        council.stay("W", ("2024-10-01", "S", "U4"), ("2024-12-01", "P", "U6"))
        council.stay("N", ("2022-06-01", "S", "U4"))
        council.review("W", "2024-10-20").review("N", "2022-06-20")
        root = council.write("2022-23", "2024-25")
        if case == "not_restated":
            for later in ("2023-24", "2024-25"):
                _drop_child(root / later / "episodes.csv", "N")
        data = load_council(root, "2024-25")
    indicators, _ = compute_all(build_model(data))
    assert agree(indicators, reference_indicators(data)) == []

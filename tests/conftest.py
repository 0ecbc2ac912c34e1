from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from builders import Council  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def council(tmp_path: Path) -> Council:
    return Council(tmp_path / "data")


@pytest.fixture
def good(council) -> Path:
    """A small clean council: two children, one return, every check passes."""
    council.child("A", "2012-01-15").child("B", "2015-03-01", sex="F")
    council.stay("A", ("2024-05-01", "S", "U4"))
    council.stay("B", ("2024-06-01", "S", "U6"))
    council.review("A", "2024-05-20").review("B", "2024-06-25")
    return council.write("2024-25", "2024-25")


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The demo council (Demo Borough, five years, calibrated to Southwark), written once per session."""
    out = tmp_path_factory.mktemp("demo")
    write_demo(out)
    return out


DEMO_LIKE = "E09000028"  # make demo: synth --like E09000028 (Southwark's published figures)


def write_demo(out: Path, seed: int = 1) -> None:
    """The demo council as `make demo` writes it."""
    from iro_metrics.synth import write_council
    from iro_metrics.synth.calibrate import like
    from iro_metrics.years import year_range

    write_council(out, *like(DEMO_LIKE, year_range("2020-21:2024-25"), seed=seed))


def shared_path(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is not available (the shared folder sits beside the checkout)")
    return p


#: the test files that take longest (benchmarks/README.md, "The test suite"), handed to `make test`'s
#: two workers first so that they finish together; every other file keeps its place after them
LONGEST_FIRST = ["test_verify.py", "test_commentary.py", "test_batch.py", "test_comparators.py", "test_calibrate.py",
                 "test_build.py", "test_synth.py", "test_report.py", "test_ci_template.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file kept

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


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The default synthetic council (Demo Borough, five years), written once per session."""
    from iro_metrics.synth import SynthConfig, write_council

    out = tmp_path_factory.mktemp("demo")
    write_council(out, SynthConfig())
    return out


def shared_path(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is not available (the shared folder sits beside the checkout)")
    return p

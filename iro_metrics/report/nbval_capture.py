"""A pytest plugin for ``iro-report verify``: keeps the outputs nbval got when it re-executed each
code cell, so that the HTML and the PDF can be rebuilt from the re-executed notebook without running
it a second time. Loaded with ``-p iro_metrics.report.nbval_capture --iro-capture FILE``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_outputs: dict[int, list] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--iro-capture", metavar="FILE", help="write each re-executed cell's outputs here (JSON)")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    outputs = getattr(item, "test_outputs", None)  # set by nbval's cell item as it runs the cell
    if outputs is not None:
        _outputs[item.cell_num] = [dict(o) for o in outputs]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("iro_capture")
    if path and _outputs:
        Path(path).write_text(json.dumps({str(k): v for k, v in sorted(_outputs.items())}), encoding="utf-8")

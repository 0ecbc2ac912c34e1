"""nbval, run in-process for ``iro-report verify``, keeping what it found: for each code cell, whether
its outputs matched the published ones and the outputs the re-execution gave, so that the HTML and the
PDF can be rebuilt from the re-executed notebook without running it a second time."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest


class Capture:
    """A pytest plugin object: ``passed`` and ``outputs`` by code cell number (nbval's ``Cell N``)."""

    def __init__(self) -> None:
        self.passed: dict[int, bool] = {}
        self.outputs: dict[int, list[dict]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        outputs = getattr(item, "test_outputs", None)  # set by nbval's cell item as it runs the cell
        if outputs is not None:
            self.outputs[item.cell_num] = [dict(o) for o in outputs]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        number = report.nodeid.rsplit("Cell ", 1)[-1]
        if number.isdigit() and (report.when == "call" or report.failed):
            self.passed[int(number)] = self.passed.get(int(number), True) and report.passed


def run_nbval(notebook: Path, sanitiser: Path) -> tuple[Capture, str]:
    """Re-execute ``notebook`` with ``pytest --nbval`` in this environment, in its own folder; returns
    what was captured and pytest's own report (for when nothing ran)."""
    ini = notebook.parent / "pytest.ini"
    ini.write_text("[pytest]\n")
    capture, log = Capture(), io.StringIO()
    # only nbval and this plugin: other installed plugins (xdist, anyio...) cost seconds to import
    args = ["--disable-plugin-autoload", "-p", "nbval.plugin", "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(sanitiser), "-c", str(ini), "--rootdir",
            str(notebook.parent), "-p", "no:cacheprovider", "-q", str(notebook)]
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        pytest.main(args, plugins=[capture])
    return capture, log.getvalue()

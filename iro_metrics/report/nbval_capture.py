"""nbval, run in-process for ``iro-report verify``, keeping what it found: for each code cell, whether
its outputs matched the published ones and the outputs the re-execution gave, so that the HTML and the
PDF can be rebuilt from the re-executed notebook without running it a second time."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

AFTER_TIMEOUT = 120  # seconds for the code run after the last cell


class Capture:
    """A pytest plugin object: ``passed`` and ``outputs`` by code cell number (nbval's ``Cell N``).
    ``after`` is code run in nbval's kernel once the last cell has run (its outputs are not compared)."""

    def __init__(self, after: str = "") -> None:
        self.passed: dict[int, bool] = {}
        self.outputs: dict[int, list[dict]] = {}
        self.after = after

    @pytest.hookimpl(tryfirst=True)  # before pytest's own teardown, which stops the kernel after the last cell
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        outputs = getattr(item, "test_outputs", None)  # set by nbval's cell item as it runs the cell
        if outputs is not None:
            self.outputs[item.cell_num] = [dict(o) for o in outputs]
        kernel = getattr(item.parent, "kernel", None)
        if nextitem is None and self.after and kernel is not None and kernel.is_alive():
            kernel.await_reply(kernel.execute_cell_input(self.after, allow_stdin=False), timeout=AFTER_TIMEOUT)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        number = report.nodeid.rsplit("Cell ", 1)[-1]
        if number.isdigit() and (report.when == "call" or report.failed):
            self.passed[int(number)] = self.passed.get(int(number), True) and report.passed


def run_nbval(notebook: Path, sanitiser: Path, after: str = "") -> tuple[Capture, str]:
    """Re-execute ``notebook`` with ``pytest --nbval`` in this environment, in its own folder, then run
    ``after`` in the same kernel; returns what was captured and pytest's own report (for when nothing ran)."""
    ini = notebook.parent / "pytest.ini"
    ini.write_text("[pytest]\n")
    capture, log = Capture(after), io.StringIO()
    # only nbval and this plugin: other installed plugins (xdist, anyio...) cost seconds to import
    args = ["--disable-plugin-autoload", "-p", "nbval.plugin", "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", str(sanitiser), "-c", str(ini), "--rootdir", str(notebook.parent),
            "-p", "no:cacheprovider", "-q", str(notebook)]
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        pytest.main(args, plugins=[capture])
    return capture, log.getvalue()

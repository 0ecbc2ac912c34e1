"""The notebook's kernel and the build: errors kept as the user should read them as they cross; what a
kernel imports as it starts leaves no trace in the notebook; the start-up import no command pays for."""

from __future__ import annotations

import errno
import subprocess
import sys

import nbformat
import pytest

from iro_metrics.errors import FatalDataError, IroMetricsError, MetricError, Problem, UsageError, describe, revive


def python(code: str) -> list[str]:
    """The words ``code`` prints, run in a fresh interpreter (what a command imports as it starts)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_a_data_error_crosses_with_file_row_and_column():
    e = FatalDataError([Problem("2024-25/episodes.csv", "expected a date", column="DECOM", row=7),
                        Problem("2024-25/header.csv", "the file is empty")])
    back = revive(describe(e))
    assert isinstance(back, FatalDataError) and back.problems == e.problems
    assert str(back) == ("2024-25/episodes.csv, row 7, column DECOM: expected a date\n"
                         "2024-25/header.csv: the file is empty")


def test_other_package_errors_keep_their_message_and_known_kind():
    assert type(revive(describe(MetricError("Reviews: metric reviews_held failed")))) is MetricError
    assert type(revive(describe(UsageError("no such year")))) is UsageError
    other = revive(describe(type("ParamsLikeError", (IroMetricsError,), {})("population: expected a number")))
    assert type(other) is IroMetricsError and str(other) == "population: expected a number"


def test_a_full_disk_crosses_as_itself_and_a_bug_does_not_cross():
    back = revive(describe(OSError(errno.ENOSPC, "No space left on device", "/out/tables.xlsx")))
    assert isinstance(back, OSError) and back.errno == errno.ENOSPC and back.filename == "/out/tables.xlsx"
    assert describe(ZeroDivisionError("division by zero")) is None and describe(None) is None


def test_reading_a_notebook_no_longer_compiles_the_iri_grammar():
    code = ("import sys, iro_metrics.report, nbformat, jsonschema\n"
            "print('rfc3987_syntax.syntax_helpers' in sys.modules)\n"
            "fc = jsonschema.FormatChecker()\n"
            "print(fc.conforms('https://example.org/a', 'iri'), fc.conforms('not an iri', 'iri'))\n")
    assert python(code) == ["False", "True", "False"]  # not imported at start; the check itself still works when used


@pytest.mark.build
def test_a_preloaded_kernel_imports_without_binding_a_name_or_counting_a_run(tmp_path):
    from iro_metrics.report.kernel import Kernel

    look = "import sys\nprint('iro_metrics.report.appendix' in sys.modules, [n for n in dir() if 'iro' in n])"
    with Kernel(preload=("iro_metrics.report.appendix",)) as kernel:
        nb = kernel.run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(look)]), tmp_path)
    assert nb.cells[0].outputs[0].text == "True []\n" and nb.cells[0].execution_count == 1


def test_an_os_error_without_a_number_is_a_bug_not_a_disk_problem():
    assert describe(OSError("a message only")) is None and describe(TimeoutError()) is None


def test_a_commentary_only_rebuild_needs_no_pandas():
    # what a rebuild that reuses the notebook runs before it renders: params, the commentary, the manifest
    code = ("import sys, iro_metrics.report.build\n"
            "from iro_metrics.report import commentary\n"
            "from iro_metrics.years import CollectionYear\n"
            "print(CollectionYear.parse('2024-25').end_date, 'pandas' in sys.modules)\n")
    assert python(code) == ["2025-03-31", "False"]


@pytest.mark.build
def test_nbval_runs_in_the_kernel_started_for_it_and_stops_it(tmp_path):
    from iro_metrics.report.nbval_capture import run_nbval, start_kernel

    # the started kernel imported the appendix module as it started: nbval's own would not have
    look = "import sys, os\nprint('iro_metrics.report.appendix' in sys.modules, os.getcwd())"
    expected = nbformat.v4.new_output("stream", name="stdout", text=f"True {tmp_path}\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(look, outputs=[expected], execution_count=1)])
    nbformat.write(nb, tmp_path / "check.ipynb")
    (tmp_path / "sanitise.cfg").write_text("")
    km = start_kernel(tmp_path)
    capture, log = run_nbval(tmp_path / "check.ipynb", tmp_path / "sanitise.cfg", kernel=km)
    assert capture.passed == {0: True}, log
    assert not km.has_kernel  # stopped


def test_a_kernel_started_for_nbval_is_stopped_when_nbval_never_uses_it(tmp_path):
    from iro_metrics.report.nbval_capture import run_nbval, start_kernel

    km = start_kernel(tmp_path)
    capture, _ = run_nbval(tmp_path / "missing.ipynb", tmp_path / "no-sanitiser.cfg", kernel=km)
    assert capture.outputs == {} and not km.has_kernel


@pytest.mark.build
def test_ctrl_c_while_a_notebook_runs_is_an_interruption_not_a_dead_kernel(tmp_path):
    # nbclient answers Ctrl+C by shutting the kernel down; the run must say interrupted, not "kernel died"
    script = ("import os, signal, threading, nbformat\n"
              "from pathlib import Path\n"
              "from iro_metrics.report.kernel import Kernel\n"
              "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('import time; time.sleep(60)')])\n"
              "threading.Timer(3, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
              "with Kernel() as kernel:\n"
              "    try:\n"
              "        kernel.run(nb, Path.cwd())\n"
              "    except KeyboardInterrupt:\n"
              "        print('interrupted', kernel._km is None)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.stdout.strip() == "interrupted True", done.stderr[-2000:]


@pytest.mark.build
def test_an_interrupted_cell_is_an_interruption_too(tmp_path):
    # on Windows Ctrl+C reaches the kernel itself: the cell stops with KeyboardInterrupt
    from iro_metrics.report.kernel import Kernel

    with Kernel() as kernel:
        with pytest.raises(KeyboardInterrupt):
            kernel.run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise KeyboardInterrupt")]),
                       tmp_path)

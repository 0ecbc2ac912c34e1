"""The chart helper (report/helper.py): a forked copy of the kernel draws every second chart; the
notebook's outputs must be the same whichever process drew a chart, and whatever the helper does."""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import queue
import sys

import nbformat
import pandas as pd
import pytest

from iro_metrics.report import appendix as A
from iro_metrics.report import charts, helper
from iro_metrics.report.build import NOTEBOOK

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper forks: Linux only")


@pytest.fixture(scope="module")
def ctx(demo_data):
    return A.setup(council="Demo Borough", year="2024-25", data=str(demo_data), population=55626,
                   la_code="E09000028")


def run_cells(ctx, monkeypatch, on: bool) -> tuple[list, list[int]]:
    """What the notebook's charted cells display, and the charts this process drew, from a fresh copy
    of ``ctx`` (a helper started first when ``on``)."""
    shown, drawn = [], []
    render_svg = charts.svg

    def display(obj, raw=False, metadata=None):
        shown.append(json.dumps([obj if raw else obj.data, metadata], sort_keys=True))

    def svg(fig, prefix, alt):
        drawn.append(int(prefix[1:]))
        return render_svg(fig, prefix, alt)

    monkeypatch.setattr("IPython.display.display", display)
    monkeypatch.setattr(charts, "svg", svg)
    monkeypatch.setenv(helper.ENV, "1" if on else "0")
    fresh = dataclasses.replace(ctx, figures=0, table_count=0)
    helper.start(fresh, A.charted)
    try:
        A.charted(fresh)
    finally:
        helper.stop()
    return shown, drawn


@pytest.fixture(scope="module")
def alone(ctx):
    with pytest.MonkeyPatch.context() as mp:
        return run_cells(ctx, mp, on=False)


def test_charted_runs_the_notebooks_cells_in_its_order():
    calls = []
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "trends", "section", "equalities"):
                calls.append((node.func.attr, *[a.value for a in node.args[1:]]))
    assert calls == [("trends",), *[("section", s) for s in A.SECTION_CELLS], ("equalities",)]


@pytest.mark.slow  # the demo council's figures computed, its sections run
def test_the_helper_draws_every_second_chart_and_the_outputs_are_the_same(ctx, alone, monkeypatch):
    shown, drawn = run_cells(ctx, monkeypatch, on=True)
    assert shown == alone[0]
    everything = alone[1]
    assert len(everything) >= 10 and everything == list(range(1, len(everything) + 1))
    assert drawn == [n for n in everything if n % 2]  # the even ones came from the helper


def _wrong(self, number, alt, caption, render):  # a chart other than the one the kernel draws
    self.messages.put(("chart", number, alt + " (not this chart)", caption, "<svg>wrong</svg>"))


def _die(*args):
    os._exit(3)


def _hang(*args):
    import time

    time.sleep(60)


@pytest.mark.slow  # the demo council's figures computed, its sections run
@pytest.mark.parametrize(("where", "misbehaves"), [("_Sender.chart", _wrong), ("_serve", _die), ("_serve", _hang)],
                         ids=["draws-another-chart", "dies", "hangs"])
def test_whatever_the_helper_does_the_kernel_draws_the_same_charts(ctx, alone, monkeypatch, where, misbehaves):
    owner, _, name = where.rpartition(".")
    monkeypatch.setattr(getattr(helper, owner) if owner else helper, name, misbehaves)
    monkeypatch.setattr(helper, "WAIT", 0.5)  # a stuck helper (no CPU for that long) is given up
    shown, drawn = run_cells(ctx, monkeypatch, on=True)
    assert shown == alone[0] and drawn == alone[1]


def test_a_chart_whose_drawing_prints_is_left_to_the_kernel():
    """Anything printed while drawing would be an output of the kernel's cell: the helper does not
    take it from the notebook. Odd charts are the kernel's: the helper neither draws nor sends them."""
    sent, printed = queue.Queue(), io.StringIO()
    sender = helper._Sender(sent, lambda: len(printed.getvalue()))

    def noisy():
        printed.write("UserWarning: something\n")
        return "<svg/>"

    sender.chart(2, "alt", "caption", noisy)
    sender.chart(3, "alt", "caption", lambda: "<svg>3</svg>")
    sender.chart(4, "alt", "caption", lambda: "<svg/>")
    sender.chart(6, "alt", "caption", lambda: 1 / 0)
    assert [sent.get_nowait() for _ in range(sent.qsize())] == [("chart", 4, "alt", "caption", "<svg/>")]


def test_output_at_the_file_descriptors_counts_as_printed(monkeypatch):
    """C code, a crash report or sys.__stderr__ write to descriptors 1 and 2, which ipykernel captures
    into the running cell: in a helper they count as printed, and the kernel does the work."""
    monkeypatch.setenv(helper.ENV, "1")
    calls: list = []
    parent = os.getpid()

    def low_level():
        if os.getpid() != parent:
            os.write(2, b"Segmentation fault report\n")

    result = helper.in_parallel(work_counted(calls, "here", effect=low_level))
    assert result() == "here" and calls == [1]


def test_a_warning_shown_once_stays_shown_once(monkeypatch):
    """Starting a helper leaves the kernel's warning filters and registries alone: a warning already
    shown is not shown again (with helpers on as with them off)."""
    import warnings

    def warn():
        warnings.warn("shown once", UserWarning, stacklevel=1)

    for on in ("0", "1"):
        monkeypatch.setenv(helper.ENV, on)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("default")
            warn()
            helper.in_parallel(lambda: 1)()
            warn()
        assert len(seen) == 1, on


def test_a_helper_that_dies_part_way_through_a_message_does_not_hang_the_kernel(monkeypatch):
    import struct
    import threading

    def cut_short(work, messages, printed):
        os.write(messages.writer.fileno(), struct.pack("!i", 1 << 20) + b"x" * 1024)
        os._exit(1)

    monkeypatch.setenv(helper.ENV, "1")
    monkeypatch.setattr(helper, "_compute", cut_short)
    result = helper.in_parallel(lambda: "here")
    got: list = []
    waiting = threading.Thread(target=lambda: got.append(result()), daemon=True)
    waiting.start()
    waiting.join(15)
    assert got == ["here"]


def test_no_helper_when_none_can_be_started(monkeypatch):
    def no_memory():
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setenv(helper.ENV, "1")
    monkeypatch.setattr(os, "fork", no_memory)
    calls: list = []
    assert helper.in_parallel(work_counted(calls, 7))() == 7 and calls == [1]


@pytest.mark.slow  # the demo council's figures computed, its sections run
def test_no_helper_unless_the_kernel_was_started_with_one(ctx, monkeypatch):
    monkeypatch.setenv(helper.ENV, "0")
    helper.start(ctx, A.charted)
    assert helper._helper is None


def work_counted(calls: list, result=None, effect=None):
    def work():
        calls.append(1)
        if effect is not None:
            effect()
        return result
    return work


def test_work_done_in_parallel_comes_from_the_helper(monkeypatch):
    monkeypatch.setenv(helper.ENV, "1")
    calls: list = []
    result = helper.in_parallel(work_counted(calls, {"2023-24": [1.5, None]}))
    assert result() == {"2023-24": [1.5, None]} and calls == []  # the helper's appends are its own


def test_work_the_helper_could_not_do_is_done_here(monkeypatch):
    """An error is raised in the kernel, as without a helper; a warning printed in the helper would be
    the kernel's cell's output, so the kernel does the work; a helper that died leaves it too."""
    monkeypatch.setenv(helper.ENV, "1")
    calls: list = []
    failing = helper.in_parallel(work_counted(calls, effect=lambda: 1 / 0))
    with pytest.raises(ZeroDivisionError):
        failing()
    assert calls == [1]
    printing = helper.in_parallel(work_counted(calls, "done", effect=lambda: print("FutureWarning: ...")))
    assert printing() == "done" and calls == [1, 1]

    parent = os.getpid()

    def die_in_helper():
        if os.getpid() != parent:
            os._exit(3)

    dying = helper.in_parallel(work_counted(calls, "here", effect=die_in_helper))
    assert dying() == "here" and calls == [1, 1, 1]


def test_a_helper_is_given_as_many_early_returns_as_balance_the_work():
    """Checking a return costs a fixed 0.11 s plus 1.3 s per million rows; the helper also pickles what
    it checked (0.42 s per million rows) and the kernel unpickles it afterwards (0.25 s); the kernel's
    import of the charts' libraries (``meanwhile``) costs 0.7 s."""
    from iro_metrics.ingest.load import helpers_share

    council = [6500] * 5  # each return 0.118 s: the import outweighs four returns (0.47 s)
    assert helpers_share(council, meanwhile=True) == 4
    assert helpers_share(council, meanwhile=False) == 2  # 0.24 s there, 0.36 s here (three there: 0.37 s)
    # the national tree (1.2 million rows a return: 1.67 s to check, 0.5 s to send, 0.3 s to take in):
    # two there finish in 4.35 s, three here in 5.71 s, 6.31 s in all; the old split (four there) 9.90 s
    assert helpers_share([1_200_000] * 5, meanwhile=True) == 2
    assert helpers_share([6500], meanwhile=True) == 0  # one return: no helper


@pytest.mark.slow  # the demo council's figures computed, its sections run
@pytest.mark.parametrize("meanwhile", [None, lambda: None])
def test_returns_checked_in_a_helper_are_the_same(demo_data, monkeypatch, meanwhile):
    from iro_metrics.ingest import load

    alone = load.load_history(demo_data, "2024-25", earlier=4)
    monkeypatch.setenv(helper.ENV, "1")
    given = []

    def in_parallel(work):
        checked = helper.in_parallel(work)
        return lambda: (result := checked(), given.append(sorted(result)))[0]

    shared = load.check_history(demo_data, "2024-25", earlier=4, in_parallel=in_parallel, meanwhile=meanwhile)
    assert given == [[2020, 2021] if meanwhile is None else [2020, 2021, 2022, 2023]]
    assert shared.labels == list(alone)
    for label, data in alone.items():
        year = shared.year(label)
        assert year.tables.keys() == data.tables.keys() and year.files == data.files
        for key, frame in data.tables.items():
            pd.testing.assert_frame_equal(year.tables[key], frame)
        assert year.findings.frame().equals(data.findings.frame())


@pytest.mark.slow  # reads the demo council
@pytest.mark.parametrize("on", [False, True])
def test_the_first_error_in_year_order_is_raised(demo_data, monkeypatch, on):
    from iro_metrics.ingest import load

    def broken(cy, raws):
        raise ValueError(f"return {cy.label}")

    monkeypatch.setattr(load, "_check_return", broken)
    monkeypatch.setenv(helper.ENV, "1" if on else "0")
    with pytest.raises(ValueError, match="return 2020-21"):
        load.check_history(demo_data, "2024-25", earlier=4, in_parallel=helper.in_parallel)


def test_a_user_can_keep_helpers_off(monkeypatch):
    from iro_metrics.report.kernel import helper_env

    monkeypatch.delenv(helper.ENV, raising=False)
    assert helper_env(True)[helper.ENV] == "1" and helper_env(False)[helper.ENV] == "0"
    monkeypatch.setenv(helper.ENV, "0")
    assert helper_env(True)[helper.ENV] == "0"


def _written(ctx, folder) -> dict:
    from iro_metrics.report.figures import write_figures

    folder.mkdir()
    write_figures(ctx, folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # the demo council's figures written three times
def test_the_workbook_a_helper_writes_is_the_kernels(ctx, tmp_path, monkeypatch):
    """A helper writes tables.xlsx while the kernel writes the rest: the same files, byte for byte, as
    the kernel alone writes; a helper that dies half-way through the workbook leaves it to the kernel."""
    from iro_metrics.present import spreadsheet

    monkeypatch.setenv(helper.ENV, "0")
    alone = _written(ctx, tmp_path / "alone")
    monkeypatch.setenv(helper.ENV, "1")
    assert _written(ctx, tmp_path / "helped") == alone and "tables.xlsx" in alone and "tables.ods" in alone
    parent, real = os.getpid(), spreadsheet.write_xlsx

    def dies_half_way(published, path, *args, **kwargs):
        if os.getpid() != parent:
            path.write_bytes(b"PK half a workbook")
            os._exit(3)
        return real(published, path, *args, **kwargs)

    monkeypatch.setattr(spreadsheet, "write_xlsx", dies_half_way)
    assert _written(ctx, tmp_path / "died") == alone

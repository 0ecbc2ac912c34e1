"""nbval, run in-process for ``iro-report verify``, keeping what it found: for each code cell, whether
its outputs matched the published ones and the outputs the re-execution gave, so that the HTML and the
PDF can be rebuilt from the re-executed notebook without running it a second time.

nbval's kernel can be started before nbval runs (:func:`start_kernel`), so that its start-up (and the
import of the appendix module, as a build's kernel does) overlaps verify's own imports: it is the same
fresh kernel nbval would start, only sooner and with a build's helpers (``report/helper.py``);
nbval then runs every cell in it and compares as usual.
"""

from __future__ import annotations

import contextlib
import io
import os
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


def start_kernel(folder: Path):
    """Start, without waiting for it, the kernel nbval would start for a notebook in ``folder`` (this
    environment's, working in that folder), importing the appendix module as it starts; give it to
    :func:`run_nbval`."""
    from jupyter_client.manager import KernelManager
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    from iro_metrics.report.kernel import PRELOAD, helper_env, preload_arguments, quick_to_stop

    km = quick_to_stop(KernelManager)(kernel_name=CURRENT_ENV_KERNEL_NAME,
                                      kernel_spec_manager=NbvalKernelspecManager())
    with open(os.devnull, "w") as quiet:  # with helpers, as a build's kernel
        km.start_kernel(cwd=str(folder), stderr=quiet, env=helper_env(True),
                        extra_arguments=preload_arguments(PRELOAD))
    return km


def run_nbval(notebook: Path, sanitiser: Path, after: str = "", kernel=None) -> tuple[Capture, str]:
    """Re-execute ``notebook`` with ``pytest --nbval`` in this environment, in its own folder, then run
    ``after`` in the same kernel; returns what was captured and pytest's own report (for when nothing ran).
    ``kernel`` is one :func:`start_kernel` started for it (nbval starts its own when None); it is
    stopped either way."""
    if kernel is not None:
        with _adopted(kernel):
            return run_nbval(notebook, sanitiser, after)
    ini = notebook.parent / "pytest.ini"
    ini.write_text("[pytest]\n")
    capture, log = Capture(after), io.StringIO()
    # only nbval and this plugin: other installed plugins (xdist, anyio...) cost seconds to import; and
    # not pytest's check for unraisable exceptions, whose garbage collections at the end took 0.15 s
    args = ["--disable-plugin-autoload", "-p", "nbval.plugin", "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", str(sanitiser), "-c", str(ini), "--rootdir", str(notebook.parent),
            "-p", "no:cacheprovider", "-p", "no:unraisableexception", "-q", str(notebook)]
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), _no_message_dumps():
        pytest.main(args, plugins=[capture])
    return capture, log.getvalue()


@contextlib.contextmanager
def _no_message_dumps():
    """nbval formats every kernel message for its debug log whether or not that log is kept (0.18 s of
    pretty-printing a verify); while it runs, it formats them only if its debug log is on."""
    import logging

    from nbval import kernel

    if logging.getLogger("nbval").isEnabledFor(logging.DEBUG):
        yield
        return
    real, kernel.pformat = kernel.pformat, lambda _msg: ""
    try:
        yield
    finally:
        kernel.pformat = real


@contextlib.contextmanager
def _adopted(km):
    """nbval uses ``km``, already started, as the kernel of the notebook it runs next."""
    from nbval import plugin
    from nbval.kernel import RunningKernel

    clients = []

    class Started(RunningKernel):
        def __init__(self, kernel_name: str, cwd: str | None = None, startup_timeout: int = 60) -> None:
            # as nbval's own, but connecting to the kernel started earlier rather than starting one
            self.km, self.kc = km, km.client()
            clients.append(self.kc)
            self.kc.start_channels()
            try:
                self.kc.wait_for_ready(timeout=startup_timeout)
            except RuntimeError:
                self.kc.stop_channels()
                raise
            self._ensure_iopub_up()

    plugin.RunningKernel = Started
    try:
        yield
    finally:
        plugin.RunningKernel = RunningKernel
        for kc in clients:  # nbval stops its client only when the kernel is still alive at the end
            kc.stop_channels()
        stop_kernel(km)  # when nbval did not get as far as stopping it


def stop_kernel(km) -> None:
    """Stop a kernel :func:`start_kernel` started, unless it has stopped already."""
    if km.has_kernel:
        km.shutdown_kernel(now=True)

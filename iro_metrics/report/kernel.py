"""The notebook kernel a build runs in: fresh for one build, or warm and reused by a batch worker.

Starting a kernel and importing pandas and matplotlib into it costs about a second, so a batch
worker keeps one kernel (:class:`Kernel` with ``reuse`` > 1) and runs council after council in it.
Reproducibility comes first: between two notebooks the kernel is put back explicitly to the state
of a fresh one (:func:`reset_state`), it is restarted every ``reuse`` notebooks and after any
failure, and a test builds three councils warm and cold and compares the bytes.

The notebook is parameterised by papermill (its ``injected-parameters`` cell, so a reviewer sees
the council's parameters) and executed by nbclient, papermill's own engine, on this kernel.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NoReturn

import nbformat

from iro_metrics.errors import IroMetricsError, revive

KERNEL_NAME = "python3"
#: what the appendix notebook's first cell imports, imported by its kernel as it starts (while the
#: caller prepares the notebook)
PRELOAD = ("iro_metrics.report.appendix",)
START_TIMEOUT = 60  # seconds for a kernel to start and answer
AFTER_TIMEOUT = 300  # seconds for the code run after a notebook (writing the figures) to finish
# a kernel's command history stays in memory: kernels running side by side must not share a file
_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
_RESET = "from iro_metrics.report.kernel import reset_state\nreset_state({home!r})"
# the error a cell raised, as plain data when it is the package's own (bad input, not a bug)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours in a kernel's traceback
_LAST_ERROR = ("__import__('json').dumps(__import__('iro_metrics.errors').errors.describe("
               "getattr(__import__('sys'), 'last_value', None)))")


class BuildError(IroMetricsError):
    """The notebook failed (the message names the cell, and the section and metric where it could),
    or its kernel died or would not start (:class:`KernelError`)."""


class KernelError(BuildError):
    """The kernel died or would not start: nothing to do with the council; worth one retry."""


class Kernel:
    """A Jupyter kernel that runs notebooks one at a time; use it as a context manager.

    ``reuse`` is how many notebooks one kernel process runs before it is replaced (1: a fresh kernel
    for every notebook, as ``iro-report build`` does). The kernel's own start-up output goes to a
    log file, shown when it fails.
    """

    def __init__(self, reuse: int = 1, preload: tuple[str, ...] = (), helper: bool = False) -> None:
        self.reuse = max(1, reuse)
        self.preload = preload  # modules the kernel imports as it starts, before it answers (no names bound)
        self.helper = helper  # whether the notebook may fork helpers to share its work (report/helper.py)
        self.runs = 0  # notebooks run by the current kernel process
        self.started = 0  # kernel processes started so far
        self._km = self._kc = None
        self._ready = False
        fd, log = tempfile.mkstemp(prefix="iro-kernel-", suffix=".log")
        os.close(fd)
        self._log = Path(log)
        self._home = os.getcwd()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop()
        self._log.unlink(missing_ok=True)

    def launch(self) -> None:
        """Start the kernel process now without waiting for it, so that the caller's own work overlaps
        its start-up (a no-op when a kernel is running and may run another notebook)."""
        if self._km is None or self.runs >= self.reuse:
            self._restart()

    def run(self, nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
        """Execute ``nb`` in place with ``cwd`` as the working folder. A cell that fails on bad input
        raises that error as the package would have raised it here (a
        :class:`~iro_metrics.errors.FatalDataError` names file, row and column); any other failure
        raises :class:`BuildError` naming the cell."""
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        self.launch()
        client = None
        try:
            self._wait_ready()
            if self.runs:  # a warm kernel: put it back as a fresh one would be
                self._silent(_RESET.format(home=self._home))
            self.runs += 1
            client = NotebookClient(nb, km=self._km, kernel_name=KERNEL_NAME, startup_timeout=START_TIMEOUT)
            client.kc = self._kc  # reuse this kernel's client: nbclient then leaves kernel and client running
            self._silent(f"import os; os.chdir({str(cwd)!r})")
            client.execute()
            # out of the notebook's folder (code run after it uses absolute paths): Windows cannot
            # rename a folder that a process is working in, and the build renames it to publish it
            self._silent(f"import os; os.chdir({self._home!r})")
        except CellExecutionError as e:
            if e.ename == "KeyboardInterrupt":  # Ctrl+C reached the kernel too (on Windows it shares the console)
                self.stop()
                raise KeyboardInterrupt from None
            problem = self._last_error()
            self.stop()  # a failure may leave anything behind: the next notebook gets a new kernel
            if problem is not None:
                raise revive(problem) from None
            cell = next((c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))),
                        None)
            where = f" in cell {cell.execution_count}" if cell is not None else ""
            raise BuildError(f"the appendix notebook failed{where}: {e.ename}: {e.evalue}") from None
        except (DeadKernelError, RuntimeError, TimeoutError) as e:
            if hasattr(client, "_async_cleanup_kernel_future"):
                # Ctrl+C: nbclient's own signal handler shuts the kernel down, and the run then fails as if
                # the kernel had died. It is an interruption, and is told as one.
                self.stop()
                raise KeyboardInterrupt from None
            self._fail(e)
        return nb

    def begin(self, code: str) -> Callable[[], None]:
        """Start running ``code`` (which may use what the last notebook computed) in the kernel, silently,
        and return at once; the function returned waits for it to finish and raises as :meth:`run`
        does (an operating-system error, such as a full disk, as itself)."""
        from jupyter_core.utils import run_sync

        msg_id = self._kc.execute(code, silent=True, store_history=False, allow_stdin=False)

        def wait() -> None:
            try:
                while True:
                    reply = run_sync(self._kc.get_shell_msg)(timeout=AFTER_TIMEOUT)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
            except Exception as e:  # noqa: BLE001 - the kernel died or did not answer in time
                self._fail(e if str(e) else f"no answer within {AFTER_TIMEOUT} s to {code.splitlines()[-1]}")
            if reply["content"]["status"] != "ok":
                content = reply["content"]
                problem = self._last_error()
                self.stop()
                if problem is not None:
                    raise revive(problem)
                # not bad input: a bug in the code run after the notebook; its traceback goes with it
                bug = RuntimeError(f"{content.get('ename')}: {content.get('evalue')} (in the kernel, in "
                                   f"{code.splitlines()[-1]})")
                bug.add_note(_ANSI.sub("", "\n".join(content.get("traceback", []))))
                raise bug

        return wait

    def _fail(self, e: BaseException | str) -> NoReturn:
        self.stop()
        raise KernelError(f"the notebook kernel failed: {e}\n{self._log.read_text(errors='replace')[-2000:]}"
                          ) from None

    def _silent(self, code: str, **expressions: str) -> dict:
        """Run ``code`` in the kernel without output or history, raise if it fails; returns the values
        of ``expressions`` (their text)."""
        from jupyter_core.utils import run_sync

        reply = run_sync(self._kc.execute_interactive)(code, silent=True, store_history=False,
                                                       user_expressions=expressions, timeout=START_TIMEOUT,
                                                       output_hook=lambda _msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
        return {k: v.get("data", {}).get("text/plain") for k, v in reply["content"].get("user_expressions", {}).items()}

    def _last_error(self) -> dict | None:
        """The package (or operating-system) error the kernel last raised, as
        :func:`~iro_metrics.errors.describe` gives it."""
        try:
            text = self._silent("pass", error=_LAST_ERROR)["error"]
            return json.loads(ast.literal_eval(text)) if text else None
        except (RuntimeError, TimeoutError, ValueError, SyntaxError):
            return None

    def _restart(self) -> None:
        """Start a new kernel process (stopping any running one); :meth:`_wait_ready` waits for it."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.stop()
        km = quick_to_stop(AsyncKernelManager)(kernel_name=KERNEL_NAME)
        with open(self._log, "ab") as log:
            run_sync(km.start_kernel)(cwd=self._home, stdout=log, stderr=log, env=helper_env(self.helper),
                                      extra_arguments=[*_ARGUMENTS, *preload_arguments(self.preload)])
        kc = km.client()
        kc.start_channels()
        self._km, self._kc, self.runs, self._ready = km, kc, 0, False
        self.started += 1

    def _wait_ready(self) -> None:
        from jupyter_core.utils import run_sync

        if self._ready:
            return
        try:
            run_sync(self._kc.wait_for_ready)(timeout=START_TIMEOUT)
        except RuntimeError as e:
            self.stop()
            raise KernelError(f"the notebook kernel would not start: {e}\n"
                              f"{self._log.read_text(errors='replace')[-2000:]}") from None
        self._ready = True

    def stop(self) -> None:
        """Stop the kernel process now (a warm kernel starts a new one for its next notebook)."""
        from jupyter_core.utils import run_sync

        if self._kc is not None:
            self._kc.stop_channels()
        if self._km is not None:
            try:
                run_sync(self._km.shutdown_kernel)(now=True)
            except RuntimeError:  # already gone
                pass
            run_sync(self._km.cleanup_resources)()
        self._km = self._kc = None


@cache
def quick_to_stop(manager: type) -> type:
    """A jupyter_client kernel manager class that checks every 10 ms rather than every 100 ms whether a
    stopped kernel has exited: every build (and verify) waits for that at its end (0.115 s to 0.023 s)."""

    class Manager(manager):
        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            await super()._async_wait(pollinterval=min(pollinterval, 0.01))

    return Manager


def helper_env(on: bool) -> dict[str, str]:
    """A kernel's environment: this process's, with helpers (report/helper.py) on or off; a user's
    ``IRO_METRICS_HELPER=0`` keeps them off."""
    from iro_metrics.report.helper import ENV

    return {**os.environ, ENV: "1" if on and os.environ.get(ENV) != "0" else "0"}


def preload_arguments(modules: tuple[str, ...]) -> list[str]:
    """The kernel's start-up lines importing ``modules``: run before it first answers, so the imports
    overlap whatever its caller does meanwhile; they bind no name and count no execution."""
    if not modules:
        return []
    line = ("import importlib as _iro_preload; " + "; ".join(f"_iro_preload.import_module({m!r})" for m in modules)
            + "; del _iro_preload")
    return [f"--IPKernelApp.exec_lines={[line]!r}"]


def reset_state(home: str) -> None:
    """Inside a warm kernel, between two notebooks: put it back as a fresh kernel would be. IPython's
    own reset with a new session clears the variables, the output history and the cell counter; the
    rest is what a notebook may change outside its variables: open figures, matplotlib and pandas
    settings, the working folder."""
    import gc
    import sys

    from IPython import get_ipython

    get_ipython().reset(new_session=True)
    if "iro_metrics.report.helper" in sys.modules:
        sys.modules["iro_metrics.report.helper"].stop()
    if "matplotlib" in sys.modules:
        import matplotlib

        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
        matplotlib.rc_file_defaults()
    if "pandas" in sys.modules:
        sys.modules["pandas"].reset_option("all")
    os.chdir(home)
    gc.collect()


def execute(template: Path, out: Path, parameters: dict, kernel: Kernel | None = None) -> nbformat.NotebookNode:
    """Parameterise ``template`` (papermill's injected cell) and run it in ``out``'s folder on ``kernel``
    (a fresh one when None); returns it tidied so that the same inputs give the same notebook."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(template)), parameters)
    if kernel is None:
        with Kernel() as fresh:
            fresh.run(nb, out.parent)
    else:
        kernel.run(nb, out.parent)
    tidy(nb)
    return nb


INJECTED = "injected-parameters"  # the cell papermill adds with the council's parameters


def tidy(nb: nbformat.NotebookNode) -> None:
    """Strip run times and papermill's random cell id and bookkeeping, in place; lock and fold the
    injected parameters like every other code cell, so an officer cannot break them in JupyterLab."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if INJECTED in cell.metadata.get("tags", []):
            cell["id"] = INJECTED  # papermill gives it a random id
            cell.metadata.update({"jupyter": {"source_hidden": True}, "editable": False, "deletable": False})


def replay(template: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """``template`` (with this build's commentary) carrying the outputs of ``executed``, a previous run
    of the same code with the same parameters: the notebook executing it again would give, without a
    kernel. None when that cannot be sure: a code cell missing or changed, or any cell run again (in
    JupyterLab) after the build, which its execution count shows."""
    done = {c.get("id"): c for c in executed.cells if c.cell_type == "code"}
    if INJECTED not in done:
        return None
    cells = []
    for cell in template.cells:
        if cell.cell_type != "code":
            cells.append(copy.deepcopy(cell))
            continue
        old = done.get(cell.get("id"))
        if old is None or old.source != cell.source:
            return None
        new = copy.deepcopy(cell)
        new.outputs, new.execution_count = copy.deepcopy(old.outputs), old.execution_count
        cells.append(new)
        if "parameters" in cell.metadata.get("tags", []):
            injected = copy.deepcopy(done[INJECTED])
            injected.metadata = nbformat.from_dict({"tags": [INJECTED]})
            cells.append(injected)
    counts = [c.execution_count for c in cells if c.cell_type == "code"]
    if counts != list(range(1, len(counts) + 1)):
        return None
    for cell in cells:
        cell.metadata.setdefault("tags", [])  # as papermill's loader gives every cell
    nb = copy.deepcopy(template)
    nb.cells = cells
    for key in ("kernelspec", "language_info"):
        if key in executed.metadata:
            nb.metadata[key] = copy.deepcopy(executed.metadata[key])
    tidy(nb)
    return nb

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

import copy

import os
import tempfile
from pathlib import Path

import nbformat

from iro_metrics.errors import IroMetricsError

KERNEL_NAME = "python3"
START_TIMEOUT = 60  # seconds for a kernel to start and answer
# a kernel's command history stays in memory: kernels running side by side must not share a file
_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
_RESET = "from iro_metrics.report.kernel import reset_state\nreset_state({home!r})"


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

    def __init__(self, reuse: int = 1) -> None:
        self.reuse = max(1, reuse)
        self.runs = 0  # notebooks run by the current kernel process
        self.started = 0  # kernel processes started so far
        self._km = self._kc = None
        fd, log = tempfile.mkstemp(prefix="iro-kernel-", suffix=".log")
        os.close(fd)
        self._log = Path(log)
        self._home = os.getcwd()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop()
        self._log.unlink(missing_ok=True)

    def run(self, nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
        """Execute ``nb`` in place with ``cwd`` as the working folder; raise :class:`BuildError`
        naming the failing cell."""
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        if self._km is None or self.runs >= self.reuse:
            self._restart()
        self.runs += 1
        client = NotebookClient(nb, km=self._km, kernel_name=KERNEL_NAME, startup_timeout=START_TIMEOUT)
        client.kc = self._kc  # reuse this kernel's client: nbclient then leaves kernel and client running
        try:
            self._silent(f"import os; os.chdir({str(cwd)!r})")
            client.execute()
        except CellExecutionError as e:
            self._stop()  # a failure may leave anything behind: the next notebook gets a new kernel
            cell = next((c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))),
                        None)
            where = f" in cell {cell.execution_count}" if cell is not None else ""
            raise BuildError(f"the appendix notebook failed{where}: {e.ename}: {e.evalue}") from None
        except (DeadKernelError, RuntimeError, TimeoutError) as e:
            self._stop()
            raise KernelError(f"the notebook kernel failed: {e}\n{self._log.read_text(errors='replace')[-2000:]}"
                              ) from None
        if self.runs < self.reuse:
            self._silent(_RESET.format(home=self._home))
        return nb

    def _silent(self, code: str) -> None:
        """Run ``code`` in the kernel without output or history; raise if it fails."""
        from jupyter_core.utils import run_sync

        reply = run_sync(self._kc.execute_interactive)(code, silent=True, store_history=False,
                                                       timeout=START_TIMEOUT, output_hook=lambda _msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")

    def _restart(self) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self._stop()
        km = AsyncKernelManager(kernel_name=KERNEL_NAME)
        with open(self._log, "ab") as log:
            run_sync(km.start_kernel)(cwd=self._home, stdout=log, stderr=log, extra_arguments=_ARGUMENTS)
        kc = km.client()
        kc.start_channels()
        try:
            run_sync(kc.wait_for_ready)(timeout=START_TIMEOUT)
        except RuntimeError as e:
            self._km, self._kc = km, kc
            self._stop()
            raise KernelError(f"the notebook kernel would not start: {e}\n"
                              f"{self._log.read_text(errors='replace')[-2000:]}") from None
        self._km, self._kc, self.runs = km, kc, 0
        self.started += 1

    def _stop(self) -> None:
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


def reset_state(home: str) -> None:
    """Inside a warm kernel, between two notebooks: put it back as a fresh kernel would be. IPython's
    own reset with a new session clears the variables, the output history and the cell counter; the
    rest is what a notebook may change outside its variables: open figures, matplotlib and pandas
    settings, the working folder."""
    import gc
    import sys

    from IPython import get_ipython

    get_ipython().reset(new_session=True)
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
    """Parameterise ``template`` (papermill's injected cell), run it in ``out``'s folder on ``kernel``
    (a fresh one when None) and write it to ``out``, tidied so that the same inputs give the same file."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(template)), parameters)
    if kernel is None:
        with Kernel() as fresh:
            fresh.run(nb, out.parent)
    else:
        kernel.run(nb, out.parent)
    tidy(nb)
    nbformat.write(nb, out)
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

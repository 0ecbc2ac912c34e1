"""Run ``iro-report build`` in a forked child with a fault injected at the K-th line executed in the
build and publication code (and shutil, whose rmtree runs inside the swap): the child is killed with
SIGKILL there, or an OSError (disk full) is raised there. Forking after the imports keeps each run
cheap, so a test can afford many.

The kernel, the notebook, HTML and PDF steps are replaced by cheap stand-ins that write files: what is
tested is how the outputs are put in place, not what they hold.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from iro_metrics.cli import main as cli
from iro_metrics.report import build as B
from iro_metrics.report import publication

WATCHED = {B.__file__, publication.__file__, shutil.__file__}


@dataclass
class Outcome:
    status: int  # exit code, or minus the signal that ended the child
    lines: int  # lines executed (when the build ran to its end)
    stderr: str


def _fake_execute(template: Path, out: Path, parameters: dict, kernel=None) -> nbformat.NotebookNode:
    """The notebook as run, and what its kernel writes after it: metrics.json and the tables."""
    nb = nbformat.read(template, as_version=4)
    nbformat.write(nb, out)
    (out.parent / "metrics.json").write_text('{"indicators": {}}\n')
    (out.parent / "tables").mkdir()
    (out.parent / "tables" / "cla_by_age.csv").write_text("age,children\n")
    for name in ("tables.xlsx", "tables.ods"):
        (out.parent / name).write_bytes(b"PK stand-in")
    return nb


class _FakeKernel:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def launch(self) -> None:
        pass

    def begin(self, code: str):
        return lambda: None


def _fake_pdf(page: str, out: Path, title: str, when, **_) -> None:
    out.write_bytes(b"%PDF-1.7\n" + page.encode())


def _child(params: Path, outputs: Path, action: str | None, at: int, report: Path) -> int:
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
            if count == at:
                if action == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename in WATCHED else None

    real_build = B.build

    def traced_build(*args, **kwargs):  # counted from the build's first line
        sys.settrace(tracer)
        try:
            return real_build(*args, **kwargs)
        finally:
            sys.settrace(None)

    B.build, B.execute, B.to_pdf, B.Kernel = traced_build, _fake_execute, _fake_pdf, _FakeKernel
    B.to_html = lambda nb, title, draft=True: f"<html><title>{title}</title>{len(nb.cells)} cells</html>"
    code = cli(["build", str(params), "--outputs", str(outputs)])
    report.with_suffix(".lines").write_text(str(count))
    return code


def run(params: Path, outputs: Path, action: str | None = None, at: int = -1) -> Outcome:
    """One build; ``action`` "kill" or "fail" at the ``at``-th line, or None for a clean run."""
    report = outputs.parent / f".fault-{os.getpid()}.log"
    report.with_suffix(".lines").unlink(missing_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test runner
        code = 70
        try:
            fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            os.dup2(fd, 1)
            code = _child(params, outputs, action, at, report)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    lines_file = report.with_suffix(".lines")
    lines = int(lines_file.read_text()) if lines_file.exists() else -1
    return Outcome(os.waitstatus_to_exitcode(status), lines, report.read_text())

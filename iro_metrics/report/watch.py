"""``iro-report build --watch``: build a council's outputs, then build them again each time an officer
saves the commentary file (or the params file), until Ctrl+C.

An officer keeps the page open in a browser and refreshes it after saving. The process stays running,
so a rebuild after a commentary edit pays no start-up: no Python to start, nothing to import, the page
and PDF renderers already warm (about a second for the 450-child synthetic council; ``benchmarks/``).
Each rebuild is an ordinary :func:`~iro_metrics.report.build.build`: it reuses the executed notebook
when only the commentary changed and runs it again otherwise, takes the folder's lock, and refuses
(leaving the last outputs as they were) exactly as the command would. A refusal, such as a mistyped
quote or a section the file lacks, is reported and the watch goes on: the officer fixes the file and
saves again.

A save counts only when the file's content changed, so an editor that saves twice, or a build that
writes the commentary skeleton, does not start another build.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from iro_metrics.errors import IroMetricsError, os_error_message
from iro_metrics.report.commentary import commentary_path
from iro_metrics.report.params import ParamsError

#: milliseconds to wait for an editor's save to finish (several writes, or a write and a rename)
SETTLE = 50


def watched(params_path: Path) -> list[Path]:
    """The files whose saving starts a rebuild: the params file and its commentary file."""
    return [params_path.resolve(), commentary_path(params_path).resolve()]


def watch(params_path: str | Path, build: Callable[[Path], Path], report: Callable[[str], None],
          explain: Callable[[Exception], str] = str, stop=None) -> None:
    """Build ``params_path``'s outputs, then again after each saved change to :func:`watched` files,
    until Ctrl+C or ``stop`` (an object with ``is_set()``, such as a :class:`threading.Event`) is set.
    ``build`` builds one params file and returns the outputs folder; ``report`` receives a line after
    each build, or the reason it was refused (``explain`` words an error as the command line does);
    a bug is raised, and so is a params file that does not exist."""
    import watchfiles

    params_path = Path(params_path)
    if not params_path.is_file():  # nothing to watch: a mistyped path fails as build fails
        raise ParamsError(params_path, ["no such file"])
    files = watched(params_path)
    wanted = {str(f) for f in files}
    with _ctrl_c() as interrupted:
        try:
            seen = _settled(params_path, files, build, report, explain, interrupted)
            if not interrupted.is_set():
                report(f"watching {', '.join(str(f) for f in files)} (Ctrl+C to stop)")
                for _ in watchfiles.watch(*sorted({f.parent for f in files}), stop_event=stop, recursive=False,
                                          watch_filter=lambda _change, path: str(Path(path).resolve()) in wanted,
                                          step=SETTLE, raise_interrupt=False):
                    now = _contents(files)
                    if now == seen:  # saved without a change, or only touched
                        continue
                    seen = _settled(params_path, files, build, report, explain, interrupted)
                    if interrupted.is_set():
                        break
        except KeyboardInterrupt:  # between builds (a build's own interruption is reported by _once)
            pass
    report("stopped watching")


@contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """An event set by Ctrl+C, which still interrupts as usual. A build turns the interruption into
    other errors on its way out (the kernel it was running died), so the watch asks this instead."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # only the main thread has signals
        yield interrupted
        return

    def on_interrupt(signum, frame):
        interrupted.set()
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _settled(params_path: Path, files: list[Path], build: Callable[[Path], Path], report: Callable[[str], None],
             explain: Callable[[Exception], str], interrupted: threading.Event) -> dict[Path, str | None]:
    """Build, and again while the files changed during the build (a save while it ran, or the skeleton it
    wrote); returns their contents as the last build read them."""
    while True:
        before = _contents(files)
        _once(params_path, build, report, explain, interrupted)
        if interrupted.is_set() or _contents(files) == before:
            return before


def _once(params_path: Path, build: Callable[[Path], Path], report: Callable[[str], None],
          explain: Callable[[Exception], str], interrupted: threading.Event) -> None:
    start = time.perf_counter()
    try:
        target = build(params_path)
    except (IroMetricsError, OSError, KeyboardInterrupt) as e:
        if interrupted.is_set() or isinstance(e, KeyboardInterrupt):
            interrupted.set()
            report("build interrupted: the last outputs are as they were")
        elif isinstance(e, OSError):
            report(f"not rebuilt: {os_error_message(e)}")
        else:
            report(f"not rebuilt: {explain(e)}\n(the last outputs are as they were; fix the file and save it again)")
    else:
        report(f"wrote {target}/ in {time.perf_counter() - start:.1f} s")


def _contents(files: list[Path]) -> dict[Path, str | None]:
    """The SHA-256 of each file (None while it is missing: mid-save, or moved away)."""
    out = {}
    for f in files:
        try:
            out[f] = hashlib.sha256(f.read_bytes()).hexdigest()
        except OSError:
            out[f] = None
    return out

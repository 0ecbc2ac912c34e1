"""``iro-report build --watch``: build a council's outputs, then build them again each time an officer
saves the commentary file (or the params file), until Ctrl+C.

An officer keeps the page open in a browser and refreshes it after saving. The process stays running,
so a rebuild after a commentary edit pays no start-up: no Python to start, nothing to import, the page
and PDF renderers already warm (under a second for the 450-child synthetic council; ``benchmarks/``).
Each rebuild is an ordinary :func:`~iro_metrics.report.build.build`: it reuses the executed notebook
when only the commentary changed and runs it again otherwise, takes the folder's lock, and refuses
(leaving the last outputs as they were) exactly as the command would. A refusal, such as a mistyped
quote or a section the file lacks, is reported and the watch goes on: the officer fixes the file and
saves again.

A save counts only when the file's content changed, so an editor that saves twice does not start
another build. A save made while a build runs is built next. The files are also compared every
second, so a save is noticed on a network drive that sends no change notifications.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from iro_metrics.errors import IroMetricsError, os_error_message
from iro_metrics.report.commentary import commentary_path
from iro_metrics.report.frame import expecting_edits
from iro_metrics.report.params import load_params
from iro_metrics.shipped import sha256_file

#: milliseconds to wait for an editor's save to finish (several writes, or a write and a rename)
SETTLE = 50
#: milliseconds between two comparisons of the files when no change was notified
CHECK = 1000
#: milliseconds the file watcher waits for a change before handing back; the first hand-back shows it
#: running, and only then does the watch say it is watching (a save from then on is seen at once)
WAKE = 100


def watched(params_path: Path) -> list[Path]:
    """The files whose saving starts a rebuild: the params file and its commentary file."""
    return [params_path.resolve(), commentary_path(params_path).resolve()]


def watch(params_path: str | Path, build: Callable[[Path], Path], report: Callable[[str], None],
          explain: Callable[[Exception], str] = str, stop=None) -> None:
    """Build ``params_path``'s outputs, then again after each saved change to :func:`watched` files,
    until Ctrl+C or ``stop`` (an object with ``is_set()``, such as a :class:`threading.Event`) is set.
    ``build`` builds one params file and returns the outputs folder; ``report`` receives a line after
    each build, or the reason it was refused (``explain`` words an error as the command line does);
    a bug is raised, and so is a params file that cannot be used at the start. Ctrl+C during a build
    abandons it (the last outputs stay) and ends the watch."""
    import watchfiles

    params_path = Path(params_path)
    load_params(params_path)  # a mistyped path, or not a params file: fails at once, as build fails
    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its own note on Ctrl+C; ours follows
    files = watched(params_path)
    wanted = {str(f) for f in files}
    # the PDF's and the Word paper's frames are proven after the first build, so that the first save finds them so
    with expecting_edits():
        try:
            seen = _settled(params_path, files, build, report, explain)
            announce, compared = f"watching {', '.join(str(f) for f in files)} (Ctrl+C to stop)", 0.0
            for changes in watchfiles.watch(*sorted({f.parent for f in files}), stop_event=stop, recursive=False,
                                            watch_filter=lambda _change, path: str(Path(path).resolve()) in wanted,
                                            step=SETTLE, rust_timeout=WAKE, yield_on_timeout=True,
                                            raise_interrupt=False):
                if announce:  # the watcher is running (a save made before it started is compared below)
                    report(announce)
                    announce = None
                elif not changes and time.monotonic() - compared < CHECK / 1000:
                    continue
                compared = time.monotonic()
                if _contents(files) != seen:  # not a save that changed nothing, nor the every-second check
                    seen = _settled(params_path, files, build, report, explain)
        except KeyboardInterrupt:
            pass
    report("stopped watching")


def _settled(params_path: Path, files: list[Path], build: Callable[[Path], Path], report: Callable[[str], None],
             explain: Callable[[Exception], str]) -> dict[Path, str | None]:
    """Build, and again while the files changed during the build (a save while it ran); returns their
    contents as the last build read them. The commentary skeleton a first build writes is no change."""
    while True:
        before = _contents(files)
        _once(params_path, build, report, explain)
        after = _contents(files)
        if after == before or (before[files[1]] is None and after[files[0]] == before[files[0]]):
            return after


def _once(params_path: Path, build: Callable[[Path], Path], report: Callable[[str], None],
          explain: Callable[[Exception], str]) -> None:
    start = time.perf_counter()
    try:
        target = build(params_path)
    except KeyboardInterrupt:
        report("build interrupted: the last outputs are as they were")
        raise
    except OSError as e:
        report(f"not rebuilt: {os_error_message(e)}")
    except IroMetricsError as e:
        report(f"not rebuilt: {explain(e)}\n(the last outputs are as they were; still watching)")
    else:
        report(f"wrote {target}/ in {time.perf_counter() - start:.1f} s")


def _contents(files: list[Path]) -> dict[Path, str | None]:
    """The SHA-256 of each file (None while it is missing: mid-save, or moved away)."""
    out = {}
    for f in files:
        try:
            out[f] = sha256_file(f)
        except OSError:
            out[f] = None
    return out

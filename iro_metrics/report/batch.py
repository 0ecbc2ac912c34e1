"""``iro-report build-all``: many councils and years, in parallel, skipping what has not changed.

Each worker (a local process, or a thread of a Dask worker with ``--scheduler``) keeps a warm
notebook kernel for the builds it runs (``report/kernel.py``). A build writes ``build.json`` beside
its outputs (``report/manifest.py``): the fingerprint of everything the outputs depend on. A
council-year whose fingerprint is unchanged is skipped; ``force`` rebuilds. One council's failure
does not stop the others: its reason goes in the summary and its log beside its outputs.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from iro_metrics.errors import FatalDataError, UsageError, os_error_message
from iro_metrics.report.build import NOTEBOOK, build, failure_log, output_dir
from iro_metrics.report.commentary import CommentaryError
from iro_metrics.report.kernel import PRELOAD, Kernel, KernelError
from iro_metrics.report.manifest import MANIFEST, manifest
from iro_metrics.report.params import Params, ParamsError, load_params

@dataclass
class Result:
    params: Path
    council: str
    year: str
    status: str  # "built", "skipped" or "failed"
    seconds: float
    reason: str = ""


def up_to_date(params_path: Path, params: Params, outputs: Path) -> bool:
    recorded = output_dir(outputs, params.slug, params.year) / MANIFEST
    if not recorded.exists():
        return False
    return json.loads(recorded.read_text(encoding="utf-8")).get("fingerprint") == \
        manifest(params_path, NOTEBOOK)["fingerprint"]


#: notebooks a worker's warm kernel runs before it is replaced (it is also replaced after any failure)
KERNEL_REUSE = 20
_local = threading.local()  # one warm kernel per worker thread (a Dask worker may run several)
_kernels: list[Kernel] = []


def worker_kernel() -> Kernel:
    """This worker thread's warm kernel, started on first use."""
    kernel = getattr(_local, "kernel", None)
    if kernel is None or kernel not in _kernels:
        kernel = _local.kernel = Kernel(reuse=KERNEL_REUSE, preload=PRELOAD)
        _kernels.append(kernel)
    return kernel


def close_kernels() -> None:
    """Stop every warm kernel of this process (done at exit; a worker's kernels die with it anyway)."""
    while _kernels:
        _kernels.pop().close()


atexit.register(close_kernels)


def build_one(params_path: Path, outputs: Path) -> tuple[str, float, str, str]:
    """In a worker: build on the worker's warm kernel, retrying once on a fresh kernel if the kernel
    failed (ports can race between workers starting kernels). Returns (status, seconds, reason,
    detail): the outcome travels back as text, never as an exception."""
    start = time.perf_counter()
    for attempt in (1, 2):
        try:
            build(params_path, outputs=outputs, kernel=worker_kernel())
            return "built", time.perf_counter() - start, "", ""
        except KernelError as e:
            if attempt == 1:
                continue
            error = e
        except Exception as e:  # noqa: BLE001 - reported in the summary and the log
            error = e
        break
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, FatalDataError):
        reason = f"the data cannot be used: {error.problems[0]}" + (
            f" (and {len(error.problems) - 1} more)" if len(error.problems) > 1 else "")
    elif isinstance(error, ParamsError):
        reason = _params_reason(error)
    # the log: the message alone for the user's own input (it says what to fix), a traceback for anything else
    detail = f"{error}\n" if isinstance(error, USERS_OWN) else "".join(traceback.format_exception(error))
    return "failed", time.perf_counter() - start, reason, detail


#: errors in the council's own files (its data, params and commentary), each saying what to fix
USERS_OWN = (FatalDataError, UsageError, ParamsError, CommentaryError)


def _params_reason(error: ParamsError) -> str:
    return " ".join(f"the params file cannot be used: {'; '.join(error.problems)}".split())  # on one line


@dataclass
class Progress:
    done: int
    total: int
    failed: int
    last: Result
    seconds_left: float


def build_all(params: Iterable[str | Path], outputs: str | Path = "outputs", workers: int = 2, force: bool = False,
              scheduler: str | None = None, progress: Callable[[Progress], None] | None = None) -> list[Result]:
    """Build every params file (skipping unchanged ones unless ``force``); one failure stops no other.

    The builds run in ``workers`` local processes, each with a warm kernel, or, with ``scheduler``
    (``tcp://HOST:PORT`` or ``dask://HOST:PORT``), on that Dask cluster's workers, which must see the
    same paths (shared storage) and have the same environment.
    """
    outputs = Path(outputs).resolve()
    todo, results = [], []
    for p in map(Path, params):
        try:
            params_obj, _ = load_params(p)
        except (ParamsError, OSError) as e:  # this council-year fails; the others are built
            reason = _params_reason(e) if isinstance(e, ParamsError) else \
                f"the params file cannot be read: {os_error_message(e)}"
            results.append(Result(p, str(p), p.stem, "failed", 0.0, reason))
            continue
        if not force and up_to_date(p, params_obj, outputs):
            results.append(Result(p, params_obj.council, params_obj.year, "skipped", 0.0))
            # its outputs are those of its inputs: a failed build's log from meanwhile is out of date
            failure_log(output_dir(outputs, params_obj.slug, params_obj.year)).unlink(missing_ok=True)
        else:
            todo.append((p, params_obj))
    started = time.perf_counter()
    failed = 0
    with _runner(workers, scheduler) as submit:
        for done, ((p, obj), finished) in enumerate(submit(build_one, [(p.resolve(), outputs) for p, _ in todo], todo), 1):
            status, seconds, reason, detail = finished
            log = failure_log(output_dir(outputs, obj.slug, obj.year))
            results.append(Result(p, obj.council, obj.year, status, seconds, reason))
            if status == "failed":
                failed += 1
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(detail, encoding="utf-8")
            else:
                log.unlink(missing_ok=True)
            if progress:
                elapsed = time.perf_counter() - started
                progress(Progress(done, len(todo), failed, results[-1], elapsed / done * (len(todo) - done)))
    return sorted(results, key=lambda r: (r.council, r.year))


def outcome(future) -> tuple[str, float, str, str]:
    """A finished job's result; a worker that died (out of memory, killed) is that job's failure."""
    try:
        return future.result()
    except Exception as e:  # noqa: BLE001 - reported in the summary and the log
        return "failed", 0.0, f"the worker running it failed: {e or type(e).__name__}", \
            "".join(traceback.format_exception(e))


@contextlib.contextmanager
def _runner(workers: int, scheduler: str | None):
    """A ``submit(fn, args_list, tags)`` that yields ``(tag, fn(*args))`` as each job finishes."""
    if scheduler:
        from iro_metrics.report.cluster import connect

        with connect(scheduler) as submit:
            yield submit
        return
    # spawned, not forked: forking a process that already runs threads (a test runner, a kernel
    # client) can deadlock, and spawn is what Windows does anyway
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        def submit(fn, jobs, tags):
            futures = {pool.submit(fn, *args): tag for args, tag in zip(jobs, tags)}
            for future in as_completed(futures):
                yield futures[future], outcome(future)
        yield submit


def summary(results: list[Result]) -> str:
    width = max([len(r.council) for r in results] + [7])
    lines = [f"{'council':<{width}}  year     status   seconds  reason"]
    for r in results:
        lines.append(f"{r.council:<{width}}  {r.year}  {r.status:<7}  {r.seconds:7.1f}  {r.reason}")
    counts = {s: sum(r.status == s for r in results) for s in ("built", "skipped", "failed")}
    lines.append(f"{counts['built']} built, {counts['skipped']} unchanged (skipped), {counts['failed']} failed")
    return "\n".join(lines)

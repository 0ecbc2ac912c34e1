"""``iro-report build-all``: many councils and years, in parallel, skipping what has not changed.

A build writes ``build.json`` beside its outputs (``report/manifest.py``): the fingerprint of
everything the outputs depend on. A council-year whose fingerprint is unchanged is skipped; ``force`` rebuilds. One council's failure
does not stop the others: its reason goes in the summary and its log beside its outputs.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from iro_metrics.errors import FatalDataError
from iro_metrics.report.build import NOTEBOOK, build, output_dir
from iro_metrics.report.manifest import MANIFEST, manifest
from iro_metrics.report.params import load_params

@dataclass
class Result:
    params: Path
    council: str
    year: str
    status: str  # "built", "skipped" or "failed"
    seconds: float
    reason: str = ""


def up_to_date(params_path: Path, outputs: Path) -> bool:
    params, _ = load_params(params_path)
    recorded = output_dir(outputs, params.slug, params.year) / MANIFEST
    if not recorded.exists():
        return False
    return json.loads(recorded.read_text(encoding="utf-8")).get("fingerprint") == \
        manifest(params_path, NOTEBOOK)["fingerprint"]


def _build_one(params_path: Path, outputs: Path) -> tuple[str, float, str, str]:
    """In a worker: build, retrying once if the kernel could not start (ports raced between workers).
    Returns (status, seconds, reason, detail): the outcome travels back as text, never as an exception."""
    start = time.perf_counter()
    for attempt in (1, 2):
        try:
            build(params_path, outputs=outputs)
            return "built", time.perf_counter() - start, "", ""
        except RuntimeError as e:
            if attempt == 1 and "kernel" in str(e).lower():
                continue
            error = e
        except Exception as e:  # noqa: BLE001 - reported in the summary and the log
            error = e
        break
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, FatalDataError):
        reason = f"the data cannot be used: {error.problems[0]}" + (
            f" (and {len(error.problems) - 1} more)" if len(error.problems) > 1 else "")
    return "failed", time.perf_counter() - start, reason, "".join(traceback.format_exception(error))


def build_all(params: Iterable[str | Path], outputs: str | Path = "outputs", workers: int = 2, force: bool = False,
              progress: Callable[[str], None] | None = None) -> list[Result]:
    """Build every params file (skipping unchanged ones unless ``force``); one failure stops no other."""
    outputs = Path(outputs)
    todo, results = [], []
    for p in map(Path, params):
        params_obj, _ = load_params(p)
        if not force and up_to_date(p, outputs):
            results.append(Result(p, params_obj.council, params_obj.year, "skipped", 0.0))
        else:
            todo.append((p, params_obj))
    started = time.perf_counter()
    say = progress or (lambda _line: None)
    # spawned, not forked: forking a process that already runs threads (a test runner, a kernel
    # client) can deadlock, and spawn is what Windows does anyway
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_build_one, p, outputs): (p, obj) for p, obj in todo}
        done = failed = 0
        for future in as_completed(futures):
            p, obj = futures[future]
            log = output_dir(outputs, obj.slug, obj.year).with_suffix(".build.log")
            status, seconds, reason, detail = future.result()
            results.append(Result(p, obj.council, obj.year, status, seconds, reason))
            if status == "failed":
                failed += 1
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(detail, encoding="utf-8")
            else:
                log.unlink(missing_ok=True)
            done += 1
            elapsed = time.perf_counter() - started
            left = elapsed / done * (len(todo) - done)
            say(f"[{done}/{len(todo)}] {obj.council} {obj.year}: {results[-1].status}"
                f"{f' ({failed} failed)' if failed else ''}; about {left:.0f} s left")
    return sorted(results, key=lambda r: (r.council, r.year))


def summary(results: list[Result]) -> str:
    width = max([len(r.council) for r in results] + [7])
    lines = [f"{'council':<{width}}  year     status   seconds  reason"]
    for r in results:
        lines.append(f"{r.council:<{width}}  {r.year}  {r.status:<7}  {r.seconds:7.1f}  {r.reason}")
    counts = {s: sum(r.status == s for r in results) for s in ("built", "skipped", "failed")}
    lines.append(f"{counts['built']} built, {counts['skipped']} unchanged (skipped), {counts['failed']} failed")
    return "\n".join(lines)

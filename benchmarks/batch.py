"""Batch builds: many synthetic councils, full outputs, against a naive loop run side by side.

    python benchmarks/batch.py                  # 150 councils x 1 year (about an hour with the baseline)
    python benchmarks/batch.py --councils 6     # a smoke test

Three measurements, one after the other on the same councils and the same machine:

* **build-all**: ``iro-report build-all --workers N --force`` (warm kernel per worker process);
* **baseline**: what an analyst would script without it, a loop over the councils of separate
  commands: the ``papermill`` CLI, then ``jupyter nbconvert --to html``, then the PDF by the same
  pandoc -> Typst route in its own process (nbconvert's own PDF needs TeX or a browser; neither is
  installable from pip alone), then ``iro-report metrics`` and ``iro-report publish`` for the
  machine-readable figures and tables;
* **Dask**: ``build-all --scheduler`` on a ``LocalCluster`` with 1 and then 2 single-threaded
  worker processes, on the first ``--dask-councils`` councils (scaling, not absolute speed).

Wall time, and peak memory as the largest sum of the resident memory of the process tree (sampled
every 0.2 s: kernels included). Results go to ``benchmarks/results/batch-<councils>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
YEAR = "2024-25"
BIN = Path(sys.executable).parent


def measure(fn) -> dict:
    """Wall time of ``fn()`` and the peak summed RSS of this process and its descendants."""
    me, peak, done = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], total)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    try:
        extra = fn() or {}
    finally:
        wall = time.perf_counter() - t
        done.set()
        sampler.join()
    return {"wall_s": round(wall, 1), "peak_mb": round(peak[0] / 2**20), **extra}


def run(cmd: list[str], **kw) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def ours(params: list[Path], out: Path, workers: int) -> dict:
    run([str(BIN / "iro-report"), "build-all", *map(str, params), "--outputs", str(out), "--workers", str(workers),
         "--force"])
    return {"pdfs": len(list(out.glob(f"*/{YEAR}/appendix.pdf")))}


_PDF = """
import sys, datetime as dt, nbformat
from pathlib import Path
from iro_metrics.report.render import to_html, to_pdf
nb = nbformat.read(sys.argv[1], as_version=4)
to_pdf(to_html(nb, sys.argv[2]), Path(sys.argv[3]), sys.argv[2], when=dt.date(2025, 3, 31))
"""


def baseline(params: list[Path], out: Path) -> dict:
    """The naive loop: one command after another, one council after another."""
    import yaml

    for p in params:
        values = yaml.safe_load(p.read_text())
        data = (p.parent / values["data"]).resolve()
        folder = out / p.parent.name / YEAR
        folder.mkdir(parents=True)
        nb = folder / "appendix.ipynb"
        run([str(BIN / "papermill"), str(ROOT / "notebooks" / "appendix.ipynb"), str(nb), "--cwd", str(folder),
             "-k", "python3", "-r", "council", values["council"], "-r", "year", YEAR, "-r", "data", str(data)])
        run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb)])
        run([sys.executable, "-c", _PDF, str(nb), values["council"], str(folder / "appendix.pdf")])
        with open(folder / "metrics.json", "w") as f:
            subprocess.run([str(BIN / "iro-report"), "metrics", "--data", str(data), "--year", YEAR,
                            "--council", values["council"]], check=True, stdout=f, stderr=subprocess.DEVNULL)
        run([str(BIN / "iro-report"), "publish", "--data", str(data), "--year", YEAR, "--out", str(folder / "tables")])
    return {"pdfs": len(list(out.glob(f"*/{YEAR}/appendix.pdf")))}


def dask(params: list[Path], out: Path, workers: int) -> dict:
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run([str(BIN / "iro-report"), "build-all", *map(str, params), "--outputs", str(out), "--force",
             "--scheduler", cluster.scheduler_address])
    return {"pdfs": len(list(out.glob(f"*/{YEAR}/appendix.pdf")))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--councils", type=int, default=150)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dask-councils", type=int, default=40, metavar="N")
    ap.add_argument("--data", type=Path, help="reuse councils written by `iro-report synth --councils K`")
    ap.add_argument("--skip", nargs="*", default=[], choices=["ours", "baseline", "dask"])
    a = ap.parse_args()

    from iro_metrics.report.params import scaffold
    from iro_metrics.synth import SynthConfig, write_councils

    tmp = Path(tempfile.mkdtemp(prefix="iro-batch-bench-"))
    data = a.data or tmp / "data"
    if not a.data:
        write_councils(data, SynthConfig(), councils=a.councils)
    params = sorted(path for path, _ in scaffold(data, YEAR, out=tmp / "params"))[:a.councils]
    results: dict = {"councils": len(params), "workers": a.workers, "cpus": os.cpu_count(),
                     "python": platform.python_version(), "machine": platform.machine()}
    steps = {"ours": lambda: ours(params, tmp / "ours", a.workers),
             "baseline": lambda: baseline(params, tmp / "baseline"),
             "dask_1": lambda: dask(params[:a.dask_councils], tmp / "dask1", 1),
             "dask_2": lambda: dask(params[:a.dask_councils], tmp / "dask2", 2)}
    for name, step in steps.items():
        if name.split("_")[0] in a.skip:
            continue
        results[name] = measure(step)
        print(name, results[name], flush=True)
    if "ours" in results and "baseline" in results:
        results["speed_up"] = round(results["baseline"]["wall_s"] / results["ours"]["wall_s"], 2)
    if "dask_1" in results:
        results["dask_councils"] = min(a.dask_councils, len(params))
        results["dask_scaling"] = round(results["dask_1"]["wall_s"] / results["dask_2"]["wall_s"], 2)
    shutil.rmtree(tmp)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"batch-{len(params)}.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

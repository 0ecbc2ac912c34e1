"""An officer's rebuild after editing the commentary, against a cold build of the same council.

    python benchmarks/rebuild.py [--rounds 3]

Each round, in fresh processes run one after the other: `iro-report build` of the 450-child synthetic
council into an empty outputs folder (cold: data read, every figure computed, the notebook executed),
then a sentence added to the commentary file and `iro-report build` again (only the commentary
changed: the last build's figures and executed notebook are reused); then `iro-report build --watch`
left running and the commentary saved five times, each timed from the save to the watch's line
saying the outputs are written (the officer's wait: the median of the five, with their range and the
first, whose build also checks the PDF's reusable frame, `report/pdf_source.py`). Wall clock of each, and the ratios to the cold
build; then one in-process run of each, by part. Goal (issue 20): rebuild <= 0.1x cold.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

YEAR = "2024-25"
CLI = [sys.executable, "-m", "iro_metrics"]


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def _watched(params: Path, out: Path, notes: Path, n: int, saves: int = 5) -> list[float]:
    """Seconds from each save of the commentary to ``build --watch`` reporting the outputs written."""
    proc = subprocess.Popen([*CLI, "build", "--watch", str(params), "--outputs", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        while not proc.stdout.readline().startswith("watching"):
            pass
        times = []
        for k in range(saves):
            t = time.perf_counter()
            _edit(notes, f"{n}.{k}")
            line = proc.stdout.readline()
            times.append(time.perf_counter() - t)
            assert line.startswith("wrote"), line
        return times
    finally:
        proc.terminate()
        proc.wait()


def _edit(notes: Path, n: int | str) -> None:
    text = notes.read_text(encoding="utf-8")
    notes.write_text(text.replace("## reviews\n", f"## reviews\n\nEdit {n}: we held {{{{ reviews_held }}}} reviews.\n",
                                  1), encoding="utf-8")


def synthetic_council(root: Path) -> Path:
    """The 450-child synthetic council's data and params file under ``root``; returns the params file."""
    from iro_metrics.synth import SynthConfig, write_council

    write_council(root / "data", SynthConfig())
    params = root / "params" / "bench" / f"{YEAR}.yaml"
    params.parent.mkdir(parents=True)
    params.write_text(f"council: Bench Borough\nyear: {YEAR}\ndata: {root / 'data'}\npopulation: 52000\n")
    return params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    rounds = ap.parse_args().rounds
    from iro_metrics.report.build import build

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        params = synthetic_council(root)
        notes = params.with_name(f"{YEAR}.commentary.md")
        rows = []
        print("| round | cold build | rebuild (command) | ratio | rebuild (--watch, save to written) | ratio |\n"
              "|---|---|---|---|---|---|")
        for n in range(rounds):
            out = root / f"out{n}"
            cold = _timed([*CLI, "build", str(params), "--outputs", str(out)])
            _edit(notes, n)
            again = _timed([*CLI, "build", str(params), "--outputs", str(out)])
            saves = _watched(params, out, notes, n)
            watched = statistics.median(saves)
            rows.append((cold, again, watched))
            print(f"| {n + 1} | {cold:.2f} s | {again:.2f} s | {again / cold:.2f} | {watched:.2f} s "
                  f"({min(saves):.2f}–{max(saves):.2f}; the first {saves[0]:.2f}) | {watched / cold:.2f} |", flush=True)
        print(f"| **median** | | | **{statistics.median(a / c for c, a, _ in rows):.2f}** | | "
              f"**{statistics.median(w / c for c, _, w in rows):.2f}** |")
        parts: dict[str, dict[str, float]] = {"cold": {}, "commentary only": {}}
        out = root / "in-process"
        build(params, outputs=out, timings=parts["cold"])
        _edit(notes, rounds)
        build(params, outputs=out, timings=parts["commentary only"])
        for name, p in parts.items():
            print(f"{name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in p.items()))


if __name__ == "__main__":
    main()

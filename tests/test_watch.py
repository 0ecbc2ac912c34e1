"""``iro-report build --watch``: a save of the commentary rebuilds; a save that changes nothing does
not; a refused build is reported and the watch goes on; Ctrl+C (here, the stop event) ends it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from iro_metrics.cli import main
from iro_metrics.report.commentary import CommentaryError
from iro_metrics.report.watch import watch


def _until(condition, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def council(folder: Path, words: str) -> tuple[Path, Path]:
    """A params file and its commentary file (the stand-in builds below read no data)."""
    params, notes = folder / "2024-25.yaml", folder / "2024-25.commentary.md"
    params.write_text("council: Test\nyear: 2024-25\ndata: data\n", encoding="utf-8")
    notes.write_text(f"## reviews\n\n{words}\n", encoding="utf-8")
    return params, notes


@contextmanager
def watching(params: Path, build, lines: list[str]):
    """The watch running in a thread until the block ends (its stop event set)."""
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(params, build, lines.append), kwargs={"stop": stop})
    watcher.start()
    try:
        _until(lambda: any(line.startswith("watching") for line in lines))
        yield
    finally:
        stop.set()
        watcher.join(timeout=20)
    assert not watcher.is_alive() and lines[-1] == "stopped watching"


def test_each_saved_change_rebuilds_and_a_refusal_does_not_stop_the_watch(tmp_path):
    params, notes = council(tmp_path, "First words.")
    built, lines = [], []

    def build(path: Path) -> Path:
        text = notes.read_text(encoding="utf-8")
        if "{{ typo }}" in text:
            raise CommentaryError("commentary for section 'reviews', line 3: {{ typo }} is not a figure")
        built.append(text)
        return tmp_path / "outputs"

    with watching(params, build, lines):
        assert built == ["## reviews\n\nFirst words.\n"] and lines[0].startswith(f"wrote {tmp_path / 'outputs'}/ in ")

        notes.write_text("## reviews\n\nSecond words.\n", encoding="utf-8")
        _until(lambda: len(built) == 2)
        notes.write_text("## reviews\n\nSecond words.\n", encoding="utf-8")  # saved again, unchanged
        time.sleep(0.5)  # seen on its own, not with the next save
        notes.write_text("## reviews\n\nWe held {{ typo }} reviews.\n", encoding="utf-8")
        _until(lambda: any(line.startswith("not rebuilt") for line in lines))
        refused = next(line for line in lines if line.startswith("not rebuilt"))
        assert "line 3: {{ typo }} is not a figure" in refused and "the last outputs are as they were" in refused
        assert refused.endswith("still watching)")

        notes.write_text("## reviews\n\nWe held many reviews.\n", encoding="utf-8")  # fixed: the watch went on
        _until(lambda: len(built) == 3)
        params.write_text("council: Test\nyear: 2024-25\ndata: data\npopulation: 1000\n", encoding="utf-8")
        _until(lambda: len(built) == 4)
    assert built[1:] == ["## reviews\n\nSecond words.\n", "## reviews\n\nWe held many reviews.\n",
                         "## reviews\n\nWe held many reviews.\n"]  # the unchanged save built nothing


def test_a_save_the_moment_the_watch_says_watching_is_built_at_once(tmp_path, monkeypatch):
    """"watching" is said once the file watcher runs, and the files are compared then: a save at that
    very moment is built at once, not left to the comparison every second (here never, to tell them
    apart). It was said before the watcher started, so such a save waited up to a second."""
    from iro_metrics.report import watch as W

    monkeypatch.setattr(W, "CHECK", 10 ** 9)
    params, notes = council(tmp_path, "First words.")
    built, lines = [], []

    def report(line: str) -> None:
        lines.append(line)
        if line.startswith("watching"):
            notes.write_text("## reviews\n\nSaved at once.\n", encoding="utf-8")

    def build(path: Path) -> Path:
        built.append(notes.read_text(encoding="utf-8"))
        return tmp_path / "outputs"

    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(params, build, report), kwargs={"stop": stop})
    watcher.start()
    try:
        _until(lambda: len(built) == 2, timeout=10)
    finally:
        stop.set()
        watcher.join(timeout=20)
    assert built[1] == "## reviews\n\nSaved at once.\n"


def test_watch_takes_one_params_file_that_exists(tmp_path, capsys):
    assert main(["build", "--watch", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == 1
    assert capsys.readouterr().err.strip() == "error: --watch takes one params file"
    assert main(["build", "--watch", str(tmp_path / "mistyped" / "2024-25.yaml")]) == 1  # not a watch of nothing
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'mistyped' / '2024-25.yaml'}:\n  no such file"
    notes = tmp_path / "2024-25.commentary.md"  # the commentary file given where the params file goes
    notes.write_text("## reviews\n\nWords.\n", encoding="utf-8")
    assert main(["build", "--watch", str(notes)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {notes}:")


def test_a_save_while_a_build_runs_is_built_after_it(tmp_path):
    params, notes = council(tmp_path, "Before.")
    built, lines = [], []

    def build(path: Path) -> Path:
        built.append(notes.read_text(encoding="utf-8"))
        if len(built) == 1:  # the officer saves while the first build runs, after it read the file
            notes.write_text("## reviews\n\nSaved during the build.\n", encoding="utf-8")
        return tmp_path / "outputs"

    with watching(params, build, lines):
        time.sleep(0.5)  # and nothing more is built for it
    assert built == ["## reviews\n\nBefore.\n", "## reviews\n\nSaved during the build.\n"]


def test_ctrl_c_during_a_build_ends_the_watch_and_says_so(tmp_path):
    # Ctrl+C reaches the build as KeyboardInterrupt (a kernel's run turns nbclient's handling back into it)
    script = ("import os, signal, sys, time\n"
              "from iro_metrics.report.watch import watch\n"
              "calls = []\n"
              "def build(path):\n"
              "    calls.append(path)\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "    time.sleep(5)\n"
              "watch(sys.argv[1], build, print)\n"
              "print(len(calls), 'build')\n")
    params, _ = council(tmp_path, "Words.")
    done = subprocess.run([sys.executable, "-c", script, str(params)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["build interrupted: the last outputs are as they were", "stopped watching",
                                        "1 build"]

"""``iro-report build --watch``: a save of the commentary rebuilds; a save that changes nothing does
not; a refused build is reported and the watch goes on; Ctrl+C (here, the stop event) ends it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from iro_metrics.cli import main
from iro_metrics.report.commentary import CommentaryError
from iro_metrics.report.watch import watch


def _until(condition, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_each_saved_change_rebuilds_and_a_refusal_does_not_stop_the_watch(tmp_path):
    params = tmp_path / "2024-25.yaml"
    params.write_text("council: Test\nyear: 2024-25\ndata: data\n", encoding="utf-8")
    notes = tmp_path / "2024-25.commentary.md"
    notes.write_text("## reviews\n\nFirst words.\n", encoding="utf-8")
    built, lines, stop = [], [], threading.Event()

    def build(path: Path) -> Path:
        text = notes.read_text(encoding="utf-8")
        if "{{ typo }}" in text:
            raise CommentaryError("commentary for section 'reviews', line 3: {{ typo }} is not a figure")
        built.append(text)
        return tmp_path / "outputs"

    watcher = threading.Thread(target=watch, args=(params, build, lines.append), kwargs={"stop": stop})
    watcher.start()
    try:
        _until(lambda: any(line.startswith("watching") for line in lines))
        assert built == ["## reviews\n\nFirst words.\n"] and lines[0].startswith(f"wrote {tmp_path / 'outputs'}/ in ")

        notes.write_text("## reviews\n\nSecond words.\n", encoding="utf-8")
        _until(lambda: len(built) == 2)
        notes.write_text("## reviews\n\nSecond words.\n", encoding="utf-8")  # saved again, unchanged
        time.sleep(0.5)  # seen on its own, not with the next save
        notes.write_text("## reviews\n\nWe held {{ typo }} reviews.\n", encoding="utf-8")
        _until(lambda: any(line.startswith("not rebuilt") for line in lines))
        refused = next(line for line in lines if line.startswith("not rebuilt"))
        assert "line 3: {{ typo }} is not a figure" in refused and "the last outputs are as they were" in refused

        notes.write_text("## reviews\n\nWe held many reviews.\n", encoding="utf-8")  # fixed: the watch went on
        _until(lambda: len(built) == 3)
        params.write_text("council: Test\nyear: 2024-25\ndata: data\npopulation: 1000\n", encoding="utf-8")
        _until(lambda: len(built) == 4)
    finally:
        stop.set()
        watcher.join(timeout=20)
    assert not watcher.is_alive() and lines[-1] == "stopped watching"
    assert built[1:] == ["## reviews\n\nSecond words.\n", "## reviews\n\nWe held many reviews.\n",
                         "## reviews\n\nWe held many reviews.\n"]  # the unchanged save built nothing


def test_watch_takes_one_params_file(tmp_path, capsys):
    assert main(["build", "--watch", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]) == 1
    assert capsys.readouterr().err.strip() == "error: --watch takes one params file"

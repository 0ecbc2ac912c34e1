"""Putting outputs in place: one build of a folder at a time, nothing lost whatever kills or failures
happen, and a clear message when the outputs folder cannot be written."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import fault_build
import pytest

from iro_metrics.report.publication import OutputsError, Publication, previous_of, recover

pytestmark = pytest.mark.build  # builds appendices: not in `make test-quick`

ROOT = Path(__file__).resolve().parents[1]


def checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def publish(target: Path, files: dict[str, str]) -> None:
    with Publication(target) as pub:
        for name, text in files.items():
            (pub.work / name).write_text(text)
        pub.commit()


def test_swap_replaces_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out" / "x" / "2024-25"
    publish(target, {"a.txt": "1"})
    publish(target, {"b.txt": "2"})
    assert checksums(target).keys() == {"b.txt"}
    assert sorted(p.name for p in target.parent.iterdir()) == [".2024-25.lock", "2024-25"]


def test_a_failure_inside_the_block_keeps_the_previous_outputs(tmp_path):
    target = tmp_path / "2024-25"
    publish(target, {"a.txt": "1"})
    with pytest.raises(ValueError), Publication(target) as pub:
        (pub.work / "a.txt").write_text("half")
        raise ValueError("boom")
    assert (target / "a.txt").read_text() == "1" and not list(tmp_path.glob(".2024-25-*"))


def test_killed_between_the_renames_then_repaired(tmp_path):
    """The reported loss: killed after the previous outputs were moved aside, before the new ones were
    moved in; whatever runs next (here a build that fails) puts the previous outputs back first."""
    target = tmp_path / "2024-25"
    publish(target, {"a.txt": "1"})
    os.replace(target, previous_of(target))  # the state a kill inside the swap leaves
    (tmp_path / ".2024-25-scratch").mkdir()
    with pytest.raises(ValueError), Publication(target):
        raise ValueError("a build that fails")
    assert (target / "a.txt").read_text() == "1"
    assert not previous_of(target).exists() and not (tmp_path / ".2024-25-scratch").exists()


def test_a_killed_builds_scratch_is_renamed_before_it_is_removed(tmp_path):
    """What the killed build started (its kernel, pandoc) may still be writing by the scratch folder's
    name: once repaired, that name is gone, so a late write fails instead of recreating the folder."""
    target = tmp_path / "2024-25"
    publish(target, {"a.txt": "1"})
    scratch = tmp_path / ".2024-25-killed"
    (scratch / "tables").mkdir(parents=True)
    late = open(scratch / "tables" / "late.csv", "w")  # a writer that had its file open
    recover(target)
    late.write("x")
    late.close()
    with pytest.raises(FileNotFoundError):
        (scratch / "tables.xlsx").write_text("a write by name, after the repair")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".2024-25-")]


def test_killed_after_the_swap_removes_the_previous_outputs(tmp_path):
    target = tmp_path / "2024-25"
    publish(target, {"a.txt": "old"})
    previous_of(target).mkdir()
    (previous_of(target) / "a.txt").write_text("older")
    recover(target)
    assert (target / "a.txt").read_text() == "old" and not previous_of(target).exists()


def test_a_second_build_of_the_same_folder_refuses_clearly(tmp_path):
    target = tmp_path / "2024-25"
    publish(target, {"a.txt": "1"})
    with Publication(target) as first:
        (first.work / "a.txt").write_text("2")
        with pytest.raises(OutputsError, match="another build of this folder is running.*Nothing was changed"):
            Publication(target).__enter__()
        assert first.work.is_dir()  # the first build's scratch survives the second's attempt
        first.commit()
    assert (target / "a.txt").read_text() == "2"
    publish(target, {"a.txt": "3"})  # the lock is free again


def test_a_build_asked_to_wait_goes_ahead_once_the_other_finishes(tmp_path):
    import threading

    target = tmp_path / "2024-25"
    publish(target, {"a.txt": "1"})
    first = Publication(target).__enter__()
    threading.Timer(0.5, first.__exit__, (None, None, None)).start()  # the other build ends in half a second
    with Publication(target, wait=30) as second:  # as build --watch asks
        (second.work / "a.txt").write_text("2")
        second.commit()
    assert (target / "a.txt").read_text() == "2"


def test_two_processes_building_one_council(tmp_path):
    """A second process is refused while the first holds the lock, with exit 1 and a plain message."""
    target = tmp_path / "out" / "x" / "2024-25"
    target.parent.mkdir(parents=True)
    params = tmp_path / "p" / "2024-25.yaml"
    params.parent.mkdir()
    params.write_text(f"council: X\nyear: 2024-25\ndata: {tmp_path}\n")
    with Publication(target):  # this process holds the lock, as a running build would
        r = subprocess.run([sys.executable, "-m", "iro_metrics", "build", str(params), "--outputs",
                            str(tmp_path / "out")], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 1, r.stderr
    assert "another build of this folder is running" in r.stderr and "internal error" not in r.stderr


def test_outputs_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(OutputsError, match="a file is in the way where a folder is expected"):
        Publication(tmp_path / "out" / "x" / "2024-25").__enter__()
    (tmp_path / "out2" / "x").mkdir(parents=True)
    (tmp_path / "out2" / "x" / "2024-25").write_text("")
    with pytest.raises(OutputsError, match="this is a file, where the outputs folder should be"):
        Publication(tmp_path / "out2" / "x" / "2024-25").__enter__()


@pytest.mark.parametrize("err", [errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EFBIG])
def test_outputs_that_cannot_be_written(tmp_path, monkeypatch, err):
    """Read-only folders, a full disk, a file-size limit: the tests run as root, so the operating
    system's refusal is simulated where the scratch folder is made and where a file is written."""
    target = tmp_path / "2024-25"
    publish(target, {"a.txt": "1"})

    def refuse(*a, **k):
        raise OSError(err, os.strerror(err), str(tmp_path / ".2024-25-x"))

    with monkeypatch.context() as m:
        m.setattr("tempfile.mkdtemp", refuse)
        with pytest.raises(OutputsError, match="the outputs could not be written") as e:
            with Publication(target) as pub:
                pub.work
    assert "previous outputs, if any, are unchanged" in str(e.value)
    with pytest.raises(OutputsError):
        with Publication(target) as pub:
            (pub.work / "big").write_text("x")
            raise OSError(err, os.strerror(err))  # a write refused part-way (no file name given)
    assert (target / "a.txt").read_text() == "1"


def test_file_size_limit_in_a_real_process(tmp_path):
    """RLIMIT_FSIZE for real: the write fails with EFBIG (Python ignores SIGXFSZ); exit 1, clear message."""
    code = ("import resource, sys\nfrom pathlib import Path\nfrom iro_metrics.report.publication import Publication\n"
            "from iro_metrics.cli import main\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
            "def run(_):\n"
            f"    with Publication(Path({str(tmp_path / '2024-25')!r})) as pub:\n"
            "        (pub.work / 'big').write_bytes(b'x' * 5000)\n"
            "        pub.commit()\n"
            "    return 0\n"
            "import iro_metrics.cli as c\nc._definitions = run\nsys.exit(main(['definitions']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 1, r.stderr
    assert "file-size limit" in r.stderr and "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert not (tmp_path / "2024-25").exists()


def _complete(target: Path, good: dict[str, str]) -> bool:
    return target.is_dir() and checksums(target) == good


def test_fault_injection_kills_and_failures_never_lose_the_outputs(tmp_path, council):
    """Builds killed with SIGKILL at random lines (including inside the swap) or failing with a full
    disk at random lines, many times in a row: after each, a complete set of outputs is on disk (in
    place, or set aside by a swap that was killed, and put back by the next build), the commentary is
    untouched, and a final good build leaves nothing stale behind."""
    council.child("A", "2012-01-15").stay("A", ("2024-05-01", "S", "U4")).review("A", "2024-05-20")
    data = council.write("2024-25", "2024-25")
    params = tmp_path / "params" / "x" / "2024-25.yaml"
    params.parent.mkdir(parents=True)
    params.write_text(f"council: X Town\nyear: 2024-25\ndata: {data}\n")
    notes = params.with_name("2024-25.commentary.md")
    notes.write_text("## summary\n\nThe service grew.\n")
    notes_sum = hashlib.sha256(notes.read_bytes()).hexdigest()
    outputs = tmp_path / "out"
    target = outputs / "x-town" / "2024-25"
    first = fault_build.run(params, outputs)
    assert first.status == 0, first.stderr
    good = checksums(target)
    assert {"metrics.json", "appendix.ipynb", "appendix.html", "appendix.pdf"} <= good.keys()
    total = fault_build.run(params, outputs).lines  # a rebuild over existing outputs runs the whole swap
    assert total > first.lines  # the swap of existing outputs executes lines a first build does not
    rng = random.Random(14)
    runs = int(os.environ.get("IRO_FAULT_RUNS", "24"))
    for i in range(runs):
        action = "kill" if i % 3 != 2 else "fail"
        k = rng.randint(max(1, total - 150), total) if i % 2 else rng.randint(1, total)  # half near the end
        r = fault_build.run(params, outputs, action, k)
        if action == "kill":
            assert r.status in (-9, 0), r.stderr
        else:
            assert r.status in (0, 1), r.stderr
            assert "internal error" not in r.stderr and "Traceback" not in r.stderr
        assert _complete(target, good) or _complete(previous_of(target), good), (i, action, k)
        if action == "fail" or r.status == 0:  # the process ended normally: already repaired
            assert _complete(target, good), (i, action, k)
        assert hashlib.sha256(notes.read_bytes()).hexdigest() == notes_sum
    assert fault_build.run(params, outputs).status == 0
    assert _complete(target, good)
    assert sorted(p.name for p in target.parent.iterdir()) == [".2024-25.lock", "2024-25"]

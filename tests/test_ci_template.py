"""The synthetic CI template (docs/ci/synthetic-github-actions.yml) works from a fresh checkout: its
steps run, in order, in a clean clone of this repository (its committed state) and pass. The install
step is the one step not run: the test environment is already installed, and the clone's own code is
put first on the path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = "docs/ci/synthetic-github-actions.yml"


@pytest.mark.slow
def test_synthetic_template_passes_from_a_clean_clone(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    assert not (clone / "outputs" / "demo-borough").exists() and not (clone / "data").exists()
    [job] = yaml.safe_load((clone / TEMPLATE).read_text())["jobs"].values()
    steps = [s for s in job["steps"] if "run" in s]
    assert "pip install" in steps[0]["run"] and all("pip install" not in s["run"] for s in steps[1:])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(clone)}
    env.pop("IRO_REPORT_DATA", None)
    for step in steps[1:]:
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=clone, env=env,
                              capture_output=True, text=True)
        reports = "".join(p.read_text() for p in clone.glob("*report*"))
        assert done.returncode == 0, f"{step['name']}:\n{done.stdout}\n{done.stderr}\n{reports}"
    report = json.loads((clone / "verify-report.json").read_text())
    assert report["status"] == "reproduces" and report["appendices"][0]["folder"].endswith("demo-borough/2024-25")
    assert 'expected "mostly", found "rarely"' in (clone / "tampered-report.txt").read_text()

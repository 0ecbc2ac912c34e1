"""``iro-report comparators update``: load a newer DfE release into the shipped tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import yaml

from iro_metrics.comparators import DATA, neighbours, table
from iro_metrics.errors import UsageError
from iro_metrics.shipped import read_yaml


def update(source: Path, release: str, data: Path = DATA) -> list[str]:
    """Copy every shipped file found in ``source`` (same name, same columns) into ``data`` and record
    ``release`` for it. Values are copied byte for byte: nothing is recomputed or rounded."""
    sources = read_yaml(data / "sources.yaml")
    done = []
    for name in sources["files"]:
        new = source / name
        if not new.exists():
            continue
        old_cols = list(pd.read_csv(data / name, nrows=0, encoding="utf-8-sig").columns)
        new_cols = list(pd.read_csv(new, nrows=0, encoding="utf-8-sig").columns)
        if old_cols != new_cols:
            raise UsageError(f"{new}: columns differ from the shipped table ({', '.join(sorted(set(old_cols) ^ set(new_cols)))})")
        shutil.copyfile(new, data / name)
        sources["files"][name]["release"] = release
        sources["files"][name]["origin"] = f"loaded with iro-report comparators update from {new.name}"
        done.append(f"updated {name}: {release}")
    if not done:
        raise UsageError(f"{source}: none of the shipped files ({', '.join(sources['files'])}) is there")
    (data / "sources.yaml").write_text(yaml.safe_dump(sources, sort_keys=False, allow_unicode=True), encoding="utf-8")
    table.cache_clear()
    neighbours.cache_clear()
    return done

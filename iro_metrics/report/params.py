"""Parameters of one council and year (``params/<council>/<year>.yaml``), checked before anything runs.

Unknown or misspelt keys and wrong types are errors that name the key and what was expected (the
notebook runner papermill would only warn).
"""

from __future__ import annotations

import difflib
import os
import re
import string
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from iro_metrics.errors import IroMetricsError
from iro_metrics.years import CollectionYear

_LA_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")


class ParamsError(IroMetricsError):
    """The params file cannot be used."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        super().__init__(f"{path}:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Params:
    """One council and collection year. ``data`` is relative to the params file's folder."""

    council: str
    year: str
    data: str
    la_code: str | None = None
    la: str | None = None  # the council's name in LIIA flat files
    population: int | None = None  # 0-17, ONS mid-year estimate
    timeliness_target: float = 97.0  # % of reviews on time
    suppression_threshold: int = 5
    comparators: str | None = None  # the council's own comparator file (local indicators), relative to this file
    population_by_ethnicity: str | None = None  # 0-17 by ethnic group (docs/data.md), relative to this file
    cut_at_gap: bool = False  # a year missing from the history: use the years after it (docs/data.md)
    reference_docx: str | None = None  # the council's Word template styling appendix.docx, relative to this file

    @property
    def slug(self) -> str:
        return slug(self.council)


def slug(council: str) -> str:
    """A council's name as its outputs folder is named (``Demo Borough`` -> ``demo-borough``)."""
    return re.sub(r"[^a-z0-9]+", "-", council.lower()).strip("-")


_TYPES = {"council": str, "year": str, "data": str, "la_code": str, "la": str, "population": int,
          "timeliness_target": float, "suppression_threshold": int, "comparators": str,
          "population_by_ethnicity": str, "cut_at_gap": bool, "reference_docx": str}
_REQUIRED = {"council", "year", "data"}


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key} is given twice (lines {seen[key]} and {line}); keep one", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _check(key: str, value, problems: list[str]) -> None:
    want = _TYPES[key]
    ok = isinstance(value, want) and (want is bool or not isinstance(value, bool))
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        name = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}[want]
        problems.append(f"{key}: expected {name}, got {value!r}")


def load_params(path: str | Path) -> tuple[Params, Path]:
    """Read and check a params file; returns the params and the data folder resolved."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(path, ["no such file"])
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        raise ParamsError(path, [f"byte 0x{e.object[e.start]:02x} (line {line}) is "
                                 "not UTF-8 text; save the file as UTF-8 (in Notepad: Save as, Encoding UTF-8)"]
                          ) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ParamsError(path, [f"not valid YAML: {getattr(e, 'problem', None) or e}{where}"]) from None
    if not isinstance(raw, dict):
        raise ParamsError(path, ["expected key: value lines"])
    problems: list[str] = []
    for key in raw:
        if key not in _TYPES:
            near = difflib.get_close_matches(str(key), list(_TYPES), n=1)
            hint = f" (did you mean {near[0]}?)" if near else f" (known keys: {', '.join(_TYPES)})"
            problems.append(f"{key}: unknown key{hint}")
    for key in sorted(_REQUIRED - set(raw)):
        problems.append(f"{key}: required")
    for key, value in raw.items():
        if key in _TYPES and value is not None:
            _check(key, value, problems)
    if isinstance(raw.get("year"), str):
        try:
            CollectionYear.parse(raw["year"])
        except IroMetricsError:
            problems.append(f"year: expected YYYY-YY, e.g. 2024-25, got {raw['year']!r}")
    if isinstance(raw.get("la_code"), str) and not _LA_CODE.match(raw["la_code"]):
        problems.append(f"la_code: expected an English council code (E06, E08, E09 or E10 and six digits), "
                        f"got {raw['la_code']!r}")
    if isinstance(raw.get("suppression_threshold"), int) and raw["suppression_threshold"] < 0:
        problems.append("suppression_threshold: expected 0 or more")
    if isinstance(raw.get("population"), int) and raw["population"] <= 0:
        problems.append(f"population: expected the number of children aged 0 to 17 (more than 0), got "
                        f"{raw['population']}")
    target = raw.get("timeliness_target")
    if isinstance(target, (int, float)) and not isinstance(target, bool) and not 0 <= target <= 100:
        problems.append(f"timeliness_target: expected a percentage from 0 to 100, got {target}")
    if isinstance(raw.get("council"), str) and not re.search(r"[^\W\d_]", raw["council"]):
        problems.append(f"council: expected the council's name (with letters), got {raw['council']!r}")
    if problems:
        raise ParamsError(path, problems)
    known = {f.name for f in fields(Params)}
    params = Params(**{k: (float(v) if k == "timeliness_target" else v) for k, v in raw.items() if k in known})
    return params, (path.parent / params.data).resolve()


def scaffold(data: str | Path, year: str, out: str | Path = "params") -> list[tuple[Path, bool]]:
    """Write ``out/<council>/<year>.yaml`` for every council in ``data``: a folder holding one DfE
    tree per council (``data/<council>/<year>/``), or LIIA flat files pooling many councils (one
    params file per ``LA``). An existing params file is never overwritten. Returns (path, written).
    """
    from iro_metrics.errors import UsageError
    from iro_metrics.ingest.load import liia_councils

    data, out, cy = Path(data).resolve(), Path(out), CollectionYear.parse(year)
    if not data.is_dir():
        raise UsageError(f"{data}: no such folder")
    trees = sorted(d for d in data.iterdir() if d.is_dir() and (d / cy.label).is_dir())
    found = [(string.capwords(d.name.replace("-", " ").replace("_", " ")), d, None) for d in trees]
    if not found:
        found = [(la, data, la) for la in liia_councils(data)]
    if not found:
        raise UsageError(f"{data}: expected one folder per council, each with a {cy.label}/ folder, or LIIA "
                         "flat files with LA and YEAR columns")
    done = []
    for council, folder, la in found:
        path = out / slug(council) / f"{cy.label}.yaml"
        if path.exists():
            done.append((path, False))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {"council": council, "year": cy.label,
                  "data": Path(os.path.relpath(folder, path.parent.resolve())).as_posix()}
        if la:
            values["la"] = la
        path.write_text("# Written by `iro-report params`: check the council's name; add la_code and population "
                        "(see params/README.md).\n" + yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
        done.append((path, True))
    return done

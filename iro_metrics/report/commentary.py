"""Officers' commentary: a plain Markdown file per council and year, injected into the notebook's
narrative cells at build and harvested back from the executed notebook after editing in JupyterLab.

The file (``params/<council>/<year>.commentary.md``) has one ``## <section id>`` heading per section;
text under a heading is that section's commentary, kept exactly as written. Commentary may quote a
published figure as ``{{ reviews_on_time_pct }}``; it is rendered in a sandboxed template engine, so it
can neither run code nor read files. Nothing is ever lost: writes are atomic, the previous file is kept
as ``.bak``, and text under a heading that no longer exists in the report is kept under ``## unplaced``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from iro_metrics.errors import IroMetricsError

PLACEHOLDER = "*Commentary to follow: the IRO service manager's commentary on this section goes here.*"
UNPLACED = "unplaced"
_HEADING = re.compile(r"^## +([A-Za-z0-9_-]+) *$", re.MULTILINE)
_INTRO = ("# Commentary\n\n<!-- One heading per section of the appendix. Write under each heading in Markdown;\n"
          "     quote a figure with {{ reviews_on_time_pct }} (the names are in docs/definitions.md).\n"
          "     Then run: iro-report build <params file>. -->\n")


class CommentaryError(IroMetricsError):
    """Commentary that cannot be used (an unknown figure name, edits that were not harvested...)."""


def commentary_path(params_path: str | Path) -> Path:
    """``params/x/2024-25.yaml`` -> ``params/x/2024-25.commentary.md``."""
    p = Path(params_path)
    return p.with_name(p.name.rsplit(".", 1)[0] + ".commentary.md")


def parse(text: str) -> dict[str, str]:
    """Section id -> its text (surrounding blank lines trimmed, everything else exactly as written)."""
    sections: dict[str, str] = {}
    marks = list(_HEADING.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.end():end].strip("\n")
        sections[m.group(1)] = sections.get(m.group(1), "") + body
    return sections


def read(path: Path) -> dict[str, str]:
    return parse(path.read_text(encoding="utf-8")) if path.exists() else {}


def render_file(sections: dict[str, str], order: list[str]) -> str:
    """The file text: known sections in report order, then anything else kept under ``unplaced``."""
    parts = [_INTRO]
    for sid in order:
        parts.append(f"\n## {sid}\n\n{sections.get(sid, '')}\n".replace("\n\n\n", "\n\n"))
    stray = {k: v for k, v in sections.items() if k not in order and k != UNPLACED and v.strip()}
    kept = sections.get(UNPLACED, "").strip("\n")
    if stray or kept:
        blocks = [kept] if kept else []
        blocks += [f"### (was section {k})\n\n{v}" for k, v in stray.items()]
        parts.append(f"\n## {UNPLACED}\n\n" + "\n\n".join(blocks) + "\n")
    return "".join(parts)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, keeping the previous file as ``<name>.bak``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        if path.exists():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)  # the old file stays whole until this instant
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the notebook side ------------------------------------------------------------------------------

def figures(indicators: dict, units: dict[str, str]) -> dict[str, str]:
    """Every indicator as commentary quotes it: whole-number percentages in text (``metrics.md`` §8),
    thousands separators, ``x`` where not available and ``–`` where there is nothing to divide."""
    from iro_metrics.metrics.registry import round_half_up

    out = {}
    for key, ind in indicators.items():
        v = ind.value
        if v is None:
            out[key] = "–" if ind.denominator == 0 else "x"
        elif units[key] == "percent":
            out[key] = f"{round_half_up(v)}%"
        elif units[key] == "ratio" or isinstance(v, float):
            out[key] = f"{v:,.1f}"
        else:
            out[key] = f"{v:,}"
    return out


def commentary_cells(nb):
    return [c for c in nb.cells if c.cell_type == "markdown" and "commentary" in c.metadata.get("tags", [])]


def inject(nb, sections: dict[str, str], source: str) -> list[str]:
    """Put each section's text into its cell (the placeholder where there is none) and record what was
    injected, so that later edits in the notebook can be told apart. Returns the sections left empty."""
    empty = []
    for cell in commentary_cells(nb):
        sid = cell.metadata["iro"]["section"]
        text = sections.get(sid, "").strip("\n")
        cell.source = text or PLACEHOLDER
        cell.metadata["iro"]["injected"] = digest(cell.source)
        if not text:
            empty.append(sid)
    nb.metadata.setdefault("iro", {})["commentary_file"] = source
    return empty


def edited(nb) -> list[str]:
    """Sections whose commentary cell was changed after the build (not yet harvested)."""
    return [c.metadata["iro"]["section"] for c in commentary_cells(nb)
            if c.metadata.get("iro", {}).get("injected") and digest(c.source) != c.metadata["iro"]["injected"]]


def harvest(nb, path: Path, order: list[str]) -> list[str]:
    """Write the notebook's commentary cells back to the commentary file; returns the sections taken."""
    sections = read(path)
    taken = []
    for cell in commentary_cells(nb):
        sid = cell.metadata["iro"]["section"]
        text = "" if cell.source.strip() == PLACEHOLDER else cell.source.strip("\n")
        if sections.get(sid, "").strip("\n") != text:
            taken.append(sid)
        sections[sid] = text
    write_atomic(path, render_file(sections, order))
    return taken


# --- quoting figures --------------------------------------------------------------------------------

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def render(text: str, section: str, figures: dict[str, str]) -> str:
    """``{{ name }}`` -> the published figure. An unknown name is an error naming the section; anything
    else the sandbox refuses (attributes, imports, code) is shown as written, never run."""
    if "{" not in text:
        return text
    try:
        return _ENV.from_string(text).render(**figures)
    except UndefinedError as e:
        raise CommentaryError(f"commentary for section {section!r}: {e.message}; the figures that can be "
                              "quoted are listed in docs/definitions.md") from None
    except (TemplateError, TypeError, ValueError):
        return text


def harvest_notebook(notebook: str | Path) -> tuple[Path, list[str]]:
    """``iro-report harvest``: the notebook's commentary cells back into the commentary file it was
    built from. The notebook then records the harvested text, so the next build accepts it."""
    import nbformat

    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    source = nb.metadata.get("iro", {}).get("commentary_file")
    if not source:
        raise CommentaryError(f"{notebook}: not an appendix built by iro-report (no commentary file recorded)")
    path = (notebook.parent / source).resolve()
    order = [c.metadata["iro"]["section"] for c in commentary_cells(nb)]
    taken = harvest(nb, path, order)
    for cell in commentary_cells(nb):
        cell.metadata["iro"]["injected"] = digest(cell.source)
    fd, tmp = tempfile.mkstemp(prefix=f".{notebook.name}-", dir=notebook.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    os.replace(tmp, notebook)
    return path, taken

"""Officers' commentary: a plain Markdown file per council and year, injected into the notebook's
narrative cells at build and merged back from the executed notebook after editing in JupyterLab.

The file (``params/<council>/<year>.commentary.md``) has one ``## <section>`` heading per section
(matched ignoring case and spacing); text under a heading is that section's commentary, kept exactly
as written. In the notebook, every Markdown cell after a section's code cell, up to the next code
cell, is that section's commentary, in order. Harvest is a three-way merge against the text the build
injected (recorded in the notebook's metadata). Commentary may quote a published figure as
``{{ reviews_on_time_pct }}`` and nothing else: any other template syntax is refused, naming the
section and line. Nothing is ever lost: writes are atomic, every rewrite keeps a timestamped backup
(the last 20), and text that belongs to no section is kept under ``## unplaced``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from iro_metrics.errors import IroMetricsError
from iro_metrics.report.fences import code_lines
from iro_metrics.report.sections import REPORT_SECTIONS

PLACEHOLDER = "*Commentary to follow: the IRO service manager's commentary on this section goes here.*"
#: what --final looks for: the placeholder, or a part of it an officer left behind
PLACEHOLDER_MARK = "Commentary to follow"
UNPLACED = "unplaced"
BACKUPS_KEPT = 20
_HEADING = re.compile(r"^##[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
_INTRO = ("# Commentary\n\n<!-- One heading per section of the appendix. Write under each heading in Markdown;\n"
          "     quote a figure with {{ reviews_on_time_pct }} (the names are in docs/definitions.md).\n"
          "     Then run: iro-report build <params file>. -->\n")


class CommentaryError(IroMetricsError):
    """Commentary that cannot be used (an unknown figure name, edits that were not harvested...)."""


def commentary_path(params_path: str | Path) -> Path:
    """``params/x/2024-25.yaml`` -> ``params/x/2024-25.commentary.md``."""
    p = Path(params_path)
    return p.with_name(p.name.rsplit(".", 1)[0] + ".commentary.md")


def sections(nb) -> list[str]:
    """The commentary sections, in report order: the notebook template's tagged commentary cells are the
    one list (adding a section to the report is a code cell and a commentary cell there)."""
    return [c.metadata["iro"]["section"] for c in commentary_cells(nb)]


def template_sections() -> list[str]:
    import nbformat

    from iro_metrics.report.build import NOTEBOOK

    return sections(nbformat.read(NOTEBOOK, as_version=4))


# --- the file -----------------------------------------------------------------------------------------

@dataclass
class Notes:
    """A parsed commentary file: what comes before the first heading, and each section's text."""
    preamble: str = _INTRO
    texts: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # section -> line of its heading
    #: section -> where each part of its text starts: (line in the text, line in the file); a section
    #: whose heading appears twice has two parts
    origins: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def file_line(self, section: str, line: int) -> int | None:
        """The file's line number of line ``line`` of ``section``'s text (None if it has no text)."""
        starts = [start for start in self.origins.get(section, []) if start[0] <= line]
        return starts[-1][1] + line - starts[-1][0] if starts else None


def _key(heading: str) -> str:
    return re.sub(r"[\s_-]+", "_", heading.strip().lower())


def parse(text: str, order: list[str], titles: dict[str, str] | None = None, where: str = "commentary") -> Notes:
    """Parse a commentary file. A heading names a section by its id or its title, in any case and
    spacing; any other ``## `` heading is an error listing the valid ones."""
    names = {_key(s): s for s in order} | {_key(t): s for s, t in (titles or {}).items() if s in order}
    names[UNPLACED] = UNPLACED
    lines = text.split("\n")
    starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
    code = {starts[i] for i, _ in code_lines(lines)}  # a "## " line in fenced code is code, not a heading
    marks = [m for m in _HEADING.finditer(text) if m.start() not in code]
    notes = Notes(preamble=text[:marks[0].start()] if marks else (text or _INTRO))
    for i, m in enumerate(marks):
        line = text.count("\n", 0, m.start()) + 1
        sid = names.get(_key(m.group(1)))
        if sid is None:
            raise CommentaryError(
                f"{where}, line {line}: '## {m.group(1)}' is not a section of the report. The section headings "
                f"are: {', '.join(order)} (and '{UNPLACED}' for text kept aside); rename the heading, or make it "
                "a sub-heading inside a section with ### ")
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        part = text[m.end():end]
        body = part.strip("\n")
        first = line + len(part) - len(part.lstrip("\n"))  # the file line the body starts on
        if sid not in notes.texts:
            notes.texts[sid], notes.lines[sid], notes.origins[sid] = body, line, [(1, first)]
        elif body and notes.texts[sid]:  # the same heading again: its text is added, after a blank line
            notes.origins[sid].append((notes.texts[sid].count("\n") + 3, first))
            notes.texts[sid] += "\n\n" + body
        elif body:
            notes.texts[sid], notes.origins[sid] = body, [(1, first)]
    return notes


def read(path: Path, order: list[str] | None = None) -> Notes:
    """The commentary file, or an empty one when there is none. Refuses, saying what to do, a file
    that is not UTF-8 or a path that is a folder."""
    order = order if order is not None else template_sections()
    if not path.exists():
        return Notes()
    if path.is_dir():
        raise CommentaryError(f"{path}: is a folder, but the commentary must be a text file. Move the folder "
                              "away (or rename it) and run again: a new commentary file is written there")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise CommentaryError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); it was probably saved as ANSI "
            "(Windows-1252) by Word or Notepad. Open it in Notepad, choose File > Save as, Encoding: UTF-8, "
            "and run again") from None
    # Windows (CRLF) and old Mac (CR alone) line endings read as one line break each
    return parse(text.replace("\r\n", "\n").replace("\r", "\n"), order, REPORT_SECTIONS, where=str(path))


def render_file(notes: Notes, order: list[str]) -> str:
    """The file text: the preamble as it was, known sections in report order, then ``unplaced``."""
    parts = [notes.preamble.rstrip("\n") + "\n"]
    for sid in order:
        body = notes.texts.get(sid, "").strip("\n")
        parts.append(f"\n## {sid}\n\n{body}\n" if body else f"\n## {sid}\n\n")
    kept = notes.texts.get(UNPLACED, "").strip("\n")
    if kept:
        parts.append(f"\n## {UNPLACED}\n\n{kept}\n")
    return "".join(parts).rstrip("\n") + "\n"


def aside(notes: Notes) -> list[str]:
    """Where the file holds text that is in no section (so would not be published), in words."""
    out = []
    loose = re.sub(r"<!--.*?-->|^#[ \t].*$", "", notes.preamble, flags=re.DOTALL | re.MULTILINE)
    if loose.strip():
        out.append("text before the first section heading")
    if notes.texts.get(UNPLACED, "").strip():
        out.append(f"text under '## {UNPLACED}' (line {notes.lines[UNPLACED]})")
    return out


def prepare(notes_file: Path, published: Path, order: list[str], discard: bool, final: bool) -> Notes:
    """The build's commentary, or a refusal that changes nothing: the file is missing while the
    previous executed notebook holds commentary, or that notebook holds words the file does not (both
    unless ``discard``), the file holds text in no section (unless ``discard``), or ``final`` while a
    section is empty or shows the placeholder. Writes a skeleton file for a new council."""
    nb = None
    if published.exists():
        try:
            nb = read_notebook(published)
        except CommentaryError:
            if not discard:  # (discarding, a damaged notebook is of no account)
                raise
        if nb is not None:
            _same_council(nb, published, notes_file)
    if not discard and nb is not None:
        lost = [sid for sid, text in _base(nb).items() if text and text.strip()]
        if lost and _wordless(notes_file, order):  # a skeleton, or the empty file, would publish placeholders
            state = "no such file" if not notes_file.exists() else "holds no commentary in any section"
            raise CommentaryError(
                f"{notes_file}: {state}, but the last build ({published}) holds commentary for {', '.join(lost)}. "
                "Nothing was changed. If the file was moved or renamed, put it back (earlier versions are in "
                f"{notes_file.parent / 'commentary-backups'}, if it was ever harvested); if it was emptied by "
                f"mistake, or lost, run `iro-report harvest {published}` to write it again from the notebook; if a "
                "save is still under way, save it again. To publish no commentary, build with "
                "--discard-notebook-edits")
        waiting = pending(nb)
        if waiting:
            raise CommentaryError(
                f"{published} holds commentary that is not in the commentary file: {'; '.join(waiting)}. Nothing was "
                f"changed. Run `iro-report harvest {published}` first, or build with --discard-notebook-edits to "
                "throw those edits away")
    write_skeleton(notes_file, order)
    notes = read(notes_file, order)
    loose = aside(notes)
    if loose and not discard:
        raise CommentaryError(
            f"{notes_file} has {' and '.join(loose)}, which belongs to no section and would not be published. "
            "Move it under the heading of the section it is about (or delete it), then build again; or build "
            "with --discard-notebook-edits to leave it out of the report (it stays in the file)")
    missing = final_problems(notes, order) if final else []
    if missing:
        raise CommentaryError(
            f"--final: still no commentary, or the placeholder text, for {', '.join(missing)} (write it in "
            f"{notes_file} or in the notebook, then harvest)")
    return notes


def _wordless(path: Path, order: list[str]) -> bool:
    """The file is missing (moved, renamed, deleted) or holds no text in any section (emptied, or caught
    mid-save)."""
    try:
        return not any(t.strip() for t in read(path, order).texts.values())
    except CommentaryError:  # unreadable: the build says why when it reads it
        return False


def _same_council(nb, published: Path, notes_file: Path) -> None:
    """Refuse when the last build of this outputs folder was made from another params file's commentary
    that is still there: two params files give the same council name (a params file copied for a new
    council, its ``council:`` left as it was), and this build would replace the other council's report."""
    recorded = nb.metadata.get("iro", {}).get("commentary_file")
    if not recorded:
        return
    theirs = (published.parent / recorded).resolve()
    if theirs != notes_file.resolve() and theirs.exists():
        raise CommentaryError(
            f"{published.parent} holds the report built from {theirs.parent} (its commentary file is "
            f"{theirs.name} there), not from {notes_file.parent}: two params files give the same council name, "
            "and this build would replace the other's report. Nothing was changed. Give this params file its own "
            "`council:` name, or build it into another folder with --outputs")


def write_skeleton(path: Path, order: list[str]) -> bool:
    """A new council's commentary file: every section heading, nothing written. Never overwrites: the
    file is created only if there is none at that moment (an officer's editor may be saving one), and
    an editor's save that lands while the skeleton is written replaces it, not the other way round."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as f:
            f.write(render_file(Notes(), order))
    except FileExistsError:
        return False
    return True


def backups(path: Path) -> list[Path]:
    """Earlier versions of ``path``, oldest first (``<folder>/commentary-backups/<name>.<time>.md``)."""
    folder = path.parent / "commentary-backups"
    return sorted(folder.glob(f"{path.name.removesuffix('.md')}.*.md")) if folder.is_dir() else []


def write_atomic(path: Path, text: str) -> Path | None:
    """Write ``text`` to ``path`` atomically; the previous version, if any, is first copied to a
    timestamped backup (the newest ``BACKUPS_KEPT`` are kept). Returns the backup written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if path.exists():
        folder = path.parent / "commentary-backups"
        folder.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        backup = folder / f"{path.name.removesuffix('.md')}.{stamp}.md"
        _atomic(backup, path.read_bytes())
        for old in backups(path)[:-BACKUPS_KEPT]:
            old.unlink()
    _atomic(path, text.encode("utf-8"))
    return backup


def _atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
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


def commentary_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "markdown" and "commentary" in c.metadata.get("tags", [])]


def _strip_placeholder(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text.replace(PLACEHOLDER, "")).strip()


@dataclass
class Found:
    """The notebook's commentary by position: each section's text (None: its cells were all deleted),
    and text in Markdown cells that follow no section's code cell."""
    texts: dict[str, str | None]
    unplaced: list[tuple[str, str]]  # (where, text)


def collect(nb) -> Found:
    """Section S owns every Markdown cell after its code cell up to the next code cell, whatever the
    officer added, split or duplicated there; the instructions cell is ours, not the officer's."""
    cells: dict[str, list[str]] = {}
    unplaced, owner, where = [], None, "before the first section"
    for i, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code":
            owner = cell.metadata.get("iro", {}).get("section")
            if owner:
                cells.setdefault(owner, [])
            where = f"after cell {i} (before section {owner})" if not owner else f"in section {owner}"
        elif cell.cell_type == "markdown" and "instructions" not in cell.metadata.get("tags", []):
            text = _strip_placeholder(cell.source)
            if owner:
                cells[owner].append(text)
            elif text:
                unplaced.append((f"cell {i}, {where}", text))
    texts = {s: ("\n\n".join(t for t in parts if t) if parts else None) for s, parts in cells.items()}
    return Found(texts, unplaced)


def inject(nb, notes: Notes, source: str, figures: dict[str, str], where: str | Path | None = None) -> list[str]:
    """Put each section's text into its cell (the placeholder where there is none), check its figure
    quotes (a refusal naming the line of the commentary file ``where``, when given), list today's
    figures in the instructions cell, and record what was injected as the base of the next harvest.
    Returns the sections left empty."""
    empty, base = [], {}
    for cell in commentary_cells(nb):
        sid = cell.metadata["iro"]["section"]
        text = notes.texts.get(sid, "").strip("\n")
        render(text, sid, figures, _in_file(notes, sid, where))
        cell.source = text or PLACEHOLDER
        base[sid] = text
        if not text:
            empty.append(sid)
    for cell in nb.cells:
        if "instructions" in cell.metadata.get("tags", []):
            cell.source = cell.source.rstrip("\n") + "\n\n" + figure_list(figures)
    nb.metadata.setdefault("iro", {}).update({"commentary_file": source, "base": base, "harvested_unplaced": []})
    return empty


def check_quotes(notes: Notes, names: list[str], sections: list[str], where: str | Path | None = None) -> None:
    """Refuse, naming the section and line, any quote in the text of ``sections`` (what :func:`inject`
    publishes) that is not one of ``names`` or is not a plain ``{{ name }}``, before the figures
    themselves are known. With ``where`` (the commentary file ``notes`` were read from), the line is
    the file's."""
    known = dict.fromkeys(names, "")
    for sid in sections:
        render(notes.texts.get(sid, "").strip("\n"), sid, known, _in_file(notes, sid, where))


def _in_file(notes: Notes, sid: str, where: str | Path | None) -> Callable[[int], str] | None:
    """Where a line of section ``sid``'s text is in the commentary file ``where`` (None: not known)."""
    if where is None:
        return None
    return lambda line: f"{where}, line {notes.file_line(sid, line)} (section {sid!r})"


def figure_list(figures: dict[str, str]) -> str:
    from iro_metrics.metrics import REGISTRY

    rows = "".join(f"| `{{{{ {k} }}}}` | {v} | {REGISTRY[k].title if k in REGISTRY else ''} |\n"
                   for k, v in figures.items())
    return ("<details><summary>Figures you can quote, with this year's values</summary>\n\n"
            f"| you write | the report shows | indicator |\n|---|---|---|\n{rows}\n</details>")


def final_problems(notes: Notes, order: list[str]) -> list[str]:
    """Sections that --final refuses: empty, or still holding the placeholder text."""
    return [s for s in order if not notes.texts.get(s, "").strip() or PLACEHOLDER_MARK in notes.texts[s]]


def pending(nb) -> list[str]:
    """What the executed notebook holds that the commentary file does not: edited sections, deleted
    commentary cells and text outside every section, each said in words."""
    meta = nb.metadata.get("iro", {})
    found = collect(nb)
    base = meta.get("base")
    if base is None:  # built before the base was recorded: compare each cell with what was injected
        return [f"{c.metadata['iro']['section']} (edited)" for c in commentary_cells(nb)
                if c.metadata["iro"].get("injected") and digest(c.source) != c.metadata["iro"]["injected"]]
    out = []
    for sid, b in base.items():
        n = found.texts.get(sid)
        if n is None and b is not None:
            out.append(f"{sid} (its commentary cell was deleted)")
        elif n is not None and (b is None or n.strip() != b.strip()):
            out.append(f"{sid} (edited)")
    harvested = meta.get("harvested_unplaced", [])
    out += [f"text outside every section, {where}" for where, text in found.unplaced if text not in harvested]
    return out


@dataclass
class Harvest:
    path: Path
    taken: list[str]
    deleted: list[str]
    unplaced: int
    backup: Path | None
    restored: list[str] = field(default_factory=list)  # the file was missing: the sections written again


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip() == (b or "").strip()


def merge(nb, notes: Notes, order: list[str], notebook: Path, path: Path) -> tuple[Notes, list[str], list[str], int]:
    """Three-way merge of the notebook into the file against the injected base. A section changed in both
    stops everything, showing both versions."""
    found, meta = collect(nb), nb.metadata.get("iro", {})
    base = meta.get("base") or {c.metadata["iro"]["section"]: notes.texts.get(c.metadata["iro"]["section"], "")
                                for c in commentary_cells(nb)}  # an older build: the file is the base
    texts, taken, deleted, conflicts = dict(notes.texts), [], [], []
    for sid in order:
        n, b, f = found.texts.get(sid), base.get(sid, ""), notes.texts.get(sid, "")
        if n is None:
            if b is not None:
                deleted.append(sid)
        elif _same(n, b) or _same(n, f):
            continue
        elif _same(f, b):
            texts[sid] = n
            taken.append(sid)
        else:
            conflicts.append(f"--- section {sid}, in {path}:\n{f.strip()}\n--- section {sid}, in {notebook}:\n"
                             f"{n.strip()}\n")
    if conflicts:
        raise CommentaryError(
            f"nothing was written: {len(conflicts)} section(s) were changed both in the commentary file and in the "
            f"notebook since the last build.\n\n" + "\n".join(conflicts) + "\nDecide which words to keep (both "
            f"versions are above): make each of these sections read the same in {path} and in the notebook (for "
            "example, paste the notebook's version into the file and edit it there), save both, and harvest again")
    harvested = meta.get("harvested_unplaced", [])
    added = [f"### (added in the notebook, {where})\n\n{text}" for where, text in found.unplaced
             if text not in harvested and text not in notes.texts.get(UNPLACED, "")]
    if added:
        texts[UNPLACED] = "\n\n".join([t for t in [texts.get(UNPLACED, "").strip("\n")] if t] + added)
    return Notes(notes.preamble, texts, notes.lines), taken, deleted, len(added)


def _base(nb) -> dict[str, str | None]:
    """The commentary the notebook was built (or last harvested) with, by section; for a notebook built
    before that was recorded, what its commentary cells show."""
    base = nb.metadata.get("iro", {}).get("base")
    if base is not None:
        return base
    return {sid: text for sid, text in collect(nb).texts.items() if PLACEHOLDER_MARK not in text}


def harvest_notebook(notebook: str | Path) -> Harvest:
    """``iro-report harvest``: merge the notebook's commentary into the file it was built from (writing
    the file again from the notebook when it is missing), then record in the notebook what was
    harvested, so that the next build accepts it. It holds the outputs folder's lock meanwhile, so a
    build (``--watch`` starts one as the file is written) waits for the notebook to be written too."""
    from filelock import FileLock, Timeout

    from iro_metrics.report import publication

    notebook = Path(notebook)
    lock_file = publication.lock_of(notebook.parent)
    try:
        with FileLock(lock_file, timeout=publication.LOCK_WAIT):  # no build swaps the notebook meanwhile
            return _harvest(notebook)
    except Timeout:
        raise CommentaryError(f"{notebook.parent}: a build of this folder is running (it holds {lock_file}); "
                              "wait for it to finish, then harvest again. Nothing was changed") from None


def _harvest(notebook: Path) -> Harvest:
    nb = read_notebook(notebook)
    source = nb.metadata.get("iro", {}).get("commentary_file")
    if not source:
        raise CommentaryError(f"{notebook}: not an appendix built by iro-report (no commentary file recorded)")
    path = (notebook.parent / source).resolve()
    order = template_sections()
    restored = _wordless(path, order)
    if restored:  # moved, deleted or emptied: the file is written again from what the notebook was built from
        notes = Notes(texts={sid: text for sid, text in _base(nb).items() if text})
    else:
        notes = read(path, order)
    merged, taken, deleted, unplaced = merge(nb, notes, order, notebook, path)
    backup = write_atomic(path, render_file(merged, order))
    found = collect(nb)
    meta = nb.metadata.setdefault("iro", {})
    meta["base"] = {s: found.texts.get(s) for s in order}
    meta["harvested_unplaced"] = [text for _, text in found.unplaced]
    write_notebook(nb, notebook)
    return Harvest(path, taken, deleted, unplaced, backup,
                   restored=[sid for sid in order if merged.texts.get(sid, "").strip()] if restored else [])


def read_notebook(path: Path):
    """An executed notebook, or a message saying what is wrong with the file and what to do."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise CommentaryError(f"{path}: no such notebook (build the appendix first)") from None
    except IsADirectoryError:
        raise CommentaryError(f"{path}: is a folder; give the appendix.ipynb inside it") from None
    except UnicodeDecodeError:
        raise CommentaryError(f"{path}: not a notebook (not UTF-8 text)") from None
    except Exception as e:  # nbformat's NotJSONError, json's JSONDecodeError, a schema error
        raise CommentaryError(
            f"{path}: not a valid notebook ({str(e).splitlines()[0][:200]}); it was damaged or is not an "
            "appendix.ipynb. Any commentary typed in it cannot be read: open it in a text editor to copy the words "
            "into the commentary file, then build with --discard-notebook-edits") from None


def write_notebook(nb, path: Path) -> None:
    import nbformat

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    os.replace(tmp, path)


# --- quoting figures --------------------------------------------------------------------------------

_LINE = re.compile(r"\{\{|\{%|\{#|\}\}|%\}|#\}")


def render(text: str, section: str, figures: dict[str, str], place: Callable[[int], str] | None = None) -> str:
    """``{{ name }}`` -> the published figure, and nothing else: any other template syntax (loops, tags,
    attributes, a missing brace) is refused with the section and line, so nothing is run and no raw
    template text is ever published. ``place`` words where a line of ``text`` is (by default, its
    section and line)."""
    if not _LINE.search(text):
        return text
    place = place or (lambda line: f"commentary for section {section!r}, line {line}")
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(keep_trailing_newline=True)
    out, pending_name = [], None
    try:
        tokens = list(env.lex(text))
    except TemplateSyntaxError as e:
        raise _refusal(place, e.lineno, text, f"{e.message}") from None
    for line, kind, value in tokens:
        if kind == "data":
            out.append(value)
        elif kind == "variable_begin":
            pending_name, start = "", line
        elif kind == "name" and pending_name == "":
            pending_name = value
        elif kind == "variable_end" and pending_name:
            if pending_name not in figures:
                near = [k for k in figures if k.split("_")[0] == pending_name.split("_")[0]][:5]
                raise CommentaryError(
                    f"{place(start)}: {{{{ {pending_name} }}}} is not a figure of "
                    f"the report ({'did you mean ' + ', '.join(near) + '? ' if near else ''}the figures that can be "
                    "quoted are listed in docs/definitions.md and in the notebook's first cell)")
            out.append(figures[pending_name])
            pending_name = None
        elif kind != "whitespace":
            raise _refusal(place, line, text, f"only a figure name can go between {{{{ and }}}} (found {value!r})"
                           if pending_name is not None else "only {{ figure name }} can be written here")
    if pending_name is not None:
        raise _refusal(place, start, text, "a figure quote is not closed with }}")
    return "".join(out)


#: line breaks as the template lexer counts them (a form feed or U+2028 in a line does not end it)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _refusal(place: Callable[[int], str], line: int, text: str, why: str) -> CommentaryError:
    lines = _LINE_BREAK.split(text)
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return CommentaryError(
        f"{place(line)}: {why}: {shown[:120]!r}. Commentary can quote a figure as "
        "{{ reviews_held }} (two braces each side) and cannot run loops, tags or code; fix the braces, or write "
        "the text without {{ }}, {% %} or {# #}")

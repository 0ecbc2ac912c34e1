"""``iro-report``: a thin command line over the library. Each subcommand calls one function."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
from dataclasses import asdict, replace
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from iro_metrics import __version__
from iro_metrics.errors import FatalDataError, IroMetricsError, Problem, UsageError, os_error_message

if TYPE_CHECKING:  # imported when needed: the command line starts fast
    from iro_metrics.report.batch import Progress


def _validate(args: argparse.Namespace) -> int:
    from iro_metrics.ingest.load import load_council
    from iro_metrics.report_text import validation_summary

    try:
        data = load_council(args.data, args.year, la=args.la, cut_at_gap=args.cut_at_gap)
    except (FatalDataError, UsageError) as e:
        if args.json:  # a program reading the output gets the problems too (and the exit code says so)
            problems = e.problems if isinstance(e, FatalDataError) else [Problem(str(args.data), str(e))]
            print(json.dumps({"usable": False, "problems": [asdict(p) for p in problems]}, indent=2))
        raise
    problems = data.unusable()  # never pass data the indicators cannot use
    if args.json:
        doc = {"usable": not problems, "problems": [asdict(p) for p in problems],
               "year": data.year.label, "la": data.la, "files": data.files, "notes": data.notes,
               "summary": json.loads(data.findings.summary().to_json(orient="records")),
               "findings": json.loads(data.findings.frame().to_json(orient="records"))}
        print(json.dumps(doc, indent=2))
    else:
        print(validation_summary(data, limit=args.limit))
    if problems:
        raise FatalDataError(problems)
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from iro_metrics.ingest.load import load_council
    from iro_metrics.ingest.population import read_population_by_ethnicity
    from iro_metrics.metrics import to_json
    from iro_metrics.model import build_model

    data = load_council(args.data, args.year, la=args.la, cut_at_gap=args.cut_at_gap)
    comparators = None
    if args.la_code:
        from iro_metrics.comparators import lookup

        comparators = lookup(args.la_code, data.year.label, local=args.comparators)
    by_ethnicity = read_population_by_ethnicity(args.population_by_ethnicity) if args.population_by_ethnicity else None
    model = build_model(data, population=args.population, population_by_ethnicity=by_ethnicity)
    reconciled = None
    if args.la_code:
        from iro_metrics.comparators.reconcile import for_build, records

        reconciled = records(for_build(model, args.la_code)[0])
    doc = to_json(model, council=args.council, comparators=comparators, reconciliation=reconciled)
    print(json.dumps(doc, indent=2))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from iro_metrics.comparators.reconcile import check_published, listing, reconcile, summary
    from iro_metrics.ingest.load import load_council
    from iro_metrics.model import build_model

    check_published(args.la_code, args.year)  # an unknown code or unpublished year fails before loading
    data = load_council(args.data, args.year, la=args.la)
    table = reconcile(build_model(data, population=args.population), args.la_code)
    if args.json:
        print(json.dumps({"la_code": args.la_code, "year": data.year.label, "summary": summary(table),
                          "figures": json.loads(table.to_json(orient="records"))}, indent=2))
    else:
        print(listing(table, args.la_code, data.year.label))
    return 1 if args.strict and (table["status"] == "differs").any() else 0


def _comparators_update(args: argparse.Namespace) -> int:
    from iro_metrics.comparators.update import update

    for line in update(args.source, args.release):
        print(line)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from iro_metrics.ingest.load import load_council
    from iro_metrics.metrics import compute_all
    from iro_metrics.model import build_model
    from iro_metrics.present.publish import publish_tables, write_tables

    _, tables = compute_all(build_model(load_council(args.data, args.year, la=args.la, cut_at_gap=args.cut_at_gap)))
    for path in write_tables(publish_tables(tables, threshold=args.threshold), args.out):
        print(f"wrote {path}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from iro_metrics.report.build import build

    if args.watch:
        from iro_metrics.report.publication import LOCK_WAIT
        from iro_metrics.report.watch import watch

        if len(args.params) != 1:
            raise UsageError("--watch takes one params file")
        # a harvest, or a colleague's build, of the folder may be under way: wait for it rather than refuse
        watch(args.params[0], lambda p: build(p, outputs=args.outputs, final=args.final,
                                              discard_notebook_edits=args.discard_notebook_edits,
                                              reuse=not args.full, wait=LOCK_WAIT),
              report=lambda line: print(line, flush=True), explain=_explain)
        return 0
    for params in args.params:
        target = build(params, outputs=args.outputs, final=args.final,
                       discard_notebook_edits=args.discard_notebook_edits, reuse=not args.full)
        print(f"wrote {target}/")
    return 0


def _build_all(args: argparse.Namespace) -> int:
    import glob

    from iro_metrics.report.batch import build_all, summary

    params = args.params or sorted(glob.glob("params/*/*.yaml"))
    if not params:
        print("error: no params files (params/<council>/<year>.yaml)", file=sys.stderr)
        return 1
    with _ProgressBar() as bar:
        results = build_all(params, outputs=args.outputs, workers=args.workers, force=args.force,
                            scheduler=args.scheduler, progress=bar.update)
    print(summary(results))
    return 1 if any(r.status == "failed" for r in results) else 0


class _ProgressBar:
    """build-all's progress: a bar on a terminal (councils done, failures, time left), else a line per build."""

    def __init__(self) -> None:
        self.bar = None

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, p: Progress) -> None:
        if not sys.stderr.isatty():
            failed = f" ({p.failed} failed)" if p.failed else ""
            print(f"[{p.done}/{p.total}] {p.last.council} {p.last.year}: {p.last.status}{failed}; "
                  f"about {p.seconds_left:.0f} s left", flush=True)
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=p.total, unit="build", file=sys.stderr, dynamic_ncols=True)
        self.bar.set_postfix_str(f"{p.failed} failed" if p.failed else "", refresh=False)
        self.bar.update(1)


def _params(args: argparse.Namespace) -> int:
    from iro_metrics.report.params import scaffold

    from iro_metrics.report.commentary import commentary_path, template_sections, write_skeleton

    done = scaffold(args.data, args.year, out=args.out)
    for path, written in done:
        print(f"{'wrote' if written else 'kept '} {path}")
        if write_skeleton(commentary_path(path), template_sections()):
            print(f"wrote {commentary_path(path)} (the officers' commentary, one heading per section)")
    kept = sum(not w for _, w in done)
    print(f"{len(done) - kept} params files written, {kept} already there (left as they were)")
    return 0


def _harvest(args: argparse.Namespace) -> int:
    from iro_metrics.report.commentary import harvest_notebook

    h = harvest_notebook(args.notebook)
    if h.restored:
        print(f"wrote {h.path}: the file was missing; written again from the notebook's commentary "
              f"({', '.join(h.restored)})")
    else:
        said = "taken from the notebook: " + ", ".join(h.taken) if h.taken else "no section changed"
        print(f"wrote {h.path}: {said}")
    for sid in h.deleted:
        print(f"  the commentary cell of {sid} was deleted in the notebook: the file's text for {sid} is kept "
              "(delete it in the file if you meant to)")
    if h.unplaced:
        print(f"  {h.unplaced} text cell(s) outside every section were kept under '## unplaced' in the file: move "
              "them under the right section before the next build")
    if h.backup:
        print(f"  the previous file is kept as {h.backup}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    import subprocess

    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={args.outputs}", *args.lab_args]
    print(f"starting JupyterLab on {args.outputs}. When you have finished: save (Ctrl+S), close the browser tab, "
          "then come back here and press Ctrl+C, then y and Enter (or Ctrl+C twice) to stop it. Then run "
          "`iro-report harvest` on the notebook you edited.", flush=True)
    return subprocess.call(cmd)


def _verify(args: argparse.Namespace) -> int:
    from iro_metrics.report.verify import COULD_NOT_RUN, DIFFERS, EXIT, verify

    try:
        outcomes = verify(args.path, workers=args.workers, data=args.data)
    except IroMetricsError as e:  # nothing to verify: could not run
        print(f"error: {e}", file=sys.stderr)
        return EXIT[COULD_NOT_RUN]
    status = next((s for s in (DIFFERS, COULD_NOT_RUN) if any(o.status == s for o in outcomes)), "reproduces")
    if args.json:
        print(json.dumps({"status": status, "appendices": [o.as_dict() for o in outcomes]}, indent=2))
    else:
        for outcome in outcomes:
            print(outcome.report())
        print(f"{sum(o.ok for o in outcomes)} of {len(outcomes)} appendices reproduce")
    return EXIT[status]


def _regional(args: argparse.Namespace) -> int:
    from iro_metrics.report.regional import build_regional

    print(f"wrote {build_regional(args.outputs, args.year)}/")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from iro_metrics.synth import SynthConfig, write_councils
    from iro_metrics.years import year_range

    if args.like:
        from iro_metrics.synth import write_council
        from iro_metrics.synth.calibrate import like

        cfg, calibration = like(args.like, year_range(args.years), seed=args.seed)
        written = write_council(args.out, replace(cfg, late_share=args.late_share), calibration)
    else:
        cfg = SynthConfig(council=args.council, children=args.children, years=year_range(args.years),
                          seed=args.seed, late_share=args.late_share)
        written = write_councils(args.out, cfg, councils=args.councils)
    for path in written:
        print(f"wrote {path}")
    return 0


def _definitions(args: argparse.Namespace) -> int:
    from iro_metrics.definitions import definitions_markdown

    print(definitions_markdown(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iro-report", description="Reproducible statistical appendix for the "
                                "IRO annual report, from the SSDA903 return and IRO service records.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data", required=True, metavar="DIR",
                        help="folder with one subfolder per collection year (YYYY-YY), or LIIA flat files")
        sp.add_argument("--year", required=True, metavar="YYYY-YY", help="collection year, e.g. 2024-25")
        sp.add_argument("--la", metavar="NAME", help="council to select from LIIA flat files (the LA column)")
        sp.add_argument("--cut-at-gap", action="store_true",
                        help="when a collection year is missing in the middle, use only the years after it (each "
                             "file before it is a finding) instead of stopping")

    v = sub.add_parser("validate", help="check a council's data and list the findings",
                       description="Read every return up to --year, check it, and list row-level findings. "
                                   "Exits 1 when the data cannot be used, 0 otherwise.")
    data_args(v)
    v.add_argument("--json", action="store_true", help="print the findings as JSON")
    v.add_argument("--limit", type=int, default=20, metavar="N", help="findings listed per rule (default 20)")
    v.set_defaults(func=_validate)

    m = sub.add_parser("metrics", help="compute every indicator and print JSON (unsuppressed)",
                       description="Compute every indicator and table for --year and print them as JSON: "
                                   "management information, not suppressed for publication.")
    data_args(m)
    m.add_argument("--population", type=int, metavar="N", help="the council's population aged 0-17 (ONS)")
    m.add_argument("--population-by-ethnicity", metavar="FILE", help="CSV of ethnicity,population aged 0-17 "
                   "(docs/data.md): adds the disproportionality table")
    m.add_argument("--council", metavar="NAME", help="council name to record in the output")
    m.add_argument("--la-code", metavar="CODE", help="the council's code (E06, E08, E09, E10...): adds England, "
                   "regional and statistical-neighbour comparators")
    m.add_argument("--comparators", type=Path, metavar="CSV", help="the council's own comparator file")
    m.set_defaults(func=_metrics)

    rc = sub.add_parser("reconcile", help="compare with DfE's published figures for the council",
                        description="List every comparable figure DfE published for the council (--la-code) and "
                                    "--year beside the figure computed from the data, whether it agrees, the size "
                                    "of each difference and the causes to check. Exits 0 with the listing; with "
                                    "--strict, exits 1 on any difference.")
    data_args(rc)
    rc.add_argument("--la-code", required=True, metavar="CODE", help="the council's code, e.g. E09000028")
    rc.add_argument("--population", type=int, metavar="N",
                    help="the council's population aged 0-17 (ONS), for the rate per 10,000")
    rc.add_argument("--strict", action="store_true", help="exit 1 when any comparable figure differs")
    rc.add_argument("--json", action="store_true", help="print the comparison as JSON")
    rc.set_defaults(func=_reconcile)

    pb = sub.add_parser("publish", help="write the breakdown tables as published CSVs (suppressed)",
                        description="Write every breakdown table as CSV with statistical disclosure control: "
                                    "counts from 1 to the threshold shown as c, with secondary suppression.")
    data_args(pb)
    pb.add_argument("--out", required=True, metavar="DIR", help="folder for the CSV files")
    pb.add_argument("--threshold", type=int, default=5, metavar="N", help="largest count suppressed (default 5)")
    pb.set_defaults(func=_publish)

    b = sub.add_parser("build", help="build a council's outputs from its params file",
                       description="Check params/<council>/<year>.yaml, then write outputs/<council>/<year>/: "
                                   "metrics.json and the published tables. A failed build leaves the previous "
                                   "outputs untouched.")
    b.add_argument("params", nargs="+", metavar="PARAMS", help="params file(s), e.g. params/demo-borough/2024-25.yaml")
    b.add_argument("--outputs", default="outputs", metavar="DIR", help="outputs folder (default: outputs)")
    b.add_argument("--final", action="store_true",
                   help="the version for committee: fails while any section still shows the placeholder, no Draft mark")
    b.add_argument("--discard-notebook-edits", action="store_true",
                   help="build even though the executed notebook holds commentary edits that were not harvested")
    b.add_argument("--full", action="store_true",
                   help="read the data and run the notebook again even when only the commentary changed")
    b.add_argument("--watch", action="store_true",
                   help="then keep running: build again each time the commentary (or params) file is saved, "
                        "until Ctrl+C")
    b.set_defaults(func=_build)

    ba = sub.add_parser("build-all", help="build many councils and years in parallel, skipping unchanged ones",
                        description="Build every params file given (default: params/*/*.yaml) in parallel. A "
                                    "council-year whose inputs, params, commentary, template and package version are "
                                    "unchanged since its last build is skipped. One failure does not stop the "
                                    "others; its log is kept beside its outputs. Exits 1 if any failed.")
    ba.add_argument("params", nargs="*", metavar="PARAMS")
    ba.add_argument("--outputs", default="outputs", metavar="DIR", help="outputs folder (default: outputs)")
    ba.add_argument("--workers", type=int, default=2, metavar="N", help="builds at once (default 2)")
    ba.add_argument("--force", action="store_true", help="rebuild even what has not changed")
    ba.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the builds on this Dask cluster (tcp://HOST:PORT or dask://HOST:PORT) instead of "
                         "--workers local processes; needs iro-metrics[dask], the same environment on the "
                         "workers and shared storage for params, data and outputs (see docs/batch.md)")
    ba.set_defaults(func=_build_all)

    pa = sub.add_parser("params", help="write a params file for every council in a multi-council data folder",
                        description="Write params/<council>/<year>.yaml for every council in DIR: a folder with "
                                    "one DfE tree per council (DIR/<council>/<year>/), or LIIA flat files with an LA "
                                    "column (one params file per council). Existing params files are kept as they "
                                    "are. Then: iro-report build-all.")
    pa.add_argument("--data", required=True, metavar="DIR", help="the multi-council data folder")
    pa.add_argument("--year", required=True, metavar="YYYY-YY", help="collection year, e.g. 2024-25")
    pa.add_argument("--out", default="params", metavar="DIR", help="params folder (default: params)")
    pa.set_defaults(func=_params)

    hv = sub.add_parser("harvest", help="copy commentary typed into an executed notebook back to its file",
                        description="Merge the commentary typed into outputs/<council>/<year>/appendix.ipynb into the "
                                    "commentary file beside the params: a section changed only in the notebook is "
                                    "taken, one changed only in the file is kept, one changed in both stops with both "
                                    "versions shown and nothing written. The previous file is kept in "
                                    "commentary-backups/ (the last 20).")
    hv.add_argument("notebook", metavar="NOTEBOOK", help="an executed appendix.ipynb")
    hv.set_defaults(func=_harvest)

    lb = sub.add_parser("lab", help="open JupyterLab on the outputs, to write commentary",
                        description="Start JupyterLab on the outputs folder with this environment's kernel.")
    lb.add_argument("--outputs", default="outputs", metavar="DIR", help="outputs folder (default: outputs)")
    lb.add_argument("lab_args", nargs="*", metavar="ARG", help="passed to JupyterLab, after --")
    lb.set_defaults(func=_lab)

    vf = sub.add_parser("verify", help="rebuild published appendices and compare every artefact",
                        description="Re-execute appendix.ipynb (or every one below a folder) with nbval, rebuild the "
                                    "HTML, the PDF, metrics.json and the tables from it, its data and its commentary "
                                    "file, and compare each with the published one, showing every difference as "
                                    "expected vs found with its section. Exit 0: every appendix reproduces; 1: one or "
                                    "more does not; 2: verification could not be run (no data, unreadable "
                                    "parameters, a notebook that fails before loading the data).")
    vf.add_argument("path", metavar="PATH", help="an appendix.ipynb, or a folder such as outputs/")
    vf.add_argument("--data", metavar="DIR", help="the input folder, when it is not where the notebook records it "
                    "(e.g. outside the repository); DIR/<council-slug> is used when it exists. Default: "
                    "$IRO_REPORT_DATA, else the notebook's own")
    vf.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    vf.add_argument("--workers", type=int, default=1, metavar="N", help="appendices verified in parallel")
    vf.set_defaults(func=_verify)

    rg = sub.add_parser("regional", help="one page comparing the councils built together",
                        description="Read outputs/<council>/<year>/metrics.json of every council built and write "
                                    "outputs/regional/<year>/regional.html (and the executed notebook): each key "
                                    "indicator side by side, with England where DfE publishes it.")
    rg.add_argument("outputs", nargs="?", default="outputs", metavar="OUTPUTS", help="outputs folder (default: outputs)")
    rg.add_argument("--year", required=True, metavar="YYYY-YY")
    rg.set_defaults(func=_regional)

    s = sub.add_parser("synth", help="write a synthetic council's data",
                       description="Write synthetic 903 returns and IRO records in the input layout "
                                   "(DIR/<YYYY-YY>/). Deterministic for a seed.")
    s.add_argument("--out", required=True, metavar="DIR")
    s.add_argument("--council", default="Demo Borough", help="council name (default: Demo Borough)")
    s.add_argument("--children", type=int, default=450, metavar="N",
                   help="children looked after at 31 March, about (default 450)")
    s.add_argument("--years", default="2020-21:2024-25", metavar="FIRST:LAST",
                   help="collection years (default 2020-21:2024-25)")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.add_argument("--late-share", type=float, default=0.08, metavar="P",
                   help="share of reviews held late (default 0.08)")
    s.add_argument("--like", metavar="CODE", help="a council calibrated to this English council's published figures "
                   "(e.g. E09000028): its last year reproduces them (see docs/reconciliation.md)")
    s.add_argument("--councils", type=int, default=1, metavar="K",
                   help="write K councils into DIR/<council-slug>/ (default 1: straight into DIR)")
    s.set_defaults(func=_synth)

    cp = sub.add_parser("comparators", help="the published comparator tables",
                        description="Manage the DfE tables shipped for England, regional and statistical-neighbour "
                                    "comparisons.")
    csub = cp.add_subparsers(dest="action", required=True, metavar="ACTION")
    cu = csub.add_parser("update", help="load a new DfE release",
                         description="Copy a new release's published tidy CSV files (the same names as the shipped "
                                     "ones, as downloaded) over the shipped tables, checking their columns, and "
                                     "record the release each came from.")
    cu.add_argument("--from", dest="source", required=True, type=Path, metavar="DIR",
                    help="folder with the downloaded CSV files")
    cu.add_argument("--release", required=True, metavar="TEXT",
                    help='e.g. "Children looked after in England including adoptions, 2026 release (DfE)"')
    cu.set_defaults(func=_comparators_update)

    d = sub.add_parser("definitions", help="print the Definitions annex (Markdown)",
                       description="Print every indicator's definition and the data-quality rules, "
                                   "generated from the code (docs/definitions.md is this output).")
    d.set_defaults(func=_definitions)
    return p


def _explain(e: IroMetricsError) -> str:
    """An error in the user's input, in words (the data's problems one per line)."""
    if isinstance(e, FatalDataError):
        s = "s" if len(e.problems) != 1 else ""
        return f"the data cannot be used ({len(e.problems)} problem{s}):" + "".join(f"\n  {p}" for p in e.problems)
    return str(e)


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    if argv is None:  # run as the command, which ends now: the interpreter's last garbage collections would
        gc.freeze()  # walk every object imported and made (0.2-0.3 s after a build); exit handlers still run
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except IroMetricsError as e:
        print(f"error: {_explain(e)}", file=sys.stderr)
        return 1
    except OSError as e:  # the machine, not the code: a file that cannot be read or written
        print(f"error: {os_error_message(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not bad input: say so plainly
        if os.environ.get("IRO_METRICS_DEBUG"):
            traceback.print_exc()
        print(f"internal error: {type(e).__name__}: {e}\n(this is a bug in iro-metrics; run again with "
              "IRO_METRICS_DEBUG=1 for details and report it)", file=sys.stderr)
        return 2

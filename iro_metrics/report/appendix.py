"""What the appendix notebook shows: every number comes from the metrics package.

The notebook calls :func:`setup` once, then one function per section; each displays HTML (headings
with stable ids, tables with captions and header cells) and charts (inline SVG drawn with seaborn in
the Analysis Function style of charts.py, alt text stating the finding). Published tables apply
disclosure control; headline council totals are shown unrounded, as DfE publishes them (``metrics.md`` §8).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass

import pandas as pd

from iro_metrics import __version__
from iro_metrics.comparators import numeric
from iro_metrics.comparators.reconcile import for_build, records
from iro_metrics.comparators.reconcile import summary as reconciliation_summary
from iro_metrics.ingest.load import CouncilData, check_history
from iro_metrics.ingest.population import read_population_by_ethnicity
from iro_metrics.metrics import REGISTRY, SECTIONS, Indicator, compute_all, ordered
from iro_metrics.metrics.registry import UNITS, label, show
from iro_metrics.model import build_model
from iro_metrics.present.publish import publish_table
from iro_metrics.present.suppression import NOT_APPLICABLE, NOT_AVAILABLE, SUPPRESSED
from iro_metrics.report import charts, helper
from iro_metrics.report.sections import REPORT_SECTIONS
from iro_metrics.years import CollectionYear

KEY_INDICATORS = ["cla_at_31_march", "cla_rate_per_10000", "cla_starts", "cla_ceased", "reviews_held",
                  "reviews_on_time_pct", "children_all_reviews_on_time_pct", "participation_pct",
                  "placements_3plus_pct", "long_term_stability_pct", "iro_caseload_per_fte",
                  "iro_allocated_within_5wd_pct", "escalations_raised", "escalations_resolved_within_20wd_pct"]
TRENDS = ["cla_rate_per_10000", "reviews_on_time_pct", "participation_pct", "placements_3plus_pct",
          "long_term_stability_pct"]
COMPARATOR_COLUMNS = {"england": "England", "region": "Region", "statistical_neighbours": "Statistical neighbours"}


@dataclass
class Context:
    council: str
    year: CollectionYear
    data: CouncilData
    indicators: dict[str, Indicator]
    tables: dict[str, pd.DataFrame | None]
    previous: dict[str, Indicator] | None
    params: dict
    comparators: dict[str, dict]
    history: dict[str, dict[str, Indicator]]  # collection year -> indicators, up to five years
    reconciliation: pd.DataFrame | None = None  # beside DfE's published figures (metrics.md §10)
    reconciliation_note: str = ""  # why there is none
    figures: int = 0
    table_count: int = 0


def setup(council: str, year: str, data: str, population: int | None = None, la: str | None = None,
          timeliness_target: float = 97.0, suppression_threshold: int = 5, la_code: str | None = None,
          comparators: str | None = None, population_by_ethnicity: str | None = None, cut_at_gap: bool = False,
          **_: object) -> Context:
    """Load the data, compute every figure (and each earlier year's, for the change on last year and
    the five-year trends), look up the published comparators, fix display settings."""
    import matplotlib

    matplotlib.use("Agg")  # the chart style itself is charts.theme(), applied per chart
    pd.set_option("display.width", 120)
    pd.set_option("display.max_columns", 20)
    pd.set_option("display.precision", 1)
    cy = CollectionYear.parse(year)
    helper.stop()  # any left by an earlier run of this cell that failed
    # the earliest returns checked in a helper process, where the build started one, while this one checks
    # the others and imports the charts' libraries (once, for the kernel and the chart helper it forks)
    returns = check_history(data, cy, la=la, earlier=4, cut_at_gap=cut_at_gap, in_parallel=helper.in_parallel,
                            meanwhile=charts.libraries)
    wanted = set(KEY_INDICATORS) | set(TRENDS)  # the summary's change on last year, and the trends
    # the earlier years' figures, in a helper process where the build started one, while this one
    # computes the year's own
    earlier = helper.in_parallel(lambda: {
        label: compute_all(build_model(returns.year(label), population=population), only=wanted)[0]
        for label in returns.labels if label != cy.label})
    loaded = returns.year(cy.label)
    by_ethnicity = read_population_by_ethnicity(population_by_ethnicity) if population_by_ethnicity else None
    model = build_model(loaded, population=population, population_by_ethnicity=by_ethnicity)
    indicators, tables = compute_all(model)
    found = {}
    if la_code:
        from iro_metrics.comparators import lookup

        found = lookup(la_code, cy.label, local=comparators)
    # the parameters shown in the page: values, not paths (a reviewer's copy may lie elsewhere; every
    # input file's SHA-256 is in build.json)
    params = {"council": council, "year": year, "la_code": la_code, "population": population, "la": la,
              "population_by_ethnicity": "given" if population_by_ethnicity else None, "cut_at_gap": cut_at_gap,
              "timeliness_target": timeliness_target, "suppression_threshold": suppression_threshold}
    reconciled, note = for_build(model, la_code)
    history = {**earlier(), cy.label: indicators}
    previous = history.get(cy.previous().label)
    ctx = Context(council, cy, loaded, indicators, tables, previous, params, found, history, reconciled, note)
    helper.start(ctx, charted)  # a process drawing every second chart meanwhile, where the build asks for one
    return ctx


#: the sections with a cell of their own, in the notebook's order
SECTION_CELLS = ["population", "iro_service", "reviews", "participation", "escalations", "stability", "quality"]


def charted(ctx: Context) -> None:
    """The notebook's cells that draw charts, in its order (tested against the notebook): what the
    helper process runs (:mod:`~iro_metrics.report.helper`)."""
    trends(ctx)
    for name in SECTION_CELLS:
        section(ctx, name)
    equalities(ctx)


def _show(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def _heading(section: str, level: int = 2) -> str:
    return f'<h{level} id="{section}">{html.escape(REPORT_SECTIONS[section])}</h{level}>'


def _format(ind: Indicator | None, unit: str) -> str:
    if ind is None or ind.value is None:
        return "–" if ind is not None and ind.denominator == 0 else NOT_AVAILABLE
    if unit == "percent":
        return f"{ind.value:.1f}%"
    if unit == "ratio":
        return f"{ind.value:,.1f}"
    return f"{ind.value:,}" if isinstance(ind.value, int) else f"{ind.value:,.2f}".rstrip("0").rstrip(".")


def _label(column: str) -> str:
    return label(column)


NUM = ' class="num"'
_NUMERIC = re.compile(r"^[-+]?[\d,]*\.?\d+%?$|^[cxz–]$|^$")


def _numeric(values: pd.Series) -> bool:
    """A column of numbers (and the symbols that stand for them): right-aligned, header too."""
    text = values.astype(str)
    return bool(len(text)) and text.map(lambda v: bool(_NUMERIC.match(v))).all() and \
        not text.isin(["c", "x", "z", "–", ""]).all()


def table_html(df: pd.DataFrame, caption: str, ctx: Context, row_headers: bool = True) -> str:
    """An accessible table: a numbered caption, column headers, the first column as row headers,
    numeric columns right-aligned with their headers; it scrolls in its own box on a narrow screen (a
    focusable region named by the caption)."""
    ctx.table_count += 1
    tid = f"table-{ctx.table_count}"
    numeric = [i > 0 and _numeric(df.iloc[:, i]) for i in range(df.shape[1])]
    head = "".join(f'<th scope="col"{NUM if numeric[i] else ""}>{html.escape(_label(str(c)))}</th>'
                   for i, c in enumerate(df.columns))
    rows = []
    for _, r in df.iterrows():
        cells = []
        for i, v in enumerate(r):
            text = html.escape(str(v))
            cells.append(f'<th scope="row">{text}</th>' if i == 0 and row_headers else
                         f'<td class="num">{text}</td>' if numeric[i] else f"<td>{text}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="table-wrap" role="region" aria-labelledby="{tid}" tabindex="0">'
            f'<table><caption id="{tid}">Table {ctx.table_count}. {html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def header(ctx: Context) -> None:
    """The title and the contents list."""
    links = "".join(f'<li><a href="#{s}">{html.escape(t)}</a></li>' for s, t in REPORT_SECTIONS.items())
    _show(f"<h1>{html.escape(ctx.council)}: Independent Reviewing Officer annual report {ctx.year.label}"
          f"</h1><p class=\"subtitle\">Statistical appendix. Figures for 1 April {ctx.year.start_year} to "
          f"31 March {ctx.year.start_year + 1}.</p>"
          f'<nav aria-labelledby="contents"><h2 id="contents">Contents</h2><ol>{links}</ol></nav>')


def summary(ctx: Context) -> None:
    """Key indicators: this year, last year, the change, and the target where there is one."""
    target = {"reviews_on_time_pct": f"{ctx.params['timeliness_target']:g}%", "iro_caseload_per_fte": "50 to 70"}
    rows = []
    for mid in KEY_INDICATORS:
        m = REGISTRY[mid]
        now = ctx.indicators[mid]
        before = ctx.previous.get(mid) if ctx.previous else None
        change = _change(now, before, m.unit)
        row = {"indicator": m.title, ctx.year.label: _format(now, m.unit),
               ctx.year.previous().label: _format(before, m.unit) if ctx.previous else "x",
               "change": change}
        if ctx.comparators:
            published = ctx.comparators.get(mid, {})
            for key, name in COMPARATOR_COLUMNS.items():
                row[name] = comparator_text(published.get(key), m.unit)
        row["target"] = target.get(mid, NOT_APPLICABLE)
        rows.append(row)
    note = ""
    if ctx.comparators:
        releases = sorted({f["release"] for c in ctx.comparators.values() for f in c.values() if "release" in f})
        note = (f"<p class=\"source\">England, regional and statistical-neighbour figures as published: "
                f"{html.escape('; '.join(releases))}. Statistical neighbours: the mean of the ten most similar "
                "councils' published figures (DfE 2025 model), suppressed figures left out. Contains public "
                "sector information licensed under the Open Government Licence v3.0.</p>")
    _show(_heading("summary") + table_html(pd.DataFrame(rows), "Key indicators", ctx) + note)


def comparator_text(figure: dict | None, unit: str) -> str:
    """A comparator as printed: its number at the precision published, with thousands separators, or the
    published symbol (c, x, ...) when there is no number."""
    if not figure:
        return NOT_AVAILABLE
    value = figure.get("value")
    if value is None:
        return str(figure.get("published") or NOT_AVAILABLE)
    places = len(str(figure.get("published", value)).partition(".")[2]) if isinstance(value, float) else 0
    return show(value, unit, places)


def trends(ctx: Context) -> None:
    """Each key indicator over the years supplied (up to five), with England's published figure and the
    council's target where it has one."""
    import seaborn as sns

    from iro_metrics.comparators import trend

    _show(_heading("trends"))
    years = list(ctx.history)
    for mid in TRENDS:
        m = REGISTRY[mid]
        own = [ctx.history[y][mid].value for y in years]
        if all(v is None for v in own):
            continue
        england = {}
        if ctx.params.get("la_code"):
            t = trend(ctx.params["la_code"], mid)
            england = {r.year: numeric(r.england) for r in t.itertuples()}
        eng = [england.get(y) for y in years]
        target = ctx.params["timeliness_target"] if mid == "reviews_on_time_pct" else None
        fmt = (lambda v: "x" if v is None else (f"{v:g}%" if m.unit == "percent" else f"{v:,g}"))  # noqa: E731

        def draw():
            fig, ax = charts.figure(3.2)
            lines = [(ctx.council, own, charts.MAIN, "o", "-")]
            if any(v is not None for v in eng):
                lines.append(("England", eng, charts.COMPARE, "s", "--"))
            for name, values, colour, marker, style in lines:
                frame = pd.DataFrame({"year": years, "value": [float("nan") if v is None else v for v in values]})
                sns.lineplot(data=frame, x="year", y="value", color=colour, marker=marker, linestyle=style,
                             linewidth=2.2, markersize=7, ax=ax, sort=False)
                last = max(i for i, v in enumerate(values) if v is not None)
                charts.label_end(ax, last, values[last], name, colour)
            if target is not None:
                ax.axhline(target, color=charts.REFERENCE, linestyle=":", linewidth=1.8)
                ax.annotate(f"Target {target:g}%", (0, target), xytext=(0, 4), textcoords="offset points",
                            color=charts.REFERENCE, fontsize=11, va="bottom")
            top = max([v for v in own + eng if v is not None] + [target or 0])
            ax.set_ylim(0, top * 1.15)
            ax.set(xlabel="", ylabel=UNITS[m.unit])
            ax.margins(x=0.05)
            return fig
        words = _direction(own)
        alt = (f"Line chart of {m.title[:1].lower() + m.title[1:]} from {years[0]} to {years[-1]}: "
               f"{ctx.council} {words}")
        if target is not None and own[-1] is not None:
            alt += f", {'meeting' if own[-1] >= target else 'below'} the {target:g}% target in {years[-1]}"
        alt += ". " + ", ".join(f"{y} {fmt(v)}" for y, v in zip(years, own, strict=True))
        if any(v is not None for v in eng):
            alt += "; England " + ", ".join(f"{y} {fmt(v)}" for y, v in zip(years, eng, strict=True))
        ctx.figures += 1
        charts.emit(draw, ctx.figures, alt + ".", f"Figure {ctx.figures}. {m.title}, {years[0]} to {years[-1]}.")
        rows = [{"year": y, ctx.council: fmt(v), "England": fmt(e) if england else "x"}
                for y, v, e in zip(years, own, eng, strict=True)]
        _show(table_html(pd.DataFrame(rows), f"{m.title} by year", ctx))


def _direction(values: list) -> str:
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return "one year of data"
    first, last = known[0], known[-1]
    if last == first:
        return "unchanged over the period"
    return f"{'up' if last > first else 'down'} from {first:g} to {last:g}"


def section(ctx: Context, section: str) -> None:
    """A section of figures: its indicators, its chart and its published breakdown tables."""
    parts = [_heading(section)]
    metrics = [m for m in ordered() if m.section == section]
    rows = [{"indicator": m.title, ctx.year.label: _format(ctx.indicators[m.id], m.unit),
             "numerator": _count(ctx.indicators[m.id].numerator),
             "denominator": _count(ctx.indicators[m.id].denominator)} for m in metrics if not m.is_table]
    supplied = [m for m in metrics if m.is_table and ctx.tables.get(m.id) is not None]
    if rows and all(r[ctx.year.label] == NOT_AVAILABLE for r in rows) and not supplied:
        needs = sorted({t for m in metrics for t in m.needs})
        parts.append(f"<p>Not supplied: this section needs {', '.join(needs)}. No figures are shown "
                     "rather than zeros.</p>")
        _show("".join(parts))
        return
    if rows:
        parts.append(table_html(pd.DataFrame(rows), f"{SECTIONS[section]}: indicators", ctx))
    _show("".join(parts))
    if section in SECTION_CHARTS:
        SECTION_CHARTS[section](ctx)
    threshold = ctx.params["suppression_threshold"]
    for m in supplied:
        published = publish_table(ctx.tables[m.id], threshold)
        if m.id == "reviews_by_month":
            month_chart(ctx, published, m.title)
        elif m.id in CHARTS:
            chart(ctx, published, m.title, CHARTS[m.id])
        _show(table_html(published, m.title, ctx))


def _change(now: Indicator, before: Indicator | None, unit: str) -> str:
    if now.value is None or before is None or before.value is None:
        return NOT_AVAILABLE
    diff = now.value - before.value
    if diff == 0:
        return "no change"
    amount = f"{abs(diff):.1f} points" if unit == "percent" else f"{abs(diff):,.1f}" if unit == "ratio" \
        else f"{abs(diff):,}"
    return f"{'up' if diff > 0 else 'down'} {amount}"


def _count(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def chart(ctx: Context, published: pd.DataFrame, title: str, finding: str) -> None:
    """A horizontal bar chart of a published table's first count column, largest stated first in the alt
    text; suppressed bars are left out and marked c. ``finding`` names what the bars count."""
    import seaborn as sns

    labels = published.iloc[:, 0].astype(str).tolist()
    shown = published.iloc[:, 1].astype(str).tolist()
    values = [numeric(v) for v in shown]
    frame = pd.DataFrame({"label": labels, "value": [v or 0.0 for v in values]})

    def draw():
        fig, ax = charts.figure(0.42 * len(labels) + 1.0)
        sns.barplot(data=frame, y="label", x="value", color=charts.MAIN, orient="h", ax=ax)
        for bar, text in zip(ax.patches, shown, strict=False):
            ax.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=11)
        ax.set(xlabel=_label(published.columns[1]), ylabel="")
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        ax.set_xlim(0, max([v for v in values if v is not None] + [1]) * 1.15)
        return fig
    known = sorted(((v, lab) for v, lab in zip(values, labels, strict=True) if v is not None), reverse=True)
    hidden = [lab for v, lab in zip(values, labels, strict=True) if v is None]
    alt = f"Bar chart of {title[:1].lower() + title[1:]}, {ctx.year.label}."
    if known:
        alt += f" Most {finding}: {known[0][1]} ({known[0][0]:,g})."
    alt += " " + "; ".join(f"{lab}, {val}" for lab, val in zip(labels, shown, strict=True)) + "."
    if hidden:
        alt += f" Suppressed (c): {', '.join(hidden)}."
    ctx.figures += 1
    charts.emit(draw, ctx.figures, alt, f"Figure {ctx.figures}. {title}, {ctx.year.label}.")


def month_chart(ctx: Context, published: pd.DataFrame, title: str) -> None:
    """Reviews on time each month as bars, with the council's timeliness target as a line."""
    import seaborn as sns

    target = float(ctx.params["timeliness_target"])
    months = [pd.Period(m, "M").strftime("%b") for m in published["month"]]
    pct = [numeric(v) for v in published["on_time_pct"]]
    frame = pd.DataFrame({"month": months, "value": [v or 0.0 for v in pct]})

    def draw():
        fig, ax = charts.figure(3.4)
        sns.barplot(data=frame, x="month", y="value", color=charts.MAIN, ax=ax)
        ax.axhline(target, color=charts.REFERENCE, linestyle="--", linewidth=1.8)
        ax.annotate(f"Target {target:g}%", (len(months) - 0.5, target), xytext=(0, 4), textcoords="offset points",
                    ha="right", va="bottom", color=charts.REFERENCE, fontsize=11)
        ax.set(xlabel="", ylabel="Reviews on time (%)", ylim=(0, 105))
        ax.tick_params(axis="x", labelsize=10)
        return fig
    known = [(v, m) for v, m in zip(pct, published["month"], strict=True) if v is not None]
    below = [m for v, m in known if v < target]
    alt = (f"Bar chart of reviews held on time by month, {ctx.year.label}, with the {target:g}% target: "
           f"below target in {len(below)} of {len(known)} months")
    if known:
        low, high = min(known), max(known)
        alt += f"; lowest {low[0]:g}% in {pd.Period(low[1], 'M').strftime('%B %Y')}, highest {high[0]:g}% " \
               f"in {pd.Period(high[1], 'M').strftime('%B %Y')}"
    alt += ". " + "; ".join(f"{m} {v}%" if v not in ("c", "x") else f"{m} {v}"
                            for m, v in zip(published["month"], published["on_time_pct"], strict=True)) + "."
    ctx.figures += 1
    charts.emit(draw, ctx.figures, alt, f"Figure {ctx.figures}. Reviews held on time by month, {ctx.year.label}.")


#: the Handbook's range of children per full-time IRO
CASELOAD_RANGE = (50, 70)


def caseload_chart(ctx: Context) -> None:
    """Children per full-time IRO, year by year, against the Handbook's range of 50 to 70."""
    import seaborn as sns

    years = list(ctx.history)
    values = [ctx.history[y]["iro_caseload_per_fte"].value for y in years]
    if all(v is None for v in values):
        return
    lo, hi = CASELOAD_RANGE
    frame = pd.DataFrame({"year": years, "value": [float("nan") if v is None else v for v in values]})

    def draw():
        fig, ax = charts.figure(3.2)
        ax.axhspan(lo, hi, color=charts.BAND, zorder=0)
        ax.annotate(f"Handbook range {lo} to {hi}", (0, hi), xytext=(0, -4), textcoords="offset points",
                    va="top", color=charts.TEXT, fontsize=11)
        sns.lineplot(data=frame, x="year", y="value", color=charts.MAIN, marker="o", linewidth=2.2, markersize=7,
                     ax=ax, sort=False)
        ax.set(xlabel="", ylabel=UNITS["ratio"], ylim=(0, max([v for v in values if v is not None] + [hi]) * 1.2))
        ax.margins(x=0.05)
        return fig
    now = values[-1]
    where = "no figure" if now is None else "within" if lo <= now <= hi else "above" if now > hi else "below"
    alt = (f"Line chart of children per full-time IRO from {years[0]} to {years[-1]} against the Handbook's "
           f"range of {lo} to {hi}: {where} the range in {years[-1]}"
           + ("" if now is None else f" at {now:,.1f}") + ". "
           + ", ".join(f"{y} {'x' if v is None else f'{v:,.1f}'}" for y, v in zip(years, values, strict=True)) + ".")
    ctx.figures += 1
    charts.emit(draw, ctx.figures, alt, f"Figure {ctx.figures}. Children per full-time IRO, {years[0]} to "
                                       f"{years[-1]}, and the Handbook's range.")


def stability_chart(ctx: Context) -> None:
    """The two stability measures beside England's (and the region's and neighbours') published figures."""
    import seaborn as sns

    rows, said = [], []
    for mid in ("placements_3plus_pct", "long_term_stability_pct"):
        own = ctx.indicators[mid].value
        if own is None:
            continue
        short = "3 or more placements" if mid == "placements_3plus_pct" else "Same carer(s) 2+ years"
        rows.append({"measure": short, "area": ctx.council, "value": own})
        found = ctx.comparators.get(mid, {})
        for key, name in COMPARATOR_COLUMNS.items():
            value = (found.get(key) or {}).get("value")
            if value is not None:
                rows.append({"measure": short, "area": name, "value": float(value)})
        eng = (found.get("england") or {}).get("value")
        said.append(f"{short}: {ctx.council} {own:g}%" + (f", England {eng:g}%" if eng is not None else ""))
    if not rows:
        return
    frame = pd.DataFrame(rows)
    areas = list(dict.fromkeys(frame["area"]))

    def draw():
        fig, ax = charts.figure(3.6)
        sns.barplot(data=frame, x="measure", y="value", hue="area", hue_order=areas,
                    palette=charts.PALETTE[:len(areas)], ax=ax)
        for bars in ax.containers:
            ax.bar_label(bars, fmt="%g", fontsize=10, padding=2)
        ax.set(xlabel="", ylabel="Children (%)", ylim=(0, 100))
        ax.legend(title="", frameon=False, loc="upper left", ncols=2)
        return fig
    alt = (f"Bar chart of placement stability, {ctx.year.label}, {ctx.council} beside "
           f"{', '.join(a for a in areas if a != ctx.council) or 'no published comparator'}: " + "; ".join(said) + ".")
    ctx.figures += 1
    charts.emit(draw, ctx.figures, alt, f"Figure {ctx.figures}. Placement stability, {ctx.year.label}, with "
                                       "published comparators.")


#: breakdown tables drawn as bar charts, with what their bars count (for the alt text's finding)
CHARTS = {"cla_by_age": "children", "participation_by_code": "reviews", "escalations_by_stage": "escalations",
          "escalations_by_theme": "escalations"}
#: charts a section draws from its indicators
SECTION_CHARTS = {"iro_service": caseload_chart, "stability": stability_chart}


def definitions(ctx: Context) -> None:
    """The Definitions annex, generated from the metric registry (one source with the code)."""
    parts = [_heading("definitions")]
    for sid, title in SECTIONS.items():
        parts.append(f"<h3>{html.escape(title)}</h3><dl>")
        for m in (m for m in ordered() if m.section == sid):
            parts.append(f"<dt>{html.escape(m.title)}</dt><dd>{html.escape(' '.join(m.definition.split()))}</dd>")
        parts.append("</dl>")
    parts.append("<h3>Symbols</h3><dl><dt>c</dt><dd>suppressed: a count from 1 to "
                 f"{ctx.params['suppression_threshold']} below the level of the whole council, or a figure that "
                 "would reveal one (statistical disclosure control)</dd><dt>x</dt><dd>not available</dd>"
                 "<dt>z</dt><dd>not applicable</dd><dt>–</dt><dd>no cases to take a percentage of</dd></dl>")
    _show("".join(parts))


def data_quality(ctx: Context) -> None:
    """The validation findings, counted by rule (no child-level detail)."""
    parts = [_heading("data_quality")]
    summary_ = ctx.data.findings.summary()
    if summary_.empty:
        parts.append("<p>Every check of the input data passed: no findings.</p>")
    else:
        parts.append(f"<p>{html.escape(findings_sentence(ctx.data.findings.frame()))}</p>")
        df = summary_.rename(columns={"description": "what it means", "action": "what was done",
                                      "count": "records"})[["rule", "what it means", "what was done", "records"]]
        df["records"] = df["records"].map(lambda n: f"{n:,}")
        parts.append(table_html(df, "Data-quality findings", ctx))
    parts += [f"<p>{html.escape(n)}</p>" for n in ctx.data.notes]
    parts.append(_reconciliation(ctx))
    _show("".join(parts))


RECONCILIATION_ROWS = 10


def _reconciliation(ctx: Context) -> str:
    """One sentence and one short table: the figures that differ from DfE's published ones, with the
    first cause to check (metrics.md §10). Published values are shown as published. The council's own
    figure and the size of the difference are shown for whole-council figures only: for a breakdown
    they could give back a count this appendix suppresses (every figure is in metrics.json)."""
    t = ctx.reconciliation
    if t is None:
        return f"<p>{html.escape(ctx.reconciliation_note)}</p>"
    out = f"<p>{html.escape(reconciliation_summary(t).split('; differences:')[0])}.</p>"
    differs = t[t["status"] == "differs"]
    if len(differs) > RECONCILIATION_ROWS:  # a short table: the rest are in metrics.json
        out += (f"<p>The first {RECONCILIATION_ROWS} of {len(differs)} differences are shown; every one is in "
                "metrics.json (reconciliation), and <code>iro-report reconcile</code> lists them.</p>")
        differs = differs.head(RECONCILIATION_ROWS)
    if len(differs):
        whole = differs["breakdown"].isin(WHOLE_COUNCIL)
        shown = pd.DataFrame({
            "figure": [f"{r.measure}{', ' + r.breakdown + ': ' + r.category if r.breakdown else ''}"
                       for r in differs.itertuples()],
            "published": differs["published"].astype(str),
            "computed": [f"{v:,g}" if w else SUPPRESSED for v, w in zip(differs["computed"], whole, strict=True)],
            "difference": [f"{v:+,g}" if w else SUPPRESSED for v, w in zip(differs["difference"], whole, strict=True)],
            "first cause to check": differs["causes"].str.split(";").str[0]})
        out += table_html(shown, "Differences from DfE's published figures", ctx)
        if not whole.all():
            out += ("<p>For a breakdown, the council's own figure and the difference are shown as c here, so that "
                    "no suppressed count can be worked out; the analyst's metrics.json and "
                    "<code>iro-report reconcile</code> give them.</p>")
    return out


#: reconciliation rows about the whole council (not a breakdown): safe to show in full
WHOLE_COUNCIL = ("", "numerator", "denominator", "percentage")


_DONE = {"excluded": "excluded from every figure", "value-excluded": "kept with one value left out of the figures",
         "ended": "episodes ended at their return's 31 March (not restated by the next return)",
         "trimmed": "trimmed of spaces", "ignored": "ignored", "kept": "kept as they are"}


def findings_sentence(found: pd.DataFrame) -> str:
    """How many rows the findings touch and what was done with them, in one sentence."""
    rows = found.drop_duplicates(["file", "row"])
    # a row with several findings counts once, under the strongest action taken on it
    strongest = found.assign(rank=found["action"].map({a: i for i, a in enumerate(_DONE)}))
    per_row = strongest.sort_values("rank", kind="stable").drop_duplicates(["file", "row"])["action"].value_counts()
    done = "; ".join(f"{per_row[a]:,} {_DONE[a]}" for a in _DONE if a in per_row)
    return (f"The checks found {len(found):,} problem{'s' if len(found) != 1 else ''} in {len(rows):,} "
            f"row{'s' if len(rows) != 1 else ''} of {rows['file'].nunique():,} file"
            f"{'s' if rows['file'].nunique() != 1 else ''} (rows: {done}). They are counted below by rule.")


def provenance(ctx: Context) -> None:
    """How this was produced, in one short table: the package version, one fingerprint of the input
    files, the parameters, and where the full record is (build.json: every file's SHA-256)."""
    fingerprint = hashlib.sha256(json.dumps(ctx.data.files, sort_keys=True).encode()).hexdigest()
    params = "; ".join(f"{k} {v}" for k, v in ctx.params.items() if v is not None and k != "council")
    rows = [{"item": "Software", "value": f"iro-metrics {__version__}"},
            {"item": "Input files", "value": f"{len(ctx.data.files):,} files: the returns from "
                                             f"{ctx.data.earliest_year.label} to {ctx.year.label}"},
            {"item": "Fingerprint of the input files (SHA-256)", "value": fingerprint},
            {"item": "Parameters", "value": params},
            {"item": "Full record", "value": "build.json beside this report: the SHA-256 of every input file, "
                                             "the versions of the software used, the build fingerprint"}]
    _show('<section class="provenance">' + _heading("provenance")
          + "<p>Every figure was computed by the iro-metrics package from the council's SSDA903 files; rebuilding "
            "with the same files, parameters and software gives the same outputs byte for byte.</p>"
          + table_html(pd.DataFrame(rows), "How this was produced", ctx) + "</section>")


def record(ctx: Context) -> None:
    """The published figures as JSON (not shown in the page): what ``iro-report verify`` compares with
    ``metrics.json`` and the published tables, so that every published number is tied to this notebook."""
    from IPython.display import display

    threshold = ctx.params["suppression_threshold"]
    doc = {"indicators": {k: {**v.as_dict(), **({"comparators": ctx.comparators[k]} if k in ctx.comparators else {})}
                          for k, v in ctx.indicators.items()},
           "tables": {k: publish_table(v, threshold).to_dict(orient="records")
                      for k, v in ctx.tables.items() if v is not None},
           **({"reconciliation": records(ctx.reconciliation)} if ctx.reconciliation is not None else {})}
    display({"application/json": doc}, raw=True)


def priorities(ctx: Context) -> None:
    _show(_heading("priorities"))


#: the equalities tables about children, and the percentages charted for each with what they measure
EQUALITIES = {"equalities_reviews": {"on_time_pct": "reviews on time"},
              "equalities_participation": {"participation_pct": "reviews where the child's views were conveyed"},
              "equalities_stability": {"placements_3plus_pct": "children with 3 or more placements"},
              "equalities_escalations": {}}


def equalities(ctx: Context) -> None:
    """Equalities: each IRO measure by group, groups marked for attention stated in words, a chart of
    each group beside all children, the IRO workforce beside the children, and disproportionality."""
    from iro_metrics.metrics.equalities import ATTENTION_MIN, ATTENTION_POINTS
    from iro_metrics.present.equalities import attention_statements, no_attention

    threshold = ctx.params["suppression_threshold"]
    parts = [_heading("equalities"),
             "<p>Each table gives an IRO measure for all children, then for each group of children. A group is "
             f"<strong>marked for attention</strong> (column Attention: Yes) when its figure differs from all "
             f"children's by {ATTENTION_POINTS} percentage points or more and it has at least {ATTENTION_MIN} "
             "children (reviews, for review measures). This is a prompt to look closer, not a test of statistical "
             "significance. The 903 return has no disability field: disability here means category of need N2 "
             "(child's disability) at the start of the period of care.</p>"]
    _show("".join(parts))
    for mid, charted in EQUALITIES.items():
        if ctx.tables.get(mid) is None:
            continue
        published = publish_table(ctx.tables[mid], threshold)
        for pct, measure in charted.items():
            group_chart(ctx, mid, published, pct, measure)
        said = attention_statements(mid, published) or [no_attention(mid)]
        _show(table_html(published, REGISTRY[mid].title, ctx)
              + "<ul class=\"attention\">" + "".join(f"<li>{html.escape(t)}</li>" for t in said) + "</ul>")
    rest = []
    if ctx.tables.get("iro_workforce_diversity") is not None:
        rest.append(table_html(publish_table(ctx.tables["iro_workforce_diversity"], threshold),
                               REGISTRY["iro_workforce_diversity"].title, ctx))
    else:
        rest.append("<p>IRO workforce: not supplied (needs iro_staff.csv with SEX and ETHNIC).</p>")
    if ctx.tables.get("cla_disproportionality") is not None:
        rest.append(table_html(publish_table(ctx.tables["cla_disproportionality"], threshold),
                               REGISTRY["cla_disproportionality"].title, ctx))
    else:
        rest.append("<p>Rates of children looked after by ethnic group (disproportionality) need the council's "
                    "population aged 0 to 17 by ethnic group, for example from Census 2021: name a file of "
                    "<code>ethnicity,population</code> rows as <code>population_by_ethnicity</code> in the params "
                    "file.</p>")
    _show("".join(rest))


def group_chart(ctx: Context, table_id: str, published: pd.DataFrame, pct: str, measure: str) -> None:
    """Each group's published percentage as a bar beside a dashed line for all children (seaborn).
    Suppressed or unavailable groups are left out and named in the alt text, which states the finding:
    the groups marked for attention on this measure."""
    import seaborn as sns

    from iro_metrics.present.equalities import group_size, marked

    size, whole = group_size(table_id, pct), published[pct].iloc[0]
    overall = numeric(whole)
    rows = [(f"{r.characteristic}: {r.group}", numeric(r[pct]), marked(r[pct], whole, r[size]))
            for _, r in published.iloc[1:].iterrows()]
    shown = pd.DataFrame([(lab, v) for lab, v, _ in rows if v is not None], columns=["group", "value"])
    left_out = [lab for lab, v, _ in rows if v is None]

    def draw():
        fig, ax = charts.figure(0.34 * len(shown) + 1.4)
        sns.barplot(data=shown, y="group", x="value", color=charts.MAIN, orient="h", ax=ax)
        for bars in ax.containers:
            ax.bar_label(bars, fmt="%.1f", fontsize=10, padding=2)
        if overall is not None:  # dashed and labelled: never colour alone
            ax.axvline(overall, color=charts.COMPARE, linestyle="--", linewidth=2)
            ax.annotate(f"All children {overall:g}%", (overall, -0.7), fontsize=10, ha="left", xytext=(3, 0),
                        textcoords="offset points", annotation_clip=False)
        top = max([*shown["value"], overall or 0, 1.0])
        ax.set_xlim(0, min(100.0, top * 1.15 + 5))  # room for the labels; a short scale for small percentages
        ax.set(xlabel=f"{measure[:1].upper() + measure[1:]} (%)", ylabel="")
        ax.tick_params(axis="y", labelsize=10)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        return fig
    ctx.figures += 1
    flagged = [lab for lab, _, flag in rows if flag]
    alt = (f"Bar chart of {measure} by group, {ctx.year.label}, with a dashed line for all children at {whole}%. "
           + (f"Marked for attention: {', '.join(flagged)}. " if flagged else "No group is marked for attention. ")
           + "; ".join(f"{lab} {v:g}%" for lab, v in shown.itertuples(index=False))
           + (f"; not shown (suppressed or no cases): {', '.join(left_out)}" if left_out else "") + ".")
    title = REGISTRY[table_id].title
    charts.emit(draw, ctx.figures, alt, f"Figure {ctx.figures}. {title}: {measure} by group, {ctx.year.label}.")

"""The appendix's chart style (Government Analysis Function guidance, afcharts' palette) and the one way
a chart leaves the kernel: as byte-stable inline SVG with its alt text and numbered caption.

Every chart is drawn with seaborn under :func:`theme`; text stays text in the SVG (selectable, crisp at
any zoom) and ids are prefixed per figure so that many charts can sit inline in one page.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from iro_metrics.report import helper

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: afcharts' main palette (Analysis Function accessible colours), in the order series take them
PALETTE = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1"]
MAIN, SECOND, COMPARE, REFERENCE = "#12436D", "#28A197", "#801650", "#3D3D3D"
BAND = "#BFDDDA"  # a light tint of the turquoise, for a range (labelled in words on the chart)
TEXT = "#0B0C0C"
WIDTH = 6.4  # inches: at a phone's width the text still reads at about 10 px
RC = {"font.family": "DejaVu Sans", "font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12,
      "xtick.labelsize": 11, "ytick.labelsize": 11, "legend.fontsize": 11, "text.color": TEXT,
      "axes.labelcolor": TEXT, "xtick.color": TEXT, "ytick.color": TEXT, "axes.edgecolor": TEXT,
      "grid.color": "#D9D9D9", "axes.spines.top": False, "axes.spines.right": False, "axes.grid.axis": "y",
      "figure.dpi": 96}
#: text stays text (selectable); a fixed salt for the ids matplotlib derives (byte-stable)
SAVE = {"svg.hashsalt": "iro-metrics", "svg.fonttype": "none"}


def libraries() -> None:
    """Import matplotlib's pyplot and seaborn (about 0.4 s), for a caller that has the time now."""
    import matplotlib.pyplot  # noqa: F401
    import seaborn  # noqa: F401


@contextmanager
def theme() -> Iterator[None]:
    """seaborn in the Analysis Function style: white, light horizontal gridlines, no top or right axis,
    the accessible palette; matplotlib's defaults are restored afterwards."""
    import matplotlib
    import seaborn as sns

    saved = matplotlib.rcParams.copy()
    sns.set_theme(style="whitegrid", palette=PALETTE, rc=RC)
    try:
        yield
    finally:
        matplotlib.rcParams.update(saved)


#: an axis's label until the chart names it. seaborn names an unlabelled axis after the data's column,
#: first working out whether its tick labels show: a fifth of a chart's time, for a label every chart
#: replaces (the same SVG, tested)
UNNAMED = " "


def figure(height: float = 3.4):
    """A new figure and axes at the appendix's width. Name the axes after drawing (``ax.set(xlabel=...,
    ylabel=...)``); an axis left unnamed has no label."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH, height))
    ax.set(xlabel=UNNAMED, ylabel=UNNAMED)
    return fig, ax


def svg(fig, prefix: str, alt: str) -> str:
    """The figure as inline SVG: no date or creator (byte-stable), ids prefixed, ``role="img"`` with the
    alt text as its accessible name."""
    import matplotlib
    import matplotlib.pyplot as plt

    for ax in fig.axes:  # an axis the chart left unnamed
        if ax.get_xlabel() == UNNAMED:
            ax.set_xlabel("")
        if ax.get_ylabel() == UNNAMED:
            ax.set_ylabel("")
    buf = io.StringIO()
    with matplotlib.rc_context(SAVE):  # read when saving, which may be after theme() has ended
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # no XML prolog or doctype inside an HTML page
    text = re.sub(r'<metadata>.*?</metadata>\s*', "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r'(url\(#|href="#)([^")]+)', rf"\1{prefix}-\2", text)
    label = alt.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def emit(draw: Callable[[], Figure], number: int, alt: str, caption: str) -> None:
    """Display chart ``number`` as an output the page and the PDF both use (alt text and caption travel
    in the output's metadata). ``draw`` draws it (in :func:`theme`) and returns the figure; it is not
    called when the kernel's helper process has drawn the same chart (:mod:`~iro_metrics.report.helper`)."""
    from IPython.display import display

    def render() -> str:
        with theme():
            fig = draw()
        return svg(fig, f"f{number}", alt)

    text = helper.chart(number, alt, caption, render)
    if text is not None:  # None: this process is the helper, which displays nothing
        display({"image/svg+xml": text}, raw=True, metadata={"image/svg+xml": {"alt": alt, "caption": caption}})


def label_end(ax, x, y, text: str, colour: str) -> None:
    """Label a line at its right-hand end (direct labels, not a legend)."""
    ax.annotate(text, (x, y), xytext=(6, 0), textcoords="offset points", va="center", color=colour,
                fontsize=11, annotation_clip=False)

"""The chart style's one shortcut: axes start with a placeholder label, so that seaborn does not work
out how to name them (a label every chart replaces). The SVG must be what seaborn's own route gives."""

from __future__ import annotations

import pandas as pd
import pytest

from iro_metrics.report import charts

sns = pytest.importorskip("seaborn")

BARS = pd.DataFrame({"label": ["Under 1", "1 to 4", "5 to 9"], "value": [3.0, 12.0, 7.5]})
LINE = pd.DataFrame({"year": ["2022-23", "2023-24", "2024-25"], "value": [70.0, 72.5, 69.0]})


def _svg(draw, seaborn_names_axes: bool, name: bool = True) -> str:
    with charts.theme():
        fig, ax = charts.figure(2.4)
        if seaborn_names_axes:
            ax.set(xlabel="", ylabel="")  # as a bare matplotlib figure starts: seaborn names the axes
        draw(ax)
        if name:
            ax.set(xlabel="Children", ylabel="")
    return charts.svg(fig, "f1", "A chart")


@pytest.mark.parametrize("draw", [
    lambda ax: sns.barplot(data=BARS, y="label", x="value", color=charts.MAIN, orient="h", ax=ax),
    lambda ax: sns.lineplot(data=LINE, x="year", y="value", color=charts.MAIN, marker="o", ax=ax),
], ids=["bars", "line"])
def test_the_placeholder_label_gives_seaborns_svg(draw):
    assert _svg(draw, seaborn_names_axes=False) == _svg(draw, seaborn_names_axes=True)


def test_an_axis_left_unnamed_has_no_label():
    def draw(ax):
        sns.barplot(data=BARS, y="label", x="value", color=charts.MAIN, orient="h", ax=ax)

    unnamed = _svg(draw, seaborn_names_axes=False, name=False)
    assert "value" not in unnamed and "> </text>" not in unnamed
    with charts.theme():
        fig, ax = charts.figure(2.4)
        draw(ax)
        ax.set(xlabel="", ylabel="")
    assert unnamed == charts.svg(fig, "f1", "A chart")

"""The derived model: periods of care, placement moves and the review clock, computed once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from iro_metrics.errors import FatalDataError

from iro_metrics.model.episodes import care_episodes, in_return_window, open_during, open_on, periods_of_care
from iro_metrics.model.reviews import review_clock
from iro_metrics.years import CollectionYear

if TYPE_CHECKING:
    from iro_metrics.ingest.load import CouncilData

__all__ = ["Model", "build_model", "open_on", "open_during", "in_return_window"]


@dataclass(frozen=True)
class Model:
    """What every metric reads. Frames are shared: metrics must not modify them."""

    data: CouncilData
    episodes: pd.DataFrame  # care episodes (short breaks set aside) with period and move flags
    periods: pd.DataFrame
    reviews: pd.DataFrame  # reviews within periods of care, up to the year end, with due dates
    pending: pd.DataFrame  # per period, the due date still pending at the year end
    population: int | None = None
    population_by_ethnicity: dict[str, int] | None = None  # 0-17 by ethnic major group (metrics.md §9)

    @property
    def year(self) -> CollectionYear:
        return self.data.year

    @property
    def year_start(self) -> pd.Timestamp:
        return self.data.year.start

    @property
    def year_end(self) -> pd.Timestamp:
        return self.data.year.end

    @cached_property
    def header(self) -> pd.DataFrame:
        return self.data["header"].drop_duplicates("child_id", keep="last").set_index("child_id")

    @cached_property
    def cla_episodes_at_year_end(self) -> pd.DataFrame:
        """The episode each child looked after on 31 March is in (one per child)."""
        ep = self.episodes[open_on(self.episodes, self.year_end)]
        return ep.drop_duplicates("child_id", keep="last").set_index("child_id")

    @cached_property
    def cla_at_year_end(self) -> pd.Index:
        """Children looked after on 31 March (not short-break)."""
        return self.cla_episodes_at_year_end.index

    def age_on(self, children: pd.Index, day: pd.Timestamp) -> pd.Series:
        from iro_metrics.dates import age_in_years

        dob = self.header["dob"].reindex(children)
        return age_in_years(dob, day)


def build_model(data: CouncilData, population: int | None = None,
                population_by_ethnicity: dict[str, int] | None = None) -> Model:
    """Derive periods, placement moves and the review clock for ``data``'s collection year.

    Raises :class:`FatalDataError` when a table every figure needs was not supplied."""
    if problems := data.unusable():
        raise FatalDataError(problems)
    if data.care is not None and data.care[0] is data.tables.get("episodes"):  # derived by the checks
        ep, periods = data.care[1:]
    else:
        ep = care_episodes(data["episodes"])
        periods = periods_of_care(ep)
    reviews, pending = review_clock(data["reviews"], periods, ep, data.earliest_year.start, data.year.end)
    return Model(data=data, episodes=ep, periods=periods, reviews=reviews, pending=pending,
                 population=population, population_by_ethnicity=population_by_ethnicity)

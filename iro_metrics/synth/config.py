"""Parameters of the synthetic council, each with a sensible default.

Shares follow England's published profile (``iro-annual-report.md`` §4) where one exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iro_metrics.years import CollectionYear, year_range


def _default_years() -> list[CollectionYear]:
    return year_range("2020-21:2024-25")


@dataclass(frozen=True)
class SynthConfig:
    council: str = "Demo Borough"
    children: int = 450  # children looked after at 31 March, about
    years: list[CollectionYear] = field(default_factory=_default_years)
    seed: int = 1
    late_share: float = 0.08  # reviews held after their due date
    missed_share: float = 0.01  # reviews held very late (a review "missed" and caught up)
    uasc_share: float = 0.08  # of children looked after at 31 March
    reentry_share: float = 0.06  # of children who return home, who come back into care
    police_protection_share: float = 0.04  # periods starting under police protection (L1)
    move_rate_young: float = 0.45  # placement moves per year in care, children under 10
    move_rate_teen: float = 0.9  # ... aged 10 and over
    temporary_rate: float = 0.08  # temporary (T4) placements per year in care
    iro_caseload: float = 60.0  # children per full-time IRO
    escalations_per_100: float = 25.0  # escalations raised a year per 100 children looked after

    # age at entry: band edges in years and shares (England starts, roughly)
    entry_age_bands: tuple = ((0, 1, 0.20), (1, 5, 0.14), (5, 10, 0.16), (10, 16, 0.36), (16, 18, 0.14))
    # mean stay in years by the same bands (before the 18th birthday ends it)
    mean_stay_years: tuple = (3.0, 3.4, 4.0, 3.0, 1.3)

"""The ambulatory glucose profile: percentiles of all readings folded onto one 24-hour local day.

Readings are folded by their local wall clock (``Reading.local``), because the profile answers "what
happens at breakfast", and breakfast follows the patient's clock, not UTC. Percentiles use linear
interpolation between order statistics (Hyndman-Fan type 7: numpy's default, R's default,
``statistics.quantiles(method="inclusive")``), computed by hand so one reading still has percentiles
(it is all of them). Bins are not smoothed across neighbours (Tidepool smooths hourly bins 1-4-1):
the chart draws what was measured, and sufficiency (7 days, 70% use) is for the page to judge from
the overview. Values are the readings' whole mg/dL, the numbers the ranges classify.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from inlet.reports.glucose import Reading

MINUTES_PER_DAY = 1440
PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True, slots=True)
class AgpBin:
    """One bin of the profile: its start (minutes after local midnight), percentiles in mg/dL, count.

    The percentiles are ``None`` when no reading fell in the bin (``n == 0``).
    """

    minute_of_day: int
    p5: float | None
    p25: float | None
    p50: float | None
    p75: float | None
    p95: float | None
    n: int


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) of sorted values, interpolating linearly (type 7)."""
    if not ordered:
        raise ValueError("no values")
    h = (len(ordered) - 1) * p / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def agp(readings: Sequence[Reading], bin_minutes: int = 15) -> list[AgpBin]:
    """Every bin of the local day, in order, empty ones included, so a chart can show the gaps.

    ``bin_minutes`` must divide 1440, so the last bin ends at midnight.
    """
    if bin_minutes <= 0 or MINUTES_PER_DAY % bin_minutes:
        raise ValueError("bin_minutes must divide 1440")
    buckets: list[list[float]] = [[] for _ in range(MINUTES_PER_DAY // bin_minutes)]
    for reading in readings:
        minute = reading.local.hour * 60 + reading.local.minute
        buckets[minute // bin_minutes].append(float(reading.mg))
    bins: list[AgpBin] = []
    for index, values in enumerate(buckets):
        values.sort()
        if values:
            p5, p25, p50, p75, p95 = (percentile(values, p) for p in PERCENTILES)
            bins.append(AgpBin(index * bin_minutes, p5, p25, p50, p75, p95, len(values)))
        else:
            bins.append(AgpBin(index * bin_minutes, None, None, None, None, None, 0))
    return bins

"""The Trends view (Tidepool Web's): 1, 2 or 4 weeks folded onto one local day.

- **CGM**: 48 bins of 30 minutes, each with min, the 10th, 25th, 50th, 75th and 90th percentiles and
  max of its readings (linear interpolation, type 7, as the AGP), so the page can draw the 100 %,
  80 % and 50 % bands and the median, each toggled on or off.
- **BGM**: 8 bins of 3 hours with min, mean and max of the meter readings.
- **Days of week**: only readings whose local day is one of the chosen weekdays (Monday = 0) count.
- **Each day's trace**: the readings of one local day, for a slice that opens a day.
Values are whole mg/dL (the numbers the ranges classify); pages show them in the person's unit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from inlet.model import glucose as units
from inlet.reports.agp import percentile
from inlet.reports.glucose import Reading, mg_dl
from inlet.reports.insulin import local

PERIOD_WEEKS = (1, 2, 4)
CGM_BIN_MINUTES = 30
BGM_BIN_HOURS = 3
CGM_PERCENTILES = (10, 25, 50, 75, 90)
ALL_WEEKDAYS = frozenset(range(7))


@dataclass(frozen=True, slots=True)
class CgmBin:
    minute_of_day: int
    n: int
    low: float | None = None  # min
    p10: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None
    high: float | None = None  # max


@dataclass(frozen=True, slots=True)
class BgmBin:
    hour_of_day: int
    n: int
    low: float | None = None
    mean: float | None = None
    high: float | None = None


def period(last_day: date, weeks: int) -> tuple[date, date]:
    """The local days of the period ending with ``last_day``: 7, 14 or 28 days."""
    if weeks not in PERIOD_WEEKS:
        raise ValueError("weeks must be 1, 2 or 4")
    return last_day - timedelta(days=7 * weeks - 1), last_day


def _chosen(day: date, first: date, last: date, weekdays: Collection[int]) -> bool:
    return first <= day <= last and day.weekday() in weekdays


def cgm_bins(
    readings: Iterable[Reading], first: date, last: date, weekdays: Collection[int] = ALL_WEEKDAYS
) -> list[CgmBin]:
    buckets: list[list[float]] = [[] for _ in range(1440 // CGM_BIN_MINUTES)]
    for reading in readings:
        if _chosen(reading.local.date(), first, last, weekdays):
            minute = reading.local.hour * 60 + reading.local.minute
            buckets[minute // CGM_BIN_MINUTES].append(float(reading.mg))
    out = []
    for index, values in enumerate(buckets):
        start = index * CGM_BIN_MINUTES
        if not values:
            out.append(CgmBin(start, 0))
            continue
        values.sort()
        p10, p25, p50, p75, p90 = (percentile(values, p) for p in CGM_PERCENTILES)
        out.append(CgmBin(start, len(values), values[0], p10, p25, p50, p75, p90, values[-1]))
    return out


def meter_readings(docs: Iterable[Mapping[str, Any]]) -> list[tuple[Any, int]]:
    """``(local wall clock, whole mg/dL)`` of each smbg datum, in time order."""
    found = []
    for doc in docs:
        value = doc.get("value")
        if doc.get("type") != "smbg" or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        wall = local(doc)
        mmol = units.normalize_value(float(value), doc.get("units"))
        if wall is not None and mmol is not None:
            found.append((wall, mg_dl(float(mmol))))
    found.sort(key=lambda item: item[0])
    return found


def bgm_bins(
    docs: Iterable[Mapping[str, Any]], first: date, last: date, weekdays: Collection[int] = ALL_WEEKDAYS
) -> list[BgmBin]:
    buckets: list[list[int]] = [[] for _ in range(24 // BGM_BIN_HOURS)]
    for wall, mg in meter_readings(docs):
        if _chosen(wall.date(), first, last, weekdays):
            buckets[wall.hour // BGM_BIN_HOURS].append(mg)
    return [
        BgmBin(i * BGM_BIN_HOURS, len(v), min(v), sum(v) / len(v), max(v))
        if v
        else BgmBin(i * BGM_BIN_HOURS, 0)
        for i, v in enumerate(buckets)
    ]


def day_trace(readings: Sequence[Reading], day: date) -> list[Reading]:
    """The readings of one local day (a slice that opens the day's trace)."""
    return [r for r in readings if r.local.date() == day]

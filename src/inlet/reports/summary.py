"""The consensus CGM overview of a period: time in ranges, mean, SD, CV, GMI, sensor use.

Choices, following the shared metrics reference (the 2019 consensus; Tidepool's web app where the
consensus leaves room), and where both are silent:

- **Which readings.** Those with ``start <= time < end`` (half-open, so consecutive periods never
  share a reading).
- **Time in ranges** is weighted by each reading's ``sampleInterval`` (5 minutes when absent), as in
  Tidepool: a 15-minute Libre reading stands for three times the time of a 5-minute Dexcom reading.
  Ranges are classified in whole mg/dL (see ``inlet.reports.glucose``).
- **Mean, SD and CV are per reading, not time-weighted.** The brief asks for the sample SD, which is a
  per-reading statistic; the mean it divides must be the same kind of mean for CV to mean anything.
  This is also what Tidepool's web app and iglu compute. They are taken on unrounded values
  (``mmol x 18.01559``), because rounding to whole mg/dL is for classification only.
- **SD and CV need two readings** (the sample SD is undefined for one). Tidepool's web app asks for 30
  before showing SD; that is a display rule for the page, not a property of the number.
- **Sensor use** is the time covered by readings, each covering ``[time, time + interval)``, clipped to
  the period and with overlaps counted once, over the period's length. For non-overlapping data this
  is exactly Tidepool's "sum of sampleInterval / period"; counting overlaps once keeps it <= 100% when
  1-minute data arrives with a 5-minute interval.
- **GMI** is shown only when the period is at least 14 days long and the covered time is at least
  70% of 14 days (9.8 days), as Tidepool's web app suppresses it. Exactly 70% qualifies (the consensus
  says ">= 70%"); the comparison is done in integer milliseconds so that it is exact.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from inlet.model.glucose import MGDL_PER_MMOLL
from inlet.reports.glucose import RANGES, Reading

DAY_MS = 86_400_000
GMI_MIN_DAYS = 14
GMI_MIN_COVERAGE_TENTHS = 7
"""GMI needs covered time >= 7/10 of 14 days."""


@dataclass(frozen=True, slots=True)
class Overview:
    """The ten consensus numbers of a period (fractions 0..1 for ranges and use, percents for CV, GMI)."""

    start: datetime
    end: datetime
    days: float
    readings: int
    ranges: dict[str, float]
    mean_mg: float | None
    mean_mmol: float | None
    sd_mg: float | None
    cv: float | None
    gmi: float | None
    sensor_use: float


def gmi_percent(mean_mg: float) -> float:
    """Glucose management indicator (Bergenstal 2018): ``3.31 + 0.02392 x mean mg/dL``, unrounded."""
    return 3.31 + 0.02392 * mean_mg


def _ms(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def covered_ms(readings: Sequence[Reading], start: datetime, end: datetime) -> int:
    """Milliseconds of ``[start, end)`` covered by the readings' ``[time, time + interval)``, once each."""
    total = 0
    reach = start  # everything before ``reach`` is already counted
    for reading in sorted(readings, key=lambda r: r.time):
        lo = max(reading.time, reach)
        hi = min(reading.time + timedelta(milliseconds=reading.interval_ms), end)
        if hi > lo:
            total += _ms(hi - lo)
            reach = hi
    return total


def overview(readings: Sequence[Reading], start: datetime, end: datetime) -> Overview:
    """The overview of the readings in ``[start, end)``; ``start`` and ``end`` are aware datetimes.

    With no readings every range is 0.0 and the statistics are ``None``: a page shows "no data"
    instead of a 0% time in range.
    """
    if end <= start:
        raise ValueError("the period must end after it starts")
    inside = [r for r in readings if start <= r.time < end]
    period_ms = _ms(end - start)
    weights = dict.fromkeys(RANGES, 0)
    for reading in inside:
        weights[reading.range] += reading.interval_ms
    total_weight = sum(weights.values())
    ranges = {name: (w / total_weight if total_weight else 0.0) for name, w in weights.items()}

    mean_mmol = statistics.fmean(r.mmol for r in inside) if inside else None
    mean_mg = mean_mmol * MGDL_PER_MMOLL if mean_mmol is not None else None
    sd_mg: float | None = None
    cv: float | None = None
    if len(inside) >= 2 and mean_mg is not None:
        sd_mg = statistics.stdev(r.mmol * MGDL_PER_MMOLL for r in inside)
        cv = sd_mg / mean_mg * 100 if mean_mg > 0 else None

    covered = covered_ms(inside, start, end)
    enough = (
        period_ms >= GMI_MIN_DAYS * DAY_MS and covered * 10 >= GMI_MIN_COVERAGE_TENTHS * GMI_MIN_DAYS * DAY_MS
    )
    gmi = gmi_percent(mean_mg) if enough and mean_mg is not None else None
    return Overview(
        start=start,
        end=end,
        days=period_ms / DAY_MS,
        readings=len(inside),
        ranges=ranges,
        mean_mg=mean_mg,
        mean_mmol=mean_mmol,
        sd_mg=sd_mg,
        cv=cv,
        gmi=gmi,
        sensor_use=min(1.0, covered / period_ms),
    )

"""The BG Log (Tidepool Web's, for meter users): two weeks of meter readings, one row per local day
with each reading's time and value, the day's count and mean. Pure; values in whole mg/dL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from inlet.reports.trends import meter_readings

LOG_DAYS = 14


@dataclass
class LogDay:
    day: date
    readings: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def mean(self) -> float | None:
        return sum(mg for _, mg in self.readings) / len(self.readings) if self.readings else None


def bg_log(docs: Iterable[Mapping[str, Any]], last_day: date, days: int = LOG_DAYS) -> list[LogDay]:
    """The ``days`` local days ending with ``last_day``, newest first, each with its readings in time
    order (a day without readings is listed, empty: a gap is information)."""
    first = last_day - timedelta(days=days - 1)
    rows = {first + timedelta(days=i): LogDay(first + timedelta(days=i)) for i in range(days)}
    for wall, mg in meter_readings(docs):
        row = rows.get(wall.date())
        if row is not None:
            row.readings.append((wall, mg))
    return [rows[d] for d in sorted(rows, reverse=True)]

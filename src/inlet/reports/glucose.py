"""CGM readings for reports: whole mg/dL, the consensus ranges, and stored cbg datums as ``Reading``.

Reports classify in whole mg/dL on the 2019 consensus boundaries (Battelino et al.), not in mmol/L as
Tidepool's summary service does: there a stored 54 mg/dL (2.99739 mmol/L) lands in "very low" and 70
mg/dL in "low". Rounding a stored mmol/L value back to whole mg/dL recovers the uploaded mg/dL exactly
(the stored value has 5 decimals), and a mmol/L upload lands where its mg/dL equivalent does
(3.0 mmol/L -> 54, 3.9 -> 70, 10.0 -> 180, 13.9 -> 250).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from inlet.model import glucose as units
from inlet.model.timeutil import parse_rfc3339

VERY_LOW = "veryLow"
LOW = "low"
TARGET = "target"
HIGH = "high"
VERY_HIGH = "veryHigh"
RANGES = (VERY_LOW, LOW, TARGET, HIGH, VERY_HIGH)
"""The five consensus ranges, lowest first; every range dict in reports has exactly these keys."""

VERY_LOW_BELOW_MG = 54
LOW_BELOW_MG = 70
HIGH_ABOVE_MG = 180
VERY_HIGH_ABOVE_MG = 250

DEFAULT_INTERVAL_MS = 300_000
"""A cbg without ``sampleInterval`` counts for 5 minutes, the usual CGM cadence."""


def mg_dl(mmol: float) -> int:
    """Whole mg/dL: ``mmol x 18.01559`` rounded half away from zero (the platform's factor)."""
    return units.mmoll_to_mgdl(mmol)


def classify(mg: int) -> str:
    """The consensus range of a whole mg/dL value: <54, 54-69, 70-180, 181-250, >250."""
    if mg < VERY_LOW_BELOW_MG:
        return VERY_LOW
    if mg < LOW_BELOW_MG:
        return LOW
    if mg <= HIGH_ABOVE_MG:
        return TARGET
    if mg <= VERY_HIGH_ABOVE_MG:
        return HIGH
    return VERY_HIGH


@dataclass(frozen=True, slots=True)
class Reading:
    """One CGM reading: the instant (aware UTC), the wall clock it was taken at (naive), its value.

    ``local`` is ``time + timezoneOffset``; a datum without an offset is shown in UTC, because
    guessing a zone would move readings between days silently.
    """

    time: datetime
    local: datetime
    mg: int
    mmol: float
    interval_ms: int

    @property
    def range(self) -> str:
        return classify(self.mg)


def _reading(doc: Mapping[str, Any]) -> Reading | None:
    text = doc.get("time")
    value = doc.get("value")
    if not isinstance(text, str) or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    parsed = parse_rfc3339(text)
    if parsed is None:
        return None
    mmol = float(units.normalize_value(float(value), doc.get("units")) or 0.0)
    offset = doc.get("timezoneOffset")
    offset_min = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
    interval = doc.get("sampleInterval")
    interval_ms = (
        interval
        if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0
        else DEFAULT_INTERVAL_MS
    )
    time = parsed.astimezone(UTC)
    local = (time + timedelta(minutes=offset_min)).replace(tzinfo=None)
    return Reading(time=time, local=local, mg=mg_dl(mmol), mmol=mmol, interval_ms=interval_ms)


def readings_from_docs(docs: Iterable[Mapping[str, Any]]) -> list[Reading]:
    """The cbg datums among ``docs`` as readings, in time order, one per instant.

    Other types are ignored, so a page can pass everything it read. Of several readings at exactly
    the same instant the first one given is kept: they are copies of one sample (re-uploads, a
    partner and a device), and counting both would double its weight. A cbg without a parseable
    time or a numeric value is skipped rather than failing the whole report.
    """
    found: list[Reading] = []
    for doc in docs:
        if doc.get("type") != "cbg":
            continue
        reading = _reading(doc)
        if reading is not None:
            found.append(reading)
    found.sort(key=lambda r: r.time)  # stable: the first of equal times stays first
    unique: list[Reading] = []
    for reading in found:
        if unique and unique[-1].time == reading.time:
            continue
        unique.append(reading)
    return unique

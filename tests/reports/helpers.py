"""Builders for stored cbg datums and readings, so tests state only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from inlet.model.glucose import mgdl_to_mmoll
from inlet.reports.glucose import Reading, readings_from_docs

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def cbg(
    when: datetime, mg: int, *, interval_ms: int | None = None, offset_min: int | None = None
) -> dict[str, Any]:
    """A cbg datum as stored: mmol/L rounded to 5 decimals from the uploaded mg/dL."""
    doc: dict[str, Any] = {
        "type": "cbg",
        "time": rfc3339(when),
        "value": mgdl_to_mmoll(mg),
        "units": "mmol/L",
    }
    if interval_ms is not None:
        doc["sampleInterval"] = interval_ms
    if offset_min is not None:
        doc["timezoneOffset"] = offset_min
    return doc


def series(
    mgs: list[int], *, start: datetime = T0, every: timedelta = timedelta(minutes=5), **kwargs: Any
) -> list[Reading]:
    """Readings ``every`` apart from ``start`` with the given values."""
    return readings_from_docs(cbg(start + every * i, mg, **kwargs) for i, mg in enumerate(mgs))

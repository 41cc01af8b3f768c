"""Blood glucose units: the one place that knows mg/dL, mmol/L and the factor between them.

Tidepool stores every glucose value in mmol/L: ``value / 18.01559`` rounded to 5 decimals, half away
from zero (platform ``data/blood/glucose/glucose.go``). Never 18.0182.
"""

from __future__ import annotations

import math

MGDL_PER_MMOLL = 18.01559

MMOLL = "mmol/L"
MGDL = "mg/dL"
UNITS_MMOLL = ("mmol/L", "mmol/l")
UNITS_MGDL = ("mg/dL", "mg/dl")
UNITS = (*UNITS_MMOLL, *UNITS_MGDL)

MMOLL_MIN, MMOLL_MAX = 0.0, 55.0
MGDL_MIN, MGDL_MAX = 0.0, 1000.0

RATE_UNITS_MMOLL = "mmol/L/minute"
RATE_UNITS_MGDL = "mg/dL/minute"
RATE_UNITS = (RATE_UNITS_MMOLL, RATE_UNITS_MGDL)
RATE_MMOLL_MIN, RATE_MMOLL_MAX = -5.5, 5.5
RATE_MGDL_MIN, RATE_MGDL_MAX = -100.0, 100.0


def is_mgdl(units: str | None) -> bool:
    return units in UNITS_MGDL


def range_for_units(units: str | None) -> tuple[float, float] | None:
    """Inclusive value range for known units, ``None`` for unknown units."""
    if units in UNITS_MMOLL:
        return (MMOLL_MIN, MMOLL_MAX)
    if units in UNITS_MGDL:
        return (MGDL_MIN, MGDL_MAX)
    return None


def rate_range_for_units(units: str | None) -> tuple[float, float] | None:
    if units == RATE_UNITS_MMOLL:
        return (RATE_MMOLL_MIN, RATE_MMOLL_MAX)
    if units == RATE_UNITS_MGDL:
        return (RATE_MGDL_MIN, RATE_MGDL_MAX)
    return None


def round5(value: float) -> float:
    """Round to 5 decimals, half away from zero, exactly as the platform does it.

    (inlet.model.fastpath inlines this expression; change both together.)"""
    return math.trunc(value * 100000.0 + math.copysign(0.5, value)) / 100000.0


def mgdl_to_mmoll(value: float) -> float:
    return round5(value / MGDL_PER_MMOLL)


def normalize_units(units: str | None) -> str | None:
    """``mg/dL``, ``mg/dl``, ``mmol/l`` all store as ``mmol/L``; unknown units pass through."""
    if units in UNITS:
        return MMOLL
    return units


def normalize_value(value: float | None, units: str | None) -> float | None:
    """A value in ``units`` as stored (mmol/L); mmol/L and unknown units pass through unchanged."""
    if value is None:
        return None
    if units in UNITS_MGDL:
        return mgdl_to_mmoll(value)
    return value


def normalize_rate(value: float | None, units: str | None) -> float | None:
    if value is None:
        return None
    if units == RATE_UNITS_MGDL:
        return mgdl_to_mmoll(value)
    return value


def normalize_rate_units(units: str | None) -> str | None:
    if units in RATE_UNITS:
        return RATE_UNITS_MMOLL
    return units


def mmoll_to_mgdl(value: float) -> int:
    """Whole mg/dL as reports classify readings: ``round(mmol/L x 18.01559)``, half away from zero."""
    scaled = value * MGDL_PER_MMOLL
    return math.floor(scaled + 0.5) if scaled >= 0 else -math.floor(-scaled + 0.5)

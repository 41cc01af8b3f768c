"""Glucose values as people read them, in the unit they chose.

Reports compute in whole mg/dL (``inlet.reports.glucose``); this module only turns a mg/dL value into
text: mg/dL as a whole number, mmol/L with one decimal (``mg / 18.01559``, rounded half away from
zero), the way meters and Tidepool Web show them. Targets convert between units the same way, and
mmol/L targets convert back to whole mg/dL, so a round trip lands where it started (3.9 <-> 70,
10.0 <-> 180).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from inlet.model.glucose import MGDL_PER_MMOLL

MGDL = "mg/dL"
MMOLL = "mmol/L"
UNITS = (MGDL, MMOLL)
DEFAULT_LOW_MG = 70
DEFAULT_HIGH_MG = 180


def _half_up(value: float, places: int) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP)


def mmol_of(mg: float) -> float:
    """mg/dL -> mmol/L with one decimal, half away from zero (values here are never negative)."""
    return float(_half_up(mg / MGDL_PER_MMOLL, 1))


def mg_of(mmol: float) -> int:
    """mmol/L -> whole mg/dL, half away from zero."""
    return int(_half_up(mmol * MGDL_PER_MMOLL, 0))


def value_in(mg: float, unit: str) -> float:
    """The number a person reads for ``mg`` in ``unit``: whole mg/dL, or mmol/L to one decimal."""
    return mmol_of(mg) if unit == MMOLL else float(_half_up(mg, 0))


def show(mg: float, unit: str, *, with_unit: bool = False) -> str:
    """``126`` in mg/dL, ``7.0`` in mmol/L; ``with_unit`` appends the unit."""
    text = f"{mmol_of(mg):.1f}" if unit == MMOLL else f"{_half_up(mg, 0):.0f}"
    return f"{text} {unit}" if with_unit else text


def from_person(value: float, unit: str) -> int:
    """A value a person entered in ``unit`` as whole mg/dL."""
    return mg_of(value) if unit == MMOLL else int(_half_up(value, 0))


@dataclass(frozen=True, slots=True)
class Preferences:
    """How one person's glucose is shown: the unit and the target range (kept in whole mg/dL)."""

    unit: str = MGDL
    low_mg: int = DEFAULT_LOW_MG
    high_mg: int = DEFAULT_HIGH_MG
    site_change_source: str | None = None

    def show(self, mg: float, *, with_unit: bool = False) -> str:
        return show(mg, self.unit, with_unit=with_unit)

    @property
    def target_text(self) -> str:
        return f"{self.show(self.low_mg)}-{self.show(self.high_mg)} {self.unit}"


def range_labels(unit: str) -> dict[str, str]:
    """The consensus ranges' labels in ``unit`` (boundaries 54, 70, 180, 250 mg/dL)."""
    if unit == MMOLL:  # the consensus's own mmol/L boundaries (181 mg/dL reads 10.0, so "10.1")
        return {
            "veryHigh": f"Very high (>13.9 {unit})",
            "high": f"High (10.1-13.9 {unit})",
            "target": f"Target (3.9-10.0 {unit})",
            "low": f"Low (3.0-3.8 {unit})",
            "veryLow": f"Very low (<3.0 {unit})",
        }
    return {
        "veryHigh": f"Very high (>250 {unit})",
        "high": f"High (181-250 {unit})",
        "target": f"Target (70-180 {unit})",
        "low": f"Low (54-69 {unit})",
        "veryLow": f"Very low (<54 {unit})",
    }

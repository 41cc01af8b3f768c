"""cbg: a continuous glucose monitor reading (platform data/types/blood/glucose/continuous)."""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model import glucose
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import MISSING, Bool, Canonical, Context, Float, Glucose, GlucoseUnits, Int, OneOf

TRENDS = ("constant", "slowFall", "slowRise", "moderateFall", "moderateRise", "rapidFall", "rapidRise")
SAMPLE_INTERVAL_MIN, SAMPLE_INTERVAL_MAX = 0, 86_400_000


class TrendRate(Float):
    """A rate of change in ``trendRateUnits``: +-100 mg/dL/minute or +-5.5 mmol/L/minute."""

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        units = (ctx.parent or {}).get("trendRateUnits")
        bounds = glucose.rate_range_for_units(units if isinstance(units, str) else None)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            errs.add(ptr, e.not_in_range(value, bounds[0], bounds[1]))

    def normalize(self, value: Any, ctx: Context) -> Any:
        units = (ctx.parent or {}).get("trendRateUnits")
        return glucose.normalize_rate(value, units if isinstance(units, str) else None)


def _trend_rate_needs_units(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if values.get("trendRate", MISSING) is not MISSING and "trendRateUnits" not in values:
        errs.add(f"{ptr}/trendRateUnits", e.not_exists())


CBG = DatumType(
    type="cbg",
    units_key="units",
    fields={
        "units": GlucoseUnits(),
        "value": Glucose(),
        "trend": OneOf(*TRENDS),
        "trendRate": TrendRate(),
        "trendRateUnits": Canonical(dict.fromkeys(glucose.RATE_UNITS, glucose.RATE_UNITS_MMOLL)),
        "sampleInterval": Int(SAMPLE_INTERVAL_MIN, SAMPLE_INTERVAL_MAX),
        "backfilled": Bool(),
    },
    required=("units", "value"),
    rules=(_trend_rate_needs_units,),
    description="continuous glucose monitor reading",
)

TYPES = [CBG]

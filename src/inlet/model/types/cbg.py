"""cbg: a continuous glucose monitor reading (platform data/types/blood/glucose/continuous)."""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model import glucose
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import Bool, Canonical, Context, Float, Glucose, GlucoseUnits, Int, OneOf
from inlet.model.types.settings_common import check_exists, check_not_exists, value_of

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


def _trend_rate_units_go_with_trend_rate(
    values: dict[str, Any], ptr: str, errs: Errors, ctx: Context
) -> None:
    """continuous.go: ``trendRateUnits`` Exists() with a ``trendRate`` and NotExists() without one
    (``value-exists`` at ``trendRateUnits``: units of a rate that is not there)."""
    if value_of(values, "trendRate") is not None:
        check_exists(values, "trendRateUnits", ptr, errs)
    else:
        check_not_exists(values, "trendRateUnits", ptr, errs)


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
    rules=(_trend_rate_units_go_with_trend_rate,),
    description="continuous glucose monitor reading",
)

TYPES = [CBG]

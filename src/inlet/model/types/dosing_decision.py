"""dosingDecision: what an automated insulin delivery app decided and why
(platform data/types/dosingdecision).

Glucose values (``smbg``, ``bgTargetSchedule``, ``bgHistorical``, ``bgForecast``) are in
``units.bloodGlucose`` and stored in mmol/L; forecast values have no range (they are predictions).

- ``reason`` (required, <= 100 chars); ``units`` (required) {bloodGlucose, carbohydrate, insulin}.
- ``originalFood`` / ``food`` {time, nutrition (required)}: nutrition as in the food type
  {estimatedAbsorptionDuration 0..86400 s, carbohydrate {net (required), total, sugars, dietaryFiber
  0..1000 g, units grams}, energy {units, value <= 10000 kcal or equivalent}, fat / protein {total
  0..1000 g, units grams}}.
- ``smbg`` {time, value}; ``carbsOnBoard`` {startTime, endTime after startTime, amount 0..1000};
  ``insulinOnBoard`` {startTime, amount -1000..1000}; ``bgTargetSchedule`` (pump settings' targets by
  time of day); ``bgHistorical`` / ``bgForecast`` (1..1440 of {time, value}).
- ``recommendedBasal`` {time, rate 0..100, duration 0..86400}; ``recommendedBolus`` / ``requestedBolus``
  {amount 0..100} or {normal 0..100, extended 0..100 with duration 0..86400000 ms}.
- ``warnings`` / ``errors``: 1..100 issues {id <= 100 chars, metadata (free-form object, kept as sent)}.
- ``scheduleTimeZoneOffset`` -10080..10080.
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.errors import Errors
from inlet.model.fields import (
    Context,
    Field,
    Float,
    Glucose,
    GlucoseUnits,
    Int,
    NonEmptyArr,
    Obj,
    OneOf,
    Str,
    Time,
)
from inlet.model.timeutil import format_rfc3339_nano
from inlet.model.types.settings_common import (
    TIMEZONE_OFFSET_MAX,
    TIMEZONE_OFFSET_MIN,
    GlucoseAmount,
    Metadata,
    ObjectUnitsType,
    check_exists,
    check_in_range,
    check_not_exists,
    range_by_units,
    target_start_array,
    value_of,
)

TYPE = "dosingDecision"
REASON_MAX = 100
GLUCOSE_ARRAY_MAX = 1440
ISSUES_MAX = 100
ISSUE_ID_MAX = 100
CARBS_ON_BOARD_MAX = 1000.0
INSULIN_ON_BOARD_MIN, INSULIN_ON_BOARD_MAX = -1000.0, 1000.0
RECOMMENDED_BASAL_RATE_MAX = 100.0
RECOMMENDED_BASAL_DURATION_MAX = 86400
BOLUS_AMOUNT_MAX = 100.0
BOLUS_DURATION_MAX = 86_400_000
NUTRIENT_GRAMS_MAX = 1000.0
ABSORPTION_SECONDS_MAX = 86400
ENERGY_RANGES = {
    "calories": (0.0, 10_000_000.0),
    "joules": (0.0, 41_858_000.0),
    "kilocalories": (0.0, 10_000.0),
    "kilojoules": (0.0, 41_858.0),
}


def _end_after_start(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    start, end = value_of(values, "startTime"), value_of(values, "endTime")
    if start is not None and end is not None and not end > start:
        errs.add(f"{ptr}/endTime", e.not_after(format_rfc3339_nano(end), format_rfc3339_nano(start)))


# ---- food ---------------------------------------------------------------------------------------

_GRAMS = Float(0.0, NUTRIENT_GRAMS_MAX)
NUTRITION = Obj(
    {
        "estimatedAbsorptionDuration": Int(0, ABSORPTION_SECONDS_MAX),
        "carbohydrate": Obj(
            {
                "dietaryFiber": _GRAMS,
                "net": _GRAMS,
                "sugars": _GRAMS,
                "total": _GRAMS,
                "units": OneOf("grams"),
            },
            required=("net", "units"),
        ),
        "energy": Obj(
            {"units": OneOf(*ENERGY_RANGES), "value": Float()},
            required=("units", "value"),
            rules=(range_by_units("value", "units", ENERGY_RANGES),),
        ),
        "fat": Obj({"total": _GRAMS, "units": OneOf("grams")}, required=("total", "units")),
        "protein": Obj({"total": _GRAMS, "units": OneOf("grams")}, required=("total", "units")),
    }
)
FOOD = Obj({"time": Time(), "nutrition": NUTRITION}, required=("nutrition",))

# ---- glucose --------------------------------------------------------------------------------------

SMBG = Obj({"time": Time(), "value": Glucose()}, required=("value",))
BG_HISTORICAL = NonEmptyArr(SMBG, GLUCOSE_ARRAY_MAX)
BG_FORECAST = NonEmptyArr(
    Obj({"time": Time(), "value": GlucoseAmount()}, required=("value",)), GLUCOSE_ARRAY_MAX
)

# ---- insulin ----------------------------------------------------------------------------------------


def _bolus_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if value_of(values, "amount") is not None:
        check_in_range(values, "amount", 0.0, BOLUS_AMOUNT_MAX, ptr, errs)
        for key in ("duration", "extended", "normal"):
            check_not_exists(values, key, ptr, errs)
    else:
        if value_of(values, "extended") is not None:
            check_exists(values, "duration", ptr, errs)
            check_in_range(values, "duration", 0, BOLUS_DURATION_MAX, ptr, errs)
        else:
            check_not_exists(values, "duration", ptr, errs)
        check_in_range(values, "extended", 0.0, BOLUS_AMOUNT_MAX, ptr, errs)
        check_in_range(values, "normal", 0.0, BOLUS_AMOUNT_MAX, ptr, errs)
    if not any(key in values for key in ("amount", "extended", "normal")):
        errs.add(ptr, e.values_not_exist_for_any("amount", "extended", "normal"))


BOLUS = Obj(
    {"amount": Float(), "duration": Int(), "extended": Float(), "normal": Float()},
    rules=(_bolus_rule,),
)
"""A recommended or requested bolus: an ``amount``, or ``normal`` and/or ``extended`` over ``duration``."""

ISSUES = NonEmptyArr(Obj({"id": Str(ISSUE_ID_MAX), "metadata": Metadata()}, required=("id",)), ISSUES_MAX)

UNITS = Obj(
    {"bloodGlucose": GlucoseUnits(), "carbohydrate": OneOf("exchanges", "grams"), "insulin": OneOf("Units")},
    required=("bloodGlucose", "carbohydrate", "insulin"),
)

FIELDS: dict[str, Field] = {
    "reason": Str(REASON_MAX),
    "originalFood": FOOD,
    "food": FOOD,
    "smbg": SMBG,
    "carbsOnBoard": Obj(
        {"startTime": Time(), "endTime": Time(), "amount": Float(0.0, CARBS_ON_BOARD_MAX)},
        required=("amount",),
        rules=(_end_after_start,),
    ),
    "insulinOnBoard": Obj(
        {"startTime": Time(), "amount": Float(INSULIN_ON_BOARD_MIN, INSULIN_ON_BOARD_MAX)},
        required=("amount",),
    ),
    "bgTargetSchedule": target_start_array(),
    "bgHistorical": BG_HISTORICAL,
    "bgForecast": BG_FORECAST,
    "recommendedBasal": Obj(
        {
            "time": Time(),
            "rate": Float(0.0, RECOMMENDED_BASAL_RATE_MAX),
            "duration": Int(0, RECOMMENDED_BASAL_DURATION_MAX),
        },
        required=("rate",),
    ),
    "recommendedBolus": BOLUS,
    "requestedBolus": BOLUS,
    "warnings": ISSUES,
    "errors": ISSUES,
    "scheduleTimeZoneOffset": Int(TIMEZONE_OFFSET_MIN, TIMEZONE_OFFSET_MAX),
    "units": UNITS,
}

DOSING_DECISION = ObjectUnitsType(
    type=TYPE,
    fields=FIELDS,
    required=("reason", "units"),
    description="automated dosing decision",
    units_object="units",
    units_member="bloodGlucose",
)

TYPES = [DOSING_DECISION]

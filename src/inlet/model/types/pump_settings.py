"""pumpSettings: an insulin pump's (or AID app's) therapy settings (platform data/types/settings/pump).

Glucose amounts (bgTarget(s), insulinSensitivity(ies), bgSafetyLimit, bgTargetPhysicalActivity,
bgTargetPreprandial, override presets' bgTarget) are in ``units.bg`` and stored in mmol/L.

- schedules: ``basalSchedule`` / ``basalSchedules`` ({name: [{rate 0..100, start}]}), ``bgTarget`` /
  ``bgTargets``, ``carbRatio`` / ``carbRatios`` (amount 0..250), ``insulinSensitivity`` /
  ``insulinSensitivities``; each start (ms) is 0 for the first segment, then strictly increasing up to
  86400000; the single and the named form of a schedule are exclusive.
- ``activeSchedule`` (required), ``automatedDelivery``, ``basal`` {rateMaximum {units Units/hour, value
  0..100}, temporary {type}}, ``bolus`` / ``boluses`` {amountMaximum {units Units, value 0..100},
  calculator {enabled, insulin {duration 0..10 h, units}}, extended {enabled}}, ``display``
  {bloodGlucose {units}}, ``insulinFormulation``, ``insulinModel`` {modelType, modelTypeOther,
  actionDelay / actionDuration 0..86400 s, actionPeakOffset 0..actionDuration}, ``overridePresets``
  {name: {abbreviation, duration <= 7 d, bgTarget, scale factors 0.1..10}}, ``sleepSchedules``
  {name: {enabled, days, start, end 0..86400 s}}, ``scheduleTimeZoneOffset`` -10080..10080,
  ``units`` {bg, carb, insulin}, and the device description (manufacturers, model, name, serialNumber,
  firmware/hardware/software versions).
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.errors import Errors
from inlet.model.fields import (
    Bool,
    Context,
    Field,
    Float,
    Glucose,
    GlucoseUnits,
    Int,
    MapOf,
    Obj,
    OneOf,
    Str,
)
from inlet.model.types.insulin_common import FORMULATION
from inlet.model.types.settings_common import (
    DAYS_OF_WEEK,
    DURATION_WEEK_MS,
    SCALE_FACTOR_MAX,
    SCALE_FACTOR_MIN,
    TARGET,
    TIMEZONE_OFFSET_MAX,
    TIMEZONE_OFFSET_MIN,
    DaysArr,
    ObjectUnitsType,
    check_exists,
    check_in_range,
    check_not_exists,
    device_fields,
    one_schedule_form,
    range_by_units,
    start_array,
    target_start_array,
    value_of,
)

TYPE = "pumpSettings"
BASAL_RATE_MAX = 100.0
CARB_RATIO_MAX = 250.0
BOLUS_AMOUNT_MAX = 100.0
CALCULATOR_DURATION_HOURS_MAX = 10.0
INSULIN_MODEL_TYPES = ("fiasp", "other", "rapidAdult", "rapidChild", "walsh")
INSULIN_MODEL_OTHER_MAX = 100
INSULIN_MODEL_SECONDS_MAX = 86400
SLEEP_OFFSET_MAX = 86400
TEXT_MAX = 100

# ---- schedules -----------------------------------------------------------------------------------

BASAL_SCHEDULE = start_array({"rate": Float(0.0, BASAL_RATE_MAX)}, ("rate",))
CARB_RATIO_SCHEDULE = start_array({"amount": Float(0.0, CARB_RATIO_MAX)}, ("amount",))
INSULIN_SENSITIVITY_SCHEDULE = start_array({"amount": Glucose()}, ("amount",))
BG_TARGET_SCHEDULE = target_start_array()

# ---- basal and bolus limits ------------------------------------------------------------------------

BASAL = Obj(
    {
        "rateMaximum": Obj(
            {"units": OneOf("Units/hour"), "value": Float()},
            required=("units", "value"),
            rules=(range_by_units("value", "units", {"Units/hour": (0.0, BASAL_RATE_MAX)}),),
        ),
        "temporary": Obj({"type": OneOf("percent", "units/hour")}, required=("type",)),
    }
)

_HOURS = CALCULATOR_DURATION_HOURS_MAX
BOLUS = Obj(
    {
        "amountMaximum": Obj(
            {"units": OneOf("Units"), "value": Float()},
            required=("units", "value"),
            rules=(range_by_units("value", "units", {"Units": (0.0, BOLUS_AMOUNT_MAX)}),),
        ),
        "calculator": Obj(
            {
                "enabled": Bool(),
                "insulin": Obj(
                    {"duration": Float(), "units": OneOf("hours", "minutes", "seconds")},
                    required=("duration", "units"),
                    rules=(
                        range_by_units(
                            "duration",
                            "units",
                            {
                                "hours": (0.0, _HOURS),
                                "minutes": (0.0, _HOURS * 60),
                                "seconds": (0.0, _HOURS * 3600),
                            },
                        ),
                    ),
                ),
            },
            required=("enabled",),
        ),
        "extended": Obj({"enabled": Bool()}, required=("enabled",)),
    }
)

# ---- insulin model ---------------------------------------------------------------------------------


def _insulin_model_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if value_of(values, "modelType") == "other":
        check_exists(values, "modelTypeOther", ptr, errs)
    else:
        check_not_exists(values, "modelTypeOther", ptr, errs)
    duration = value_of(values, "actionDuration")
    maximum = INSULIN_MODEL_SECONDS_MAX
    if duration is not None and 0 <= duration <= INSULIN_MODEL_SECONDS_MAX:
        maximum = duration
    check_in_range(values, "actionPeakOffset", 0, maximum, ptr, errs)


INSULIN_MODEL = Obj(
    {
        "modelType": OneOf(*INSULIN_MODEL_TYPES),
        "modelTypeOther": Str(INSULIN_MODEL_OTHER_MAX),
        "actionDelay": Int(0, INSULIN_MODEL_SECONDS_MAX),
        "actionDuration": Int(0, INSULIN_MODEL_SECONDS_MAX),
        "actionPeakOffset": Int(),
    },
    rules=(_insulin_model_rule,),
)

# ---- presets and sleep schedules -------------------------------------------------------------------

OVERRIDE_PRESET = Obj(
    {
        "abbreviation": Str(TEXT_MAX),
        "duration": Int(0, DURATION_WEEK_MS),
        "bgTarget": TARGET,
        "basalRateScaleFactor": Float(SCALE_FACTOR_MIN, SCALE_FACTOR_MAX),
        "carbRatioScaleFactor": Float(SCALE_FACTOR_MIN, SCALE_FACTOR_MAX),
        "insulinSensitivityScaleFactor": Float(SCALE_FACTOR_MIN, SCALE_FACTOR_MAX),
    }
)


def _sleep_schedule_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """Days, start and end are required and checked only for an enabled schedule (as the platform does)."""
    if value_of(values, "enabled") is not True:
        return
    for key in ("days", "start", "end"):
        check_exists(values, key, ptr, errs)
    days = value_of(values, "days")
    if days is not None:
        seen: set[str] = set()
        for index, day in enumerate(days):
            if not isinstance(day, str):
                continue
            if day not in DAYS_OF_WEEK:
                errs.add(f"{ptr}/days/{index}", e.not_one_of(day, DAYS_OF_WEEK))
            elif day in seen:
                errs.add(f"{ptr}/days/{index}", e.duplicate())
            seen.add(day)
    check_in_range(values, "start", 0, SLEEP_OFFSET_MAX, ptr, errs)
    check_in_range(values, "end", 0, SLEEP_OFFSET_MAX, ptr, errs)


SLEEP_SCHEDULE = Obj(
    {
        "enabled": Bool(),
        "days": DaysArr(Str(empty_ok=True)),
        "start": Int(),
        "end": Int(),
    },
    required=("enabled",),
    rules=(_sleep_schedule_rule,),
)

UNITS = Obj(
    {"bg": GlucoseUnits(), "carb": OneOf("exchanges", "grams"), "insulin": OneOf("Units")},
    required=("bg", "carb"),
)

FIELDS: dict[str, Field] = {
    "activeSchedule": Str(),
    "automatedDelivery": Bool(),
    "basal": BASAL,
    "basalSchedule": BASAL_SCHEDULE,
    "basalSchedules": MapOf(BASAL_SCHEDULE),
    "bgSafetyLimit": Glucose(),
    "bgTargetPhysicalActivity": TARGET,
    "bgTargetPreprandial": TARGET,
    "bgTarget": BG_TARGET_SCHEDULE,
    "bgTargets": MapOf(BG_TARGET_SCHEDULE),
    "bolus": BOLUS,
    "boluses": MapOf(BOLUS),
    "carbRatio": CARB_RATIO_SCHEDULE,
    "carbRatios": MapOf(CARB_RATIO_SCHEDULE),
    "display": Obj({"bloodGlucose": Obj({"units": OneOf("mg/dL", "mmol/L")}, required=("units",))}),
    "insulinFormulation": FORMULATION,
    "insulinModel": INSULIN_MODEL,
    "insulinSensitivity": INSULIN_SENSITIVITY_SCHEDULE,
    "insulinSensitivities": MapOf(INSULIN_SENSITIVITY_SCHEDULE),
    "overridePresets": MapOf(OVERRIDE_PRESET),
    "scheduleTimeZoneOffset": Int(TIMEZONE_OFFSET_MIN, TIMEZONE_OFFSET_MAX),
    "sleepSchedules": MapOf(SLEEP_SCHEDULE),
    "units": UNITS,
    **device_fields(),
}

PUMP_SETTINGS = ObjectUnitsType(
    type=TYPE,
    fields=FIELDS,
    required=("activeSchedule",),
    rules=(
        one_schedule_form("basalSchedule", "basalSchedules"),
        one_schedule_form("bgTarget", "bgTargets"),
        one_schedule_form("bolus", "boluses"),
        one_schedule_form("carbRatio", "carbRatios"),
        one_schedule_form("insulinSensitivity", "insulinSensitivities"),
    ),
    description="pump therapy settings",
    units_object="units",
    units_member="bg",
)

TYPES = [PUMP_SETTINGS]

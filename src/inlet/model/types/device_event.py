"""deviceEvent: things a device did or reported, by ``subType`` (platform data/types/device/*).

- alarm: ``alarmType``; ``status``: a status event embedded whole (it becomes its own datum and the
  field then holds its id, as the platform does) or the id of one.
- calibration: ``value`` in ``units`` (blood glucose range), stored in mmol/L.
- prime: ``primeTarget``; ``volume`` limited by target: cannula 0..10, tubing 0..100 (platform
  ``data/types/device/prime``; the reference's summary says 0..1000, the platform's package wins).
- reservoirChange: ``status`` as for alarm.
- status: ``status`` resumed | suspended; ``duration`` >= 0; ``expectedDuration`` >= duration;
  ``reason`` (required; free-form metadata object, kept as sent).
- timeChange: ``from``/``to`` {time, timeZoneName}, ``method``; or the deprecated
  ``change`` {from, to, agent} instead of them.
- pumpSettingsOverride: ``overrideType``, ``overridePreset`` (only for preset), ``method``,
  ``duration`` / ``expectedDuration`` <= 7 days, ``bgTarget`` in ``units.bg``, scale factors 0.1..10;
  none of target and scale factors is required (a sleep override carries only its type and duration).
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import (
    MISSING,
    Context,
    DeviceTime,
    Field,
    Float,
    Glucose,
    GlucoseUnits,
    Int,
    Obj,
    OneOf,
    Rule,
    Str,
    TimeZoneName,
)
from inlet.model.parse import EmbeddedDatum
from inlet.model.types.settings_common import (
    DURATION_WEEK_MS,
    SCALE_FACTOR_MAX,
    SCALE_FACTOR_MIN,
    TARGET,
    Metadata,
    ObjectUnitsType,
    check_exists,
    check_in_range,
    check_not_exists,
    value_of,
)

TYPE = "deviceEvent"
SUB_TYPES = (
    "alarm",
    "calibration",
    "prime",
    "pumpSettingsOverride",
    "reservoirChange",
    "status",
    "timeChange",
)
ALARM_TYPES = (
    "auto_off",
    "low_insulin",
    "low_power",
    "no_delivery",
    "no_insulin",
    "no_power",
    "occlusion",
    "other",
    "over_limit",
)
PRIME_TARGETS = ("cannula", "tubing")
PRIME_VOLUME_MAX = {"cannula": 10.0, "tubing": 100.0}
STATUS_NAMES = ("resumed", "suspended")
METHODS = ("automatic", "manual")
OVERRIDE_TYPES = ("custom", "physicalActivity", "preprandial", "preset", "sleep")
OVERRIDE_PRESET_MAX = 100


class EmbeddedStatus(EmbeddedDatum):
    """A ``deviceEvent``/``status`` datum embedded in an alarm or reservoir change, or its id."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(TYPE)

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is dict:
            sub_type = raw.get("subType", MISSING)
            if sub_type is MISSING:
                errs.add(f"{ptr}/subType", e.not_exists())
                return MISSING
            if sub_type != "status":
                errs.add(f"{ptr}/subType", e.not_one_of(sub_type, ["status"]))
                return MISSING
        return super().parse(raw, ptr, errs)


def _event(
    sub_type: str,
    fields: dict[str, Field],
    required: tuple[str, ...] = (),
    rules: tuple[Rule, ...] = (),
    units_key: str | None = None,
) -> DatumType:
    merged: dict[str, Field] = {"subType": OneOf(*SUB_TYPES)}
    merged.update(fields)
    return DatumType(
        type=TYPE,
        sub_key="subType",
        sub_value=sub_type,
        fields=merged,
        required=required,
        rules=rules,
        units_key=units_key,
        description=f"device event, {sub_type}",
    )


# ---- alarm, calibration, prime, reservoirChange --------------------------------------------------

ALARM = _event("alarm", {"alarmType": OneOf(*ALARM_TYPES), "status": EmbeddedStatus()}, ("alarmType",))

CALIBRATION = _event(
    "calibration",
    {"units": GlucoseUnits(), "value": Glucose()},
    ("units", "value"),
    units_key="units",
)


def _prime_volume(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    maximum = PRIME_VOLUME_MAX.get(value_of(values, "primeTarget"))
    if maximum is not None:
        check_in_range(values, "volume", 0.0, maximum, ptr, errs)


PRIME = _event(
    "prime",
    {"primeTarget": OneOf(*PRIME_TARGETS), "volume": Float()},
    ("primeTarget",),
    (_prime_volume,),
)

RESERVOIR_CHANGE = _event("reservoirChange", {"status": EmbeddedStatus()})


# ---- status -------------------------------------------------------------------------------------


def _status_expected_duration(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    expected = value_of(values, "expectedDuration")
    if expected is None:
        return
    duration = value_of(values, "duration")
    minimum = duration if duration is not None and duration >= 0 else 0
    if expected < minimum:
        errs.add(f"{ptr}/expectedDuration", e.not_greater_than_or_equal_to(expected, minimum))


STATUS = _event(
    "status",
    {
        "status": OneOf(*STATUS_NAMES),
        "duration": Int(0),
        "expectedDuration": Int(),
        "reason": Metadata(),
    },
    ("status", "reason"),
    (_status_expected_duration,),
)


# ---- timeChange ---------------------------------------------------------------------------------


def _info_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if "time" not in values and "timeZoneName" not in values:
        errs.add(ptr, e.values_not_exist_for_any("time", "timeZoneName"))


TIME_CHANGE_INFO = Obj({"time": DeviceTime(), "timeZoneName": TimeZoneName()}, rules=(_info_rule,))
TIME_CHANGE_CHANGE = Obj(
    {"from": DeviceTime(), "to": DeviceTime(), "agent": OneOf(*METHODS)},
    required=("from", "to", "agent"),
)
"""Deprecated form: device times before and after, and who changed the clock."""


def _time_change_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if any(value_of(values, key) is not None for key in ("from", "method", "to")):
        check_exists(values, "to", ptr, errs)
        check_not_exists(values, "change", ptr, errs)
    elif "change" not in values:
        errs.add(ptr, e.values_not_exist_for_one("to", "change"))


TIME_CHANGE = _event(
    "timeChange",
    {
        "from": TIME_CHANGE_INFO,
        "method": OneOf(*METHODS),
        "to": TIME_CHANGE_INFO,
        "change": TIME_CHANGE_CHANGE,
    },
    rules=(_time_change_rule,),
)


# ---- pumpSettingsOverride -------------------------------------------------------------------------


def _override_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if value_of(values, "overrideType") == "preset":
        check_exists(values, "overridePreset", ptr, errs)
    else:
        check_not_exists(values, "overridePreset", ptr, errs)
    expected = value_of(values, "expectedDuration")
    duration = value_of(values, "duration")
    if expected is not None:
        minimum = duration if duration is not None and 0 <= duration <= DURATION_WEEK_MS else 0
        check_in_range(values, "expectedDuration", minimum, DURATION_WEEK_MS, ptr, errs)
    has_target = "bgTarget" in values
    if "units" in values:
        if not has_target:
            errs.add(f"{ptr}/units", e.exists())
    elif has_target:
        errs.add(f"{ptr}/units", e.not_exists())
    # No "at least one of bgTarget or a scale factor" rule: Tidepool's validator has none, and pumps
    # with a sleep mode send an override with only a type and a duration.


PUMP_SETTINGS_OVERRIDE = ObjectUnitsType(
    type=TYPE,
    sub_key="subType",
    sub_value="pumpSettingsOverride",
    fields={
        "subType": OneOf(*SUB_TYPES),
        "overrideType": OneOf(*OVERRIDE_TYPES),
        "overridePreset": Str(OVERRIDE_PRESET_MAX),
        "method": OneOf(*METHODS),
        "duration": Int(0, DURATION_WEEK_MS),
        "expectedDuration": Int(),
        "bgTarget": TARGET,
        "basalRateScaleFactor": Float(SCALE_FACTOR_MIN, SCALE_FACTOR_MAX),
        "carbRatioScaleFactor": Float(SCALE_FACTOR_MIN, SCALE_FACTOR_MAX),
        "insulinSensitivityScaleFactor": Float(SCALE_FACTOR_MIN, SCALE_FACTOR_MAX),
        "units": Obj({"bg": GlucoseUnits()}, required=("bg",)),
    },
    required=("overrideType",),
    rules=(_override_rule,),
    description="device event, pumpSettingsOverride",
    units_object="units",
    units_member="bg",
)

TYPES = [ALARM, CALIBRATION, PRIME, PUMP_SETTINGS_OVERRIDE, RESERVOIR_CHANGE, STATUS, TIME_CHANGE]

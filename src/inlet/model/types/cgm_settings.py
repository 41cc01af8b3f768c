"""cgmSettings: a continuous glucose monitor's settings (platform data/types/settings/cgm).

- device description: manufacturers, model, name, serialNumber, firmware/hardware/software versions;
  ``transmitterId`` matches ``^[0-9a-zA-Z]{5,64}$`` or is empty (the platform no longer gets one from
  every partner); ``units`` (glucose units, stored as mmol/L).
- ``defaultAlerts`` and ``scheduledAlerts`` (1..10 of {name, days, start 0..86400000 ms,
  end 0..172800000 ms, alerts}): each alert has ``enabled`` and an optional ``snooze`` {duration
  0..10 h, units}. Level alerts (urgentLow 40..80 mg/dL or 2.22030..4.44060 mmol/L, low 50..150 or
  2.77537..8.32612, high 100..400 or 5.55075..22.20299; and their ``Predicted`` twins) carry their own
  ``units`` (mg/dL or mmol/L) and, as on the platform, are kept as sent (no conversion). Rate alerts
  (fall, rise: 0..10 mg/dL/minute or 0.05551..0.55507 mmol/L/minute) and duration alerts (noData,
  outOfRange: 0..6 h in hours, minutes or seconds) likewise.
- deprecated alerts, still accepted: ``highAlerts`` (level 120..400 mg/dL or 6.66090..22.20299 mmol/L)
  and ``lowAlerts`` (59..100 mg/dL or 3.27494..5.55075 mmol/L) with a snooze from a fixed list,
  ``outOfRangeAlerts`` (snooze from a fixed list) and ``rateOfChangeAlerts`` {fallRate, riseRate: +-2 or
  +-3 mg/dL/minute}. Their levels and rates are in the datum's ``units`` and are stored in mmol/L.
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model import glucose
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import (
    Arr,
    Bool,
    Context,
    Field,
    Float,
    Glucose,
    GlucoseUnits,
    Int,
    NonEmptyArr,
    Obj,
    OneOf,
    Rule,
    Str,
)
from inlet.model.types.settings_common import (
    DAYS_OF_WEEK,
    GlucoseRanged,
    IntOneOf,
    check_exists,
    check_not_exists,
    device_fields,
    range_by_units,
    value_of,
)

TYPE = "cgmSettings"
TRANSMITTER_ID_PATTERN = "^[0-9a-zA-Z]{5,64}$"
SCHEDULED_ALERTS_MAX = 10
SCHEDULED_ALERT_NAME_MAX = 100
SCHEDULED_ALERT_START_MAX = 86_400_000
SCHEDULED_ALERT_END_MAX = 172_800_000

LEVEL_UNITS = ("mg/dL", "mmol/L")
RATE_UNITS = ("mg/dL/minute", "mmol/L/minute")
DURATION_UNITS = ("hours", "minutes", "seconds")

URGENT_LOW_LEVELS = {"mg/dL": (40.0, 80.0), "mmol/L": (2.22030, 4.44060)}
LOW_LEVELS = {"mg/dL": (50.0, 150.0), "mmol/L": (2.77537, 8.32612)}
HIGH_LEVELS = {"mg/dL": (100.0, 400.0), "mmol/L": (5.55075, 22.20299)}
FALL_RATES = {"mg/dL/minute": (0.0, 10.0), "mmol/L/minute": (0.05551, 0.55507)}
RISE_RATES = {"mg/dL/minute": (0.0, 10.0), "mmol/L/minute": (0.05551, 0.55507)}
NO_DATA_DURATIONS = {"hours": (0.0, 6.0), "minutes": (0.0, 360.0), "seconds": (0.0, 21600.0)}
OUT_OF_RANGE_DURATIONS = NO_DATA_DURATIONS
SNOOZE_DURATIONS = {"hours": (0.0, 10.0), "minutes": (0.0, 600.0), "seconds": (0.0, 36000.0)}

DEPRECATED_LEVEL_SNOOZES = (
    0, 900000, 1200000, 1500000, 1800000, 2100000, 2400000, 2700000,
    3000000, 3300000, 3600000, 3900000, 4200000, 4500000, 4800000, 5100000,
    5400000, 5700000, 6000000, 6300000, 6600000, 6900000, 7200000, 7500000,
    7800000, 8100000, 8400000, 8700000, 9000000, 9300000, 9600000, 9900000,
    10200000, 10500000, 10800000, 11100000, 11400000, 11700000, 12000000,
    12300000, 12600000, 12900000, 13200000, 13500000, 13800000, 14100000,
    14400000, 15300000, 16200000, 17100000, 18000000,
)  # fmt: skip
DEPRECATED_OUT_OF_RANGE_SNOOZES = tuple(range(1_200_000, 14_400_001, 300_000))
DEPRECATED_RATE_MGDL = (2.0, 3.0)
DEPRECATED_RATE_MMOLL = (0.11101495982091067, 0.16652243973136602)


class TransmitterId(Str):
    """``^[0-9a-zA-Z]{5,64}$``, or empty; anything else is ``value-not-valid`` (as the platform says it)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(pattern=TRANSMITTER_ID_PATTERN, empty_ok=True)

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if value and self.pattern is not None and self.pattern.fullmatch(value) is None:
            errs.add(ptr, e.not_valid(f"value {e.quote(value)} is not valid as transmitter id"))


# ---- alerts -------------------------------------------------------------------------------------

SNOOZE = Obj(
    {"duration": Float(), "units": OneOf(*DURATION_UNITS)},
    required=("duration", "units"),
    rules=(range_by_units("duration", "units", SNOOZE_DURATIONS),),
)


def _units_for(value_key: str, allowed: tuple[str, ...]) -> Rule:
    """Units are required (and one of ``allowed``) with a value, and refused without one."""

    def rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        if value_of(values, value_key) is not None:
            check_exists(values, "units", ptr, errs)
            units = value_of(values, "units")
            if units is not None and units not in allowed:
                errs.add(f"{ptr}/units", e.not_one_of(units, allowed))
        else:
            check_not_exists(values, "units", ptr, errs)

    return rule


def _alert(value_key: str, units: tuple[str, ...], ranges: dict[str, tuple[float, float]]) -> Obj:
    return Obj(
        {"enabled": Bool(), "snooze": SNOOZE, value_key: Float(), "units": Str(empty_ok=True)},
        required=("enabled",),
        rules=(_units_for(value_key, units), range_by_units(value_key, "units", ranges)),
    )


ALERTS = Obj(
    {
        "enabled": Bool(),
        "urgentLow": _alert("level", LEVEL_UNITS, URGENT_LOW_LEVELS),
        "urgentLowPredicted": _alert("level", LEVEL_UNITS, URGENT_LOW_LEVELS),
        "low": _alert("level", LEVEL_UNITS, LOW_LEVELS),
        "lowPredicted": _alert("level", LEVEL_UNITS, LOW_LEVELS),
        "high": _alert("level", LEVEL_UNITS, HIGH_LEVELS),
        "highPredicted": _alert("level", LEVEL_UNITS, HIGH_LEVELS),
        "fall": _alert("rate", RATE_UNITS, FALL_RATES),
        "rise": _alert("rate", RATE_UNITS, RISE_RATES),
        "noData": _alert("duration", DURATION_UNITS, NO_DATA_DURATIONS),
        "outOfRange": _alert("duration", DURATION_UNITS, OUT_OF_RANGE_DURATIONS),
    },
    required=("enabled",),
)

SCHEDULED_ALERT = Obj(
    {
        "name": Str(SCHEDULED_ALERT_NAME_MAX),
        "days": Arr(OneOf(*DAYS_OF_WEEK), unique=True),
        "start": Int(0, SCHEDULED_ALERT_START_MAX),
        "end": Int(0, SCHEDULED_ALERT_END_MAX),
        "alerts": ALERTS,
    },
    required=("days", "start", "end", "alerts"),
)

# ---- deprecated alerts (levels and rates in the datum's units) ----------------------------------------


class DeprecatedRate(Glucose):
    """A rate of change from a fixed list for the datum's units; stored in mmol/L."""

    __slots__ = ("sign",)

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.sign = sign

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if ctx.units in glucose.UNITS_MGDL:
            rates = DEPRECATED_RATE_MGDL
        elif ctx.units in glucose.UNITS_MMOLL:
            rates = DEPRECATED_RATE_MMOLL
        else:
            return
        allowed = sorted(self.sign * rate for rate in rates)
        if value not in allowed:
            errs.add(ptr, e.not_one_of(value, allowed))


def _deprecated_level(mgdl: tuple[float, float], mmoll: tuple[float, float]) -> Obj:
    return Obj(
        {
            "enabled": Bool(),
            "level": GlucoseRanged(mgdl, mmoll),
            "snooze": IntOneOf(DEPRECATED_LEVEL_SNOOZES),
        },
        required=("enabled", "level", "snooze"),
    )


def _deprecated_rate(sign: float) -> Obj:
    return Obj({"enabled": Bool(), "rate": DeprecatedRate(sign)}, required=("enabled", "rate"))


FIELDS: dict[str, Field] = {
    **device_fields(),
    "transmitterId": TransmitterId(),
    "units": GlucoseUnits(),
    "defaultAlerts": ALERTS,
    "scheduledAlerts": NonEmptyArr(SCHEDULED_ALERT, SCHEDULED_ALERTS_MAX),
    "highAlerts": _deprecated_level((120.0, 400.0), (6.66090, 22.20299)),
    "lowAlerts": _deprecated_level((59.0, 100.0), (3.27494, 5.55075)),
    "outOfRangeAlerts": Obj(
        {"enabled": Bool(), "snooze": IntOneOf(DEPRECATED_OUT_OF_RANGE_SNOOZES)},
        required=("enabled", "snooze"),
    ),
    "rateOfChangeAlerts": Obj(
        {"fallRate": _deprecated_rate(-1.0), "riseRate": _deprecated_rate(1.0)},
        required=("fallRate", "riseRate"),
    ),
}

CGM_SETTINGS = DatumType(
    type=TYPE,
    fields=FIELDS,
    units_key="units",
    description="continuous glucose monitor settings",
)

TYPES = [CGM_SETTINGS]

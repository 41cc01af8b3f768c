"""Device events, settings, status and dosing decisions: every range, enum, requirement and conversion.

Limits are written out as literal numbers from the reference and the platform's packages (not imported
from the specs), so a wrong constant in a spec fails here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from inlet.model.parse import parse_data

T = "2024-03-01T12:00:00Z"
Path = tuple[str | int, ...]

OUT = "value-out-of-range"
NOT_ALLOWED = "value-not-allowed"
NOT_EXISTS = "value-not-exists"
EXISTS = "value-exists"
EMPTY = "value-empty"
LENGTH = "length-out-of-range"

BASES: dict[str, dict[str, Any]] = {
    "alarm": {"type": "deviceEvent", "subType": "alarm", "time": T, "alarmType": "occlusion"},
    "calibration": {
        "type": "deviceEvent",
        "subType": "calibration",
        "time": T,
        "units": "mg/dL",
        "value": 100,
    },
    "prime": {"type": "deviceEvent", "subType": "prime", "time": T, "primeTarget": "cannula", "volume": 1},
    "reservoirChange": {"type": "deviceEvent", "subType": "reservoirChange", "time": T},
    "status": {
        "type": "deviceEvent",
        "subType": "status",
        "time": T,
        "status": "suspended",
        "reason": {"suspended": "manual"},
    },
    "timeChange": {
        "type": "deviceEvent",
        "subType": "timeChange",
        "time": T,
        "from": {"time": "2024-03-01T11:00:00", "timeZoneName": "America/New_York"},
        "to": {"time": "2024-03-01T10:00:00", "timeZoneName": "America/Chicago"},
        "method": "automatic",
    },
    "timeChangeOld": {
        "type": "deviceEvent",
        "subType": "timeChange",
        "time": T,
        "change": {"from": "2024-03-01T11:00:00", "to": "2024-03-01T10:00:00", "agent": "manual"},
    },
    "override": {
        "type": "deviceEvent",
        "subType": "pumpSettingsOverride",
        "time": T,
        "overrideType": "custom",
        "basalRateScaleFactor": 1.5,
    },
    "pumpSettings": {
        "type": "pumpSettings",
        "time": T,
        "activeSchedule": "Default",
        "units": {"bg": "mg/dL", "carb": "grams"},
    },
    "cgmSettings": {"type": "cgmSettings", "time": T},
    "dosingDecision": {
        "type": "dosingDecision",
        "time": T,
        "reason": "loop",
        "units": {"bloodGlucose": "mg/dL", "carbohydrate": "grams", "insulin": "Units"},
    },
    "controllerSettings": {"type": "controllerSettings", "time": T, "device": {"model": "iPhone"}},
    "controllerStatus": {"type": "controllerStatus", "time": T, "battery": {"state": "full"}},
    "pumpStatus": {"type": "pumpStatus", "time": T, "deliveryIndeterminant": False},
}

MMOL: dict[str, dict[Path, Any]] = {
    "calibration": {("units",): "mmol/L", ("value",): 5.5},
    "override": {("units",): {"bg": "mmol/L"}, ("bgTarget",): {"target": 5.5}},
    "pumpSettings": {("units", "bg"): "mmol/L"},
    "cgmSettings": {("units",): "mmol/L"},
    "dosingDecision": {("units", "bloodGlucose"): "mmol/L"},
}
"""Patches that switch a base to mmol/L."""


def errors_of(datum: dict[str, Any]) -> list[tuple[str, str]]:
    return [(x.code, x.pointer) for x in parse_data([datum]).errors]


def doc_of(datum: dict[str, Any]) -> dict[str, Any]:
    result = parse_data([datum])
    assert result.errors == [], result.errors
    return result.datums[0].doc


def put(target: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        if isinstance(target, dict) and key not in target:
            target[key] = {}
        target = target[key]
    target[path[-1]] = value


def make(
    base: str, patch: dict[Path, Any] | None = None, path: Path = (), value: Any = None
) -> dict[str, Any]:
    datum = copy.deepcopy(BASES[base])
    for key, patched in (patch or {}).items():
        put(datum, key, copy.deepcopy(patched))
    if path:
        put(datum, path, value)
    return datum


def without(base: str, path: Path, patch: dict[Path, Any] | None = None) -> dict[str, Any]:
    datum = make(base, patch)
    target: Any = datum
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return datum


def pointer(path: Path) -> str:
    return "/0/" + "/".join(str(key) for key in path)


# ---- every base is valid ---------------------------------------------------------------------------


@pytest.mark.parametrize("base", sorted(BASES))
def test_base_datum_is_valid(base: str) -> None:
    assert errors_of(make(base)) == []


@pytest.mark.parametrize("base", sorted(MMOL))
def test_base_datum_is_valid_in_mmoll(base: str) -> None:
    assert errors_of(make(base, MMOL[base])) == []


# ---- ranges ----------------------------------------------------------------------------------------
# (id, base, patch, path, low, high, step): low and high are inclusive limits (None: unbounded);
# step is "just inside" / "just outside".

_SCHED_BASAL: dict[Path, Any] = {("basalSchedules",): {"Default": [{"rate": 1, "start": 0}]}}
_SCHED_CARB: dict[Path, Any] = {("carbRatios",): {"Default": [{"amount": 10, "start": 0}]}}
_SCHED_ISF: dict[Path, Any] = {("insulinSensitivities",): {"Default": [{"amount": 50, "start": 0}]}}
_SCHED_TARGET: dict[Path, Any] = {("bgTargets",): {"Default": [{"target": 100, "start": 0}]}}
_SCHED_LOW_HIGH: dict[Path, Any] = {("bgTargets",): {"Default": [{"low": 80, "high": 120, "start": 0}]}}
_PS_MMOL = MMOL["pumpSettings"]
_DD_MMOL = MMOL["dosingDecision"]
_CGM_MMOL = MMOL["cgmSettings"]
_OV_MMOL = MMOL["override"]
_ALERTS = ("defaultAlerts",)


def _level(alert: str, units: str) -> dict[Path, Any]:
    return {(*_ALERTS, "enabled"): True, (*_ALERTS, alert): {"enabled": True, "level": 1, "units": units}}


def _rate(alert: str, units: str) -> dict[Path, Any]:
    return {(*_ALERTS, "enabled"): True, (*_ALERTS, alert): {"enabled": True, "rate": 1, "units": units}}


def _duration_alert(alert: str, units: str) -> dict[Path, Any]:
    return {(*_ALERTS, "enabled"): True, (*_ALERTS, alert): {"enabled": True, "duration": 1, "units": units}}


def _snooze(units: str) -> dict[Path, Any]:
    return {
        (*_ALERTS, "enabled"): True,
        (*_ALERTS, "high"): {"enabled": True, "snooze": {"duration": 1, "units": units}},
    }


_SCHEDULED_ALERT: dict[Path, Any] = {
    ("scheduledAlerts",): [{"days": ["monday"], "start": 0, "end": 0, "alerts": {"enabled": True}}]
}
_SLEEP: dict[Path, Any] = {
    ("sleepSchedules",): {"weekday": {"enabled": True, "days": ["monday"], "start": 0, "end": 0}}
}
_FOOD: dict[Path, Any] = {("food",): {"nutrition": {"carbohydrate": {"net": 10, "units": "grams"}}}}
_ENERGY: dict[Path, Any] = {("food", "nutrition", "energy"): {"value": 1}}
_BASAL_DOSE: dict[Path, Any] = {("basalDelivery",): {"state": "temporary", "dose": {"rate": 1}}}
_BOLUS_DOSE: dict[Path, Any] = {("bolusDelivery",): {"state": "delivering", "dose": {"amount": 1}}}
_HISTORY: dict[Path, Any] = {("bgHistorical",): [{"value": 5}]}
_BATTERY_PERCENT: dict[Path, Any] = {("battery",): {"remaining": 0.5, "units": "percent"}}

RANGES: list[tuple[str, str, dict[Path, Any], Path, float | None, float | None, float]] = [
    # deviceEvent
    ("prime-cannula-volume", "prime", {}, ("volume",), 0, 10, 0.1),
    ("prime-tubing-volume", "prime", {("primeTarget",): "tubing"}, ("volume",), 0, 100, 0.1),
    ("calibration-mgdl", "calibration", {}, ("value",), 0, 1000, 0.1),
    ("calibration-mgdl-lower", "calibration", {("units",): "mg/dl"}, ("value",), 0, 1000, 0.1),
    ("calibration-mmoll", "calibration", MMOL["calibration"], ("value",), 0, 55, 0.1),
    ("calibration-mmoll-lower", "calibration", {("units",): "mmol/l"}, ("value",), 0, 55, 0.1),
    ("status-duration", "status", {}, ("duration",), 0, None, 1),
    ("status-expected-no-duration", "status", {}, ("expectedDuration",), 0, None, 1),
    ("status-expected-duration", "status", {("duration",): 1000}, ("expectedDuration",), 1000, None, 1),
    ("override-duration", "override", {}, ("duration",), 0, 604800000, 1),
    ("override-expected-no-duration", "override", {}, ("expectedDuration",), 0, 604800000, 1),
    (
        "override-expected-duration",
        "override",
        {("duration",): 1000},
        ("expectedDuration",),
        1000,
        604800000,
        1,
    ),
    ("override-basal-scale", "override", {}, ("basalRateScaleFactor",), 0.1, 10, 0.01),
    ("override-carb-scale", "override", {}, ("carbRatioScaleFactor",), 0.1, 10, 0.01),
    ("override-isf-scale", "override", {}, ("insulinSensitivityScaleFactor",), 0.1, 10, 0.01),
    ("override-target-mgdl", "override", {("units",): {"bg": "mg/dL"}}, ("bgTarget", "target"), 0, 1000, 0.1),
    ("override-target-mmoll", "override", _OV_MMOL, ("bgTarget", "target"), 0, 55, 0.1),
    # pumpSettings
    ("ps-basal-rate", "pumpSettings", _SCHED_BASAL, ("basalSchedules", "Default", 0, "rate"), 0, 100, 0.01),
    (
        "ps-basal-single-rate",
        "pumpSettings",
        {("basalSchedule",): [{"rate": 1, "start": 0}]},
        ("basalSchedule", 0, "rate"),
        0,
        100,
        0.01,
    ),
    ("ps-carb-ratio", "pumpSettings", _SCHED_CARB, ("carbRatios", "Default", 0, "amount"), 0, 250, 0.1),
    (
        "ps-isf-mgdl",
        "pumpSettings",
        _SCHED_ISF,
        ("insulinSensitivities", "Default", 0, "amount"),
        0,
        1000,
        0.1,
    ),
    (
        "ps-isf-mmoll",
        "pumpSettings",
        {**_SCHED_ISF, **_PS_MMOL},
        ("insulinSensitivities", "Default", 0, "amount"),
        0,
        55,
        0.1,
    ),
    ("ps-target-mgdl", "pumpSettings", _SCHED_TARGET, ("bgTargets", "Default", 0, "target"), 0, 1000, 0.1),
    (
        "ps-target-mmoll",
        "pumpSettings",
        {**_SCHED_TARGET, **_PS_MMOL},
        ("bgTargets", "Default", 0, "target"),
        0,
        55,
        0.1,
    ),
    ("ps-target-range", "pumpSettings", _SCHED_TARGET, ("bgTargets", "Default", 0, "range"), 0, 100, 0.1),
    (
        "ps-target-high-with-target",
        "pumpSettings",
        _SCHED_TARGET,
        ("bgTargets", "Default", 0, "high"),
        100,
        1000,
        0.1,
    ),
    (
        "ps-target-high-with-low",
        "pumpSettings",
        _SCHED_LOW_HIGH,
        ("bgTargets", "Default", 0, "high"),
        80,
        1000,
        0.1,
    ),
    (
        "ps-target-low",
        "pumpSettings",
        {("bgTargets",): {"Default": [{"low": 80, "high": 1000, "start": 0}]}},
        ("bgTargets", "Default", 0, "low"),
        0,
        1000,
        0.1,
    ),
    (
        "ps-target-high-with-low-mmoll",
        "pumpSettings",
        {("bgTargets",): {"Default": [{"low": 4, "high": 8, "start": 0}]}, **_PS_MMOL},
        ("bgTargets", "Default", 0, "high"),
        4,
        55,
        0.01,
    ),
    (
        "ps-target-single",
        "pumpSettings",
        {("bgTarget",): [{"target": 100, "start": 0}]},
        ("bgTarget", 0, "target"),
        0,
        1000,
        0.1,
    ),
    ("ps-safety-limit-mgdl", "pumpSettings", {}, ("bgSafetyLimit",), 0, 1000, 0.1),
    ("ps-safety-limit-mmoll", "pumpSettings", _PS_MMOL, ("bgSafetyLimit",), 0, 55, 0.1),
    ("ps-target-activity", "pumpSettings", {}, ("bgTargetPhysicalActivity", "target"), 0, 1000, 0.1),
    ("ps-target-preprandial", "pumpSettings", _PS_MMOL, ("bgTargetPreprandial", "target"), 0, 55, 0.1),
    (
        "ps-bolus-max",
        "pumpSettings",
        {("bolus", "amountMaximum", "units"): "Units"},
        ("bolus", "amountMaximum", "value"),
        0,
        100,
        0.1,
    ),
    (
        "ps-boluses-max",
        "pumpSettings",
        {("boluses",): {"meal": {"amountMaximum": {"units": "Units", "value": 1}}}},
        ("boluses", "meal", "amountMaximum", "value"),
        0,
        100,
        0.1,
    ),
    (
        "ps-calculator-hours",
        "pumpSettings",
        {("bolus", "calculator"): {"enabled": True, "insulin": {"units": "hours"}}},
        ("bolus", "calculator", "insulin", "duration"),
        0,
        10,
        0.1,
    ),
    (
        "ps-calculator-minutes",
        "pumpSettings",
        {("bolus", "calculator"): {"enabled": True, "insulin": {"units": "minutes"}}},
        ("bolus", "calculator", "insulin", "duration"),
        0,
        600,
        0.1,
    ),
    (
        "ps-calculator-seconds",
        "pumpSettings",
        {("bolus", "calculator"): {"enabled": True, "insulin": {"units": "seconds"}}},
        ("bolus", "calculator", "insulin", "duration"),
        0,
        36000,
        0.1,
    ),
    (
        "ps-basal-max",
        "pumpSettings",
        {("basal", "rateMaximum", "units"): "Units/hour"},
        ("basal", "rateMaximum", "value"),
        0,
        100,
        0.1,
    ),
    ("ps-action-delay", "pumpSettings", {}, ("insulinModel", "actionDelay"), 0, 86400, 1),
    ("ps-action-duration", "pumpSettings", {}, ("insulinModel", "actionDuration"), 0, 86400, 1),
    ("ps-action-peak", "pumpSettings", {}, ("insulinModel", "actionPeakOffset"), 0, 86400, 1),
    (
        "ps-action-peak-in-duration",
        "pumpSettings",
        {("insulinModel", "actionDuration"): 21600},
        ("insulinModel", "actionPeakOffset"),
        0,
        21600,
        1,
    ),
    ("ps-preset-duration", "pumpSettings", {}, ("overridePresets", "run", "duration"), 0, 604800000, 1),
    (
        "ps-preset-basal-scale",
        "pumpSettings",
        {},
        ("overridePresets", "run", "basalRateScaleFactor"),
        0.1,
        10,
        0.01,
    ),
    (
        "ps-preset-carb-scale",
        "pumpSettings",
        {},
        ("overridePresets", "run", "carbRatioScaleFactor"),
        0.1,
        10,
        0.01,
    ),
    (
        "ps-preset-isf-scale",
        "pumpSettings",
        {},
        ("overridePresets", "run", "insulinSensitivityScaleFactor"),
        0.1,
        10,
        0.01,
    ),
    ("ps-preset-target", "pumpSettings", {}, ("overridePresets", "run", "bgTarget", "target"), 0, 1000, 0.1),
    ("ps-tz-offset", "pumpSettings", {}, ("scheduleTimeZoneOffset",), -10080, 10080, 1),
    ("ps-sleep-start", "pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "start"), 0, 86400, 1),
    ("ps-sleep-end", "pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "end"), 0, 86400, 1),
    # cgmSettings: new-style alerts carry their own units
    (
        "cgm-urgent-low-mgdl",
        "cgmSettings",
        _level("urgentLow", "mg/dL"),
        (*_ALERTS, "urgentLow", "level"),
        40,
        80,
        0.1,
    ),
    (
        "cgm-urgent-low-mmoll",
        "cgmSettings",
        _level("urgentLow", "mmol/L"),
        (*_ALERTS, "urgentLow", "level"),
        2.22030,
        4.44060,
        0.00001,
    ),
    (
        "cgm-urgent-low-predicted-mgdl",
        "cgmSettings",
        _level("urgentLowPredicted", "mg/dL"),
        (*_ALERTS, "urgentLowPredicted", "level"),
        40,
        80,
        0.1,
    ),
    ("cgm-low-mgdl", "cgmSettings", _level("low", "mg/dL"), (*_ALERTS, "low", "level"), 50, 150, 0.1),
    (
        "cgm-low-mmoll",
        "cgmSettings",
        _level("low", "mmol/L"),
        (*_ALERTS, "low", "level"),
        2.77537,
        8.32612,
        0.00001,
    ),
    (
        "cgm-low-predicted-mmoll",
        "cgmSettings",
        _level("lowPredicted", "mmol/L"),
        (*_ALERTS, "lowPredicted", "level"),
        2.77537,
        8.32612,
        0.00001,
    ),
    ("cgm-high-mgdl", "cgmSettings", _level("high", "mg/dL"), (*_ALERTS, "high", "level"), 100, 400, 0.1),
    (
        "cgm-high-mmoll",
        "cgmSettings",
        _level("high", "mmol/L"),
        (*_ALERTS, "high", "level"),
        5.55075,
        22.20299,
        0.00001,
    ),
    (
        "cgm-high-predicted-mgdl",
        "cgmSettings",
        _level("highPredicted", "mg/dL"),
        (*_ALERTS, "highPredicted", "level"),
        100,
        400,
        0.1,
    ),
    ("cgm-fall-mgdl", "cgmSettings", _rate("fall", "mg/dL/minute"), (*_ALERTS, "fall", "rate"), 0, 10, 0.1),
    (
        "cgm-fall-mmoll",
        "cgmSettings",
        _rate("fall", "mmol/L/minute"),
        (*_ALERTS, "fall", "rate"),
        0.05551,
        0.55507,
        0.00001,
    ),
    ("cgm-rise-mgdl", "cgmSettings", _rate("rise", "mg/dL/minute"), (*_ALERTS, "rise", "rate"), 0, 10, 0.1),
    (
        "cgm-rise-mmoll",
        "cgmSettings",
        _rate("rise", "mmol/L/minute"),
        (*_ALERTS, "rise", "rate"),
        0.05551,
        0.55507,
        0.00001,
    ),
    (
        "cgm-no-data-hours",
        "cgmSettings",
        _duration_alert("noData", "hours"),
        (*_ALERTS, "noData", "duration"),
        0,
        6,
        0.1,
    ),
    (
        "cgm-no-data-minutes",
        "cgmSettings",
        _duration_alert("noData", "minutes"),
        (*_ALERTS, "noData", "duration"),
        0,
        360,
        0.1,
    ),
    (
        "cgm-no-data-seconds",
        "cgmSettings",
        _duration_alert("noData", "seconds"),
        (*_ALERTS, "noData", "duration"),
        0,
        21600,
        0.1,
    ),
    (
        "cgm-out-of-range-hours",
        "cgmSettings",
        _duration_alert("outOfRange", "hours"),
        (*_ALERTS, "outOfRange", "duration"),
        0,
        6,
        0.1,
    ),
    (
        "cgm-out-of-range-seconds",
        "cgmSettings",
        _duration_alert("outOfRange", "seconds"),
        (*_ALERTS, "outOfRange", "duration"),
        0,
        21600,
        0.1,
    ),
    (
        "cgm-snooze-hours",
        "cgmSettings",
        _snooze("hours"),
        (*_ALERTS, "high", "snooze", "duration"),
        0,
        10,
        0.1,
    ),
    (
        "cgm-snooze-minutes",
        "cgmSettings",
        _snooze("minutes"),
        (*_ALERTS, "high", "snooze", "duration"),
        0,
        600,
        0.1,
    ),
    (
        "cgm-snooze-seconds",
        "cgmSettings",
        _snooze("seconds"),
        (*_ALERTS, "high", "snooze", "duration"),
        0,
        36000,
        0.1,
    ),
    ("cgm-scheduled-start", "cgmSettings", _SCHEDULED_ALERT, ("scheduledAlerts", 0, "start"), 0, 86400000, 1),
    ("cgm-scheduled-end", "cgmSettings", _SCHEDULED_ALERT, ("scheduledAlerts", 0, "end"), 0, 172800000, 1),
    # cgmSettings: deprecated alerts in the datum's units
    (
        "cgm-high-alerts-mgdl",
        "cgmSettings",
        {("units",): "mg/dL", ("highAlerts",): {"enabled": True, "snooze": 0}},
        ("highAlerts", "level"),
        120,
        400,
        0.1,
    ),
    (
        "cgm-high-alerts-mmoll",
        "cgmSettings",
        {**_CGM_MMOL, ("highAlerts",): {"enabled": True, "snooze": 0}},
        ("highAlerts", "level"),
        6.66090,
        22.20299,
        0.00001,
    ),
    (
        "cgm-low-alerts-mgdl",
        "cgmSettings",
        {("units",): "mg/dL", ("lowAlerts",): {"enabled": True, "snooze": 0}},
        ("lowAlerts", "level"),
        59,
        100,
        0.1,
    ),
    (
        "cgm-low-alerts-mmoll",
        "cgmSettings",
        {**_CGM_MMOL, ("lowAlerts",): {"enabled": True, "snooze": 0}},
        ("lowAlerts", "level"),
        3.27494,
        5.55075,
        0.00001,
    ),
    # dosingDecision
    ("dd-carbs-on-board", "dosingDecision", {}, ("carbsOnBoard", "amount"), 0, 1000, 0.1),
    ("dd-insulin-on-board", "dosingDecision", {}, ("insulinOnBoard", "amount"), -1000, 1000, 0.1),
    ("dd-smbg-mgdl", "dosingDecision", {}, ("smbg", "value"), 0, 1000, 0.1),
    ("dd-smbg-mmoll", "dosingDecision", _DD_MMOL, ("smbg", "value"), 0, 55, 0.1),
    ("dd-historical-mgdl", "dosingDecision", _HISTORY, ("bgHistorical", 0, "value"), 0, 1000, 0.1),
    (
        "dd-historical-mmoll",
        "dosingDecision",
        {**_DD_MMOL, **_HISTORY},
        ("bgHistorical", 0, "value"),
        0,
        55,
        0.1,
    ),
    (
        "dd-target-schedule",
        "dosingDecision",
        {("bgTargetSchedule",): [{"target": 100, "start": 0}]},
        ("bgTargetSchedule", 0, "target"),
        0,
        1000,
        0.1,
    ),
    (
        "dd-target-schedule-mmoll",
        "dosingDecision",
        {("bgTargetSchedule",): [{"target": 5, "start": 0}], **_DD_MMOL},
        ("bgTargetSchedule", 0, "target"),
        0,
        55,
        0.1,
    ),
    ("dd-recommended-basal-rate", "dosingDecision", {}, ("recommendedBasal", "rate"), 0, 100, 0.1),
    (
        "dd-recommended-basal-duration",
        "dosingDecision",
        {("recommendedBasal", "rate"): 1},
        ("recommendedBasal", "duration"),
        0,
        86400,
        1,
    ),
    ("dd-recommended-bolus-amount", "dosingDecision", {}, ("recommendedBolus", "amount"), 0, 100, 0.1),
    ("dd-requested-bolus-amount", "dosingDecision", {}, ("requestedBolus", "amount"), 0, 100, 0.1),
    ("dd-recommended-bolus-normal", "dosingDecision", {}, ("recommendedBolus", "normal"), 0, 100, 0.1),
    (
        "dd-recommended-bolus-extended",
        "dosingDecision",
        {("recommendedBolus", "duration"): 3600000},
        ("recommendedBolus", "extended"),
        0,
        100,
        0.1,
    ),
    (
        "dd-recommended-bolus-duration",
        "dosingDecision",
        {("recommendedBolus", "extended"): 1},
        ("recommendedBolus", "duration"),
        0,
        86400000,
        1,
    ),
    ("dd-tz-offset", "dosingDecision", {}, ("scheduleTimeZoneOffset",), -10080, 10080, 1),
    ("dd-carb-net", "dosingDecision", _FOOD, ("food", "nutrition", "carbohydrate", "net"), 0, 1000, 0.1),
    ("dd-carb-total", "dosingDecision", _FOOD, ("food", "nutrition", "carbohydrate", "total"), 0, 1000, 0.1),
    (
        "dd-carb-sugars",
        "dosingDecision",
        _FOOD,
        ("food", "nutrition", "carbohydrate", "sugars"),
        0,
        1000,
        0.1,
    ),
    (
        "dd-carb-fiber",
        "dosingDecision",
        _FOOD,
        ("food", "nutrition", "carbohydrate", "dietaryFiber"),
        0,
        1000,
        0.1,
    ),
    (
        "dd-original-carb-net",
        "dosingDecision",
        {("originalFood",): _FOOD[("food",)]},
        ("originalFood", "nutrition", "carbohydrate", "net"),
        0,
        1000,
        0.1,
    ),
    (
        "dd-absorption",
        "dosingDecision",
        _FOOD,
        ("food", "nutrition", "estimatedAbsorptionDuration"),
        0,
        86400,
        1,
    ),
    (
        "dd-fat",
        "dosingDecision",
        {**_FOOD, ("food", "nutrition", "fat", "units"): "grams"},
        ("food", "nutrition", "fat", "total"),
        0,
        1000,
        0.1,
    ),
    (
        "dd-protein",
        "dosingDecision",
        {**_FOOD, ("food", "nutrition", "protein", "units"): "grams"},
        ("food", "nutrition", "protein", "total"),
        0,
        1000,
        0.1,
    ),
    (
        "dd-energy-kcal",
        "dosingDecision",
        {**_FOOD, **_ENERGY, ("food", "nutrition", "energy", "units"): "kilocalories"},
        ("food", "nutrition", "energy", "value"),
        0,
        10000,
        0.1,
    ),
    (
        "dd-energy-cal",
        "dosingDecision",
        {**_FOOD, **_ENERGY, ("food", "nutrition", "energy", "units"): "calories"},
        ("food", "nutrition", "energy", "value"),
        0,
        10000000,
        0.1,
    ),
    (
        "dd-energy-kj",
        "dosingDecision",
        {**_FOOD, **_ENERGY, ("food", "nutrition", "energy", "units"): "kilojoules"},
        ("food", "nutrition", "energy", "value"),
        0,
        41858,
        0.1,
    ),
    (
        "dd-energy-j",
        "dosingDecision",
        {**_FOOD, **_ENERGY, ("food", "nutrition", "energy", "units"): "joules"},
        ("food", "nutrition", "energy", "value"),
        0,
        41858000,
        0.1,
    ),
    # statuses
    ("cs-battery", "controllerStatus", _BATTERY_PERCENT, ("battery", "remaining"), 0, 1, 0.01),
    ("ps-battery", "pumpStatus", _BATTERY_PERCENT, ("battery", "remaining"), 0, 1, 0.01),
    (
        "ps-reservoir",
        "pumpStatus",
        {("reservoir", "units"): "Units"},
        ("reservoir", "remaining"),
        0,
        10000,
        0.1,
    ),
    ("ps-basal-dose-rate", "pumpStatus", _BASAL_DOSE, ("basalDelivery", "dose", "rate"), 0, 100, 0.1),
    (
        "ps-basal-dose-delivered",
        "pumpStatus",
        _BASAL_DOSE,
        ("basalDelivery", "dose", "amountDelivered"),
        0,
        1000,
        0.1,
    ),
    ("ps-bolus-dose-amount", "pumpStatus", _BOLUS_DOSE, ("bolusDelivery", "dose", "amount"), 0, 1000, 0.1),
    (
        "ps-bolus-dose-delivered",
        "pumpStatus",
        _BOLUS_DOSE,
        ("bolusDelivery", "dose", "amountDelivered"),
        0,
        1000,
        0.1,
    ),
]


def _range_cases() -> Iterator[Any]:
    for name, base, patch, path, low, high, step in RANGES:
        values: list[tuple[str, float, bool]] = []
        if low is not None:
            values += [("low", low, True), ("low+", low + step, True), ("low-", low - step, False)]
        if high is not None:
            values += [("high", high, True), ("high-", high - step, True), ("high+", high + step, False)]
        if high is None and low is not None:
            values.append(("large", low + 1_000_000, True))
        for label, value, valid in values:
            if isinstance(step, int) and isinstance(low if low is not None else 0, int):
                value = round(value)
            else:
                value = round(value, 6)
            yield pytest.param(base, patch, path, value, valid, id=f"{name}-{label}")


@pytest.mark.parametrize(("base", "patch", "path", "value", "valid"), list(_range_cases()))
def test_range(base: str, patch: dict[Path, Any], path: Path, value: float, valid: bool) -> None:
    found = errors_of(make(base, patch, path, value))
    assert found == ([] if valid else [(OUT, pointer(path))])


# ---- schedules: starts -------------------------------------------------------------------------------

SCHEDULES: list[tuple[str, dict[str, Any], Path]] = [
    ("basalSchedules", {"rate": 1}, ("basalSchedules", "Default")),
    ("basalSchedule", {"rate": 1}, ("basalSchedule",)),
    ("carbRatios", {"amount": 10}, ("carbRatios", "Default")),
    ("insulinSensitivities", {"amount": 50}, ("insulinSensitivities", "Default")),
    ("bgTargets", {"target": 100}, ("bgTargets", "Default")),
    ("bgTarget", {"low": 80, "high": 120}, ("bgTarget",)),
]
START_CASES: list[tuple[str, list[int], list[tuple[int, str]]]] = [
    ("first-zero", [0], []),
    ("first-not-zero", [1], [(0, OUT)]),
    ("second-just-after", [0, 1], []),
    ("second-at-zero", [0, 0], [(1, OUT)]),
    ("second-at-day-end", [0, 86400000], []),
    ("second-past-day-end", [0, 86400001], [(1, OUT)]),
    ("increasing", [0, 3600000, 7200000], []),
    ("not-increasing", [0, 7200000, 7200000], [(2, OUT)]),
    ("decreasing", [0, 7200000, 3600000], [(2, OUT)]),
]


@pytest.mark.parametrize(("name", "segment", "path"), SCHEDULES, ids=[s[0] for s in SCHEDULES])
@pytest.mark.parametrize(("case", "starts", "bad"), START_CASES, ids=[c[0] for c in START_CASES])
def test_schedule_starts(
    name: str, segment: dict[str, Any], path: Path, case: str, starts: list[int], bad: list[tuple[int, str]]
) -> None:
    schedule = [{**segment, "start": start} for start in starts]
    found = errors_of(make("pumpSettings", {path: schedule}))
    assert found == [(code, pointer((*path, index, "start"))) for index, code in bad]


def test_schedule_start_detail_reads_like_go() -> None:
    datum = make("pumpSettings", {("basalSchedule",): [{"rate": 1, "start": 5}, {"rate": 1, "start": 0}]})
    details = [x.detail for x in parse_data([datum]).errors]
    assert details == ["value 5 is not equal to 0", "value 0 is not between 1 and 86400000"]


def test_dosing_target_schedule_starts() -> None:
    datum = make("dosingDecision", {("bgTargetSchedule",): [{"target": 100, "start": 10}]})
    assert errors_of(datum) == [(OUT, "/0/bgTargetSchedule/0/start")]


@pytest.mark.parametrize(
    ("single", "many", "value"),
    [
        ("basalSchedule", "basalSchedules", {"rate": 1, "start": 0}),
        ("bgTarget", "bgTargets", {"target": 100, "start": 0}),
        ("carbRatio", "carbRatios", {"amount": 10, "start": 0}),
        ("insulinSensitivity", "insulinSensitivities", {"amount": 50, "start": 0}),
    ],
)
def test_single_and_named_schedules_are_exclusive(single: str, many: str, value: dict[str, Any]) -> None:
    datum = make("pumpSettings", {(single,): [value], (many,): {"Default": [value]}})
    assert errors_of(datum) == [(EXISTS, f"/0/{many}")]
    assert errors_of(make("pumpSettings", {(single,): [value]})) == []
    assert errors_of(make("pumpSettings", {(many,): {"Default": [value]}})) == []


def test_bolus_and_boluses_are_exclusive() -> None:
    bolus = {"extended": {"enabled": True}}
    datum = make("pumpSettings", {("bolus",): bolus, ("boluses",): {"meal": bolus}})
    assert errors_of(datum) == [(EXISTS, "/0/boluses")]


# ---- glucose targets ---------------------------------------------------------------------------------

TARGETS: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("target", {"target": 100}, []),
    ("target-range", {"target": 100, "range": 10}, []),
    ("target-high", {"target": 100, "high": 120}, []),
    ("low-high", {"low": 80, "high": 120}, []),
    ("target-range-low", {"target": 100, "range": 10, "low": 80}, [(EXISTS, "low")]),
    ("target-range-high", {"target": 100, "range": 10, "high": 120}, [(EXISTS, "high")]),
    ("target-high-low", {"target": 100, "high": 120, "low": 80}, [(EXISTS, "low")]),
    ("low-high-range", {"low": 80, "high": 120, "range": 10}, [(EXISTS, "range")]),
    ("low-only", {"low": 80}, [(NOT_EXISTS, "high")]),
    ("high-only", {"high": 120}, [(NOT_EXISTS, "target")]),
    ("range-only", {"range": 10}, [(NOT_EXISTS, "target")]),
    ("empty", {}, [(NOT_EXISTS, "target")]),
    ("range-over-distance-to-top", {"target": 950, "range": 50.1}, [(OUT, "range")]),
    ("range-at-distance-to-top", {"target": 950, "range": 50}, []),
    ("high-below-low", {"low": 120, "high": 119.9}, [(OUT, "high")]),
    ("high-below-target", {"target": 120, "high": 119.9}, [(OUT, "high")]),
]


@pytest.mark.parametrize(("case", "target", "bad"), TARGETS, ids=[t[0] for t in TARGETS])
def test_glucose_target_combinations(case: str, target: dict[str, Any], bad: list[tuple[str, str]]) -> None:
    datum = make("pumpSettings", {("bgTargetPreprandial",): target})
    assert errors_of(datum) == [(code, f"/0/bgTargetPreprandial/{key}") for code, key in bad]
    segment = make("pumpSettings", {("bgTargets",): {"Default": [{**target, "start": 0}]}})
    assert errors_of(segment) == [(code, f"/0/bgTargets/Default/0/{key}") for code, key in bad]
    override = make("override", {("units",): {"bg": "mg/dL"}, ("bgTarget",): target})
    assert errors_of(override) == [(code, f"/0/bgTarget/{key}") for code, key in bad]


def test_glucose_target_without_units_has_no_limits() -> None:
    datum = without("pumpSettings", ("units",), {("bgTargetPreprandial",): {"target": 5000}})
    assert errors_of(datum) == []


# ---- enums -------------------------------------------------------------------------------------------
# (id, base, patch, path, allowed values, extra patch per value)

_DEV_BG = ("mmol/L", "mmol/l", "mg/dL", "mg/dl")
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_BASAL_STATES = (
    "cancelingTemporary",
    "initiatingTemporary",
    "resuming",
    "scheduled",
    "suspended",
    "suspending",
    "temporary",
)

ENUMS: list[tuple[str, str, dict[Path, Any], Path, tuple[str, ...], dict[str, dict[Path, Any]]]] = [
    (
        "alarm-type",
        "alarm",
        {},
        ("alarmType",),
        (
            "auto_off",
            "low_insulin",
            "low_power",
            "no_delivery",
            "no_insulin",
            "no_power",
            "occlusion",
            "other",
            "over_limit",
        ),
        {},
    ),
    ("calibration-units", "calibration", {("value",): 50}, ("units",), _DEV_BG, {}),
    ("prime-target", "prime", {}, ("primeTarget",), ("cannula", "tubing"), {}),
    ("status-status", "status", {}, ("status",), ("resumed", "suspended"), {}),
    ("time-change-method", "timeChange", {}, ("method",), ("automatic", "manual"), {}),
    (
        "time-change-agent",
        "timeChangeOld",
        {},
        ("change", "agent"),
        ("automatic", "manual"),
        {},
    ),
    (
        "override-type",
        "override",
        {},
        ("overrideType",),
        ("custom", "physicalActivity", "preprandial", "preset", "sleep"),
        {"preset": {("overridePreset",): "Running"}},
    ),
    ("override-method", "override", {}, ("method",), ("automatic", "manual"), {}),
    ("override-units", "override", {("bgTarget",): {"target": 5}}, ("units", "bg"), _DEV_BG, {}),
    ("ps-units-bg", "pumpSettings", {}, ("units", "bg"), _DEV_BG, {}),
    ("ps-units-carb", "pumpSettings", {}, ("units", "carb"), ("exchanges", "grams"), {}),
    ("ps-units-insulin", "pumpSettings", {}, ("units", "insulin"), ("Units",), {}),
    (
        "ps-model-type",
        "pumpSettings",
        {},
        ("insulinModel", "modelType"),
        ("fiasp", "other", "rapidAdult", "rapidChild", "walsh"),
        {"other": {("insulinModel", "modelTypeOther"): "Lyumjev"}},
    ),
    ("ps-temporary-basal", "pumpSettings", {}, ("basal", "temporary", "type"), ("percent", "units/hour"), {}),
    (
        "ps-basal-max-units",
        "pumpSettings",
        {("basal", "rateMaximum", "value"): 1},
        ("basal", "rateMaximum", "units"),
        ("Units/hour",),
        {},
    ),
    (
        "ps-bolus-max-units",
        "pumpSettings",
        {("bolus", "amountMaximum", "value"): 1},
        ("bolus", "amountMaximum", "units"),
        ("Units",),
        {},
    ),
    (
        "ps-calculator-units",
        "pumpSettings",
        {("bolus", "calculator"): {"enabled": True, "insulin": {"duration": 1}}},
        ("bolus", "calculator", "insulin", "units"),
        ("hours", "minutes", "seconds"),
        {},
    ),
    ("ps-display-units", "pumpSettings", {}, ("display", "bloodGlucose", "units"), ("mg/dL", "mmol/L"), {}),
    ("ps-sleep-days", "pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "days", 0), _DAYS, {}),
    ("cgm-units", "cgmSettings", {}, ("units",), _DEV_BG, {}),
    (
        "cgm-level-units",
        "cgmSettings",
        {(*_ALERTS, "enabled"): True, (*_ALERTS, "urgentLow"): {"enabled": True, "level": 3}},
        (*_ALERTS, "urgentLow", "units"),
        ("mg/dL", "mmol/L"),
        {"mg/dL": {(*_ALERTS, "urgentLow", "level"): 60}},
    ),
    (
        "cgm-rate-units",
        "cgmSettings",
        {(*_ALERTS, "enabled"): True, (*_ALERTS, "rise"): {"enabled": True, "rate": 0.1}},
        (*_ALERTS, "rise", "units"),
        ("mg/dL/minute", "mmol/L/minute"),
        {},
    ),
    (
        "cgm-duration-units",
        "cgmSettings",
        {(*_ALERTS, "enabled"): True, (*_ALERTS, "noData"): {"enabled": True, "duration": 1}},
        (*_ALERTS, "noData", "units"),
        ("hours", "minutes", "seconds"),
        {},
    ),
    (
        "cgm-snooze-units",
        "cgmSettings",
        {(*_ALERTS, "enabled"): True, (*_ALERTS, "low"): {"enabled": True, "snooze": {"duration": 1}}},
        (*_ALERTS, "low", "snooze", "units"),
        ("hours", "minutes", "seconds"),
        {},
    ),
    ("cgm-scheduled-days", "cgmSettings", _SCHEDULED_ALERT, ("scheduledAlerts", 0, "days", 0), _DAYS, {}),
    ("dd-units-bg", "dosingDecision", {}, ("units", "bloodGlucose"), _DEV_BG, {}),
    ("dd-units-carb", "dosingDecision", {}, ("units", "carbohydrate"), ("exchanges", "grams"), {}),
    ("dd-units-insulin", "dosingDecision", {}, ("units", "insulin"), ("Units",), {}),
    (
        "dd-carb-units",
        "dosingDecision",
        _FOOD,
        ("food", "nutrition", "carbohydrate", "units"),
        ("grams",),
        {},
    ),
    (
        "dd-energy-units",
        "dosingDecision",
        {**_FOOD, **_ENERGY},
        ("food", "nutrition", "energy", "units"),
        ("calories", "joules", "kilocalories", "kilojoules"),
        {},
    ),
    (
        "csettings-authorization",
        "controllerSettings",
        {},
        ("notifications", "authorization"),
        ("authorized", "denied", "ephemeral", "notDetermined", "provisional"),
        {},
    ),
    (
        "csettings-alert-style",
        "controllerSettings",
        {},
        ("notifications", "alertStyle"),
        ("alert", "banner", "none"),
        {},
    ),
    ("cstatus-state", "controllerStatus", {}, ("battery", "state"), ("charging", "full", "unplugged"), {}),
    (
        "cstatus-units",
        "controllerStatus",
        {("battery", "remaining"): 0.5},
        ("battery", "units"),
        ("percent",),
        {},
    ),
    ("pstatus-battery-state", "pumpStatus", {}, ("battery", "state"), ("charging", "full", "unplugged"), {}),
    (
        "pstatus-basal-state",
        "pumpStatus",
        {},
        ("basalDelivery", "state"),
        _BASAL_STATES,
        {
            "scheduled": {("basalDelivery", "time"): T},
            "suspended": {("basalDelivery", "time"): T},
            "temporary": {("basalDelivery", "dose"): {"rate": 1}},
        },
    ),
    (
        "pstatus-bolus-state",
        "pumpStatus",
        {},
        ("bolusDelivery", "state"),
        ("canceling", "delivering", "initiating", "none"),
        {"delivering": {("bolusDelivery", "dose"): {"amount": 1}}},
    ),
    (
        "pstatus-reservoir-units",
        "pumpStatus",
        {("reservoir", "remaining"): 1},
        ("reservoir", "units"),
        ("Units",),
        {},
    ),
]


def _enum_cases() -> Iterator[Any]:
    for name, base, patch, path, allowed, extra in ENUMS:
        for value in allowed:
            yield pytest.param(
                base, {**patch, **extra.get(value, {})}, path, value, True, id=f"{name}-{value}"
            )
        yield pytest.param(base, patch, path, "bogus", False, id=f"{name}-unknown")


@pytest.mark.parametrize(("base", "patch", "path", "value", "valid"), list(_enum_cases()))
def test_enum(base: str, patch: dict[Path, Any], path: Path, value: str, valid: bool) -> None:
    found = errors_of(make(base, patch, path, value))
    assert found == ([] if valid else [(NOT_ALLOWED, pointer(path))])


@pytest.mark.parametrize(
    "sub_type",
    ["alarm", "calibration", "prime", "pumpSettingsOverride", "reservoirChange", "status", "timeChange"],
)
def test_every_device_event_sub_type_is_known(sub_type: str) -> None:
    errors = errors_of({"type": "deviceEvent", "subType": sub_type, "time": T})
    assert (NOT_ALLOWED, "/0/subType") not in errors


def test_unknown_device_event_sub_type() -> None:
    assert errors_of({"type": "deviceEvent", "subType": "flush", "time": T}) == [(NOT_ALLOWED, "/0/subType")]


def test_missing_device_event_sub_type() -> None:
    assert errors_of({"type": "deviceEvent", "time": T}) == [(NOT_EXISTS, "/0/subType")]


@pytest.mark.parametrize("value", [1199999, 1200001, 14400001, 900000])
def test_deprecated_out_of_range_snooze_not_in_list(value: int) -> None:
    datum = make("cgmSettings", {("outOfRangeAlerts",): {"enabled": True, "snooze": value}})
    assert errors_of(datum) == [(NOT_ALLOWED, "/0/outOfRangeAlerts/snooze")]


@pytest.mark.parametrize("value", [1200000, 1500000, 7200000, 14400000])
def test_deprecated_out_of_range_snooze_in_list(value: int) -> None:
    assert errors_of(make("cgmSettings", {("outOfRangeAlerts",): {"enabled": True, "snooze": value}})) == []


@pytest.mark.parametrize(("value", "valid"), [(0, True), (900000, True), (18000000, True), (600000, False)])
def test_deprecated_level_snooze(value: int, valid: bool) -> None:
    datum = make(
        "cgmSettings",
        {("units",): "mg/dL", ("highAlerts",): {"enabled": True, "level": 200, "snooze": value}},
    )
    assert errors_of(datum) == ([] if valid else [(NOT_ALLOWED, "/0/highAlerts/snooze")])


@pytest.mark.parametrize(
    ("units", "fall", "rise", "valid"),
    [
        ("mg/dL", -3, 2, True),
        ("mg/dL", -2, 3, True),
        ("mg/dL", -1, 2, False),
        ("mg/dL", -3, 4, False),
        ("mmol/L", -0.16652243973136602, 0.11101495982091067, True),
        ("mmol/L", -3, 2, False),
    ],
)
def test_deprecated_rate_alerts(units: str, fall: float, rise: float, valid: bool) -> None:
    datum = make(
        "cgmSettings",
        {
            ("units",): units,
            ("rateOfChangeAlerts",): {
                "fallRate": {"enabled": True, "rate": fall},
                "riseRate": {"enabled": True, "rate": rise},
            },
        },
    )
    assert (errors_of(datum) == []) is valid


# ---- required fields ---------------------------------------------------------------------------------

REQUIRED: list[tuple[str, str, dict[Path, Any], Path]] = [
    ("alarm-type", "alarm", {}, ("alarmType",)),
    ("calibration-units", "calibration", {}, ("units",)),
    ("calibration-value", "calibration", {}, ("value",)),
    ("prime-target", "prime", {}, ("primeTarget",)),
    ("status-status", "status", {}, ("status",)),
    ("status-reason", "status", {}, ("reason",)),
    ("time-change-to", "timeChange", {}, ("to",)),
    (
        "time-change-change-from",
        "timeChangeOld",
        {},
        ("change", "from"),
    ),
    (
        "time-change-change-agent",
        "timeChangeOld",
        {},
        ("change", "agent"),
    ),
    ("override-type", "override", {}, ("overrideType",)),
    (
        "override-preset",
        "override",
        {("overrideType",): "preset", ("overridePreset",): "Run"},
        ("overridePreset",),
    ),
    (
        "override-units-bg",
        "override",
        {("bgTarget",): {"target": 100}, ("units",): {"bg": "mg/dL"}},
        ("units", "bg"),
    ),
    ("override-units", "override", {("bgTarget",): {"target": 100}, ("units",): {"bg": "mg/dL"}}, ("units",)),
    ("ps-active-schedule", "pumpSettings", {}, ("activeSchedule",)),
    ("ps-units-bg", "pumpSettings", {}, ("units", "bg")),
    ("ps-units-carb", "pumpSettings", {}, ("units", "carb")),
    ("ps-basal-rate", "pumpSettings", _SCHED_BASAL, ("basalSchedules", "Default", 0, "rate")),
    ("ps-basal-start", "pumpSettings", _SCHED_BASAL, ("basalSchedules", "Default", 0, "start")),
    ("ps-carb-amount", "pumpSettings", _SCHED_CARB, ("carbRatios", "Default", 0, "amount")),
    ("ps-isf-amount", "pumpSettings", _SCHED_ISF, ("insulinSensitivities", "Default", 0, "amount")),
    (
        "ps-bolus-max-value",
        "pumpSettings",
        {("bolus", "amountMaximum"): {"units": "Units", "value": 1}},
        ("bolus", "amountMaximum", "value"),
    ),
    (
        "ps-calculator-enabled",
        "pumpSettings",
        {("bolus", "calculator"): {"enabled": True}},
        ("bolus", "calculator", "enabled"),
    ),
    (
        "ps-model-other",
        "pumpSettings",
        {("insulinModel",): {"modelType": "other", "modelTypeOther": "Lyumjev"}},
        ("insulinModel", "modelTypeOther"),
    ),
    ("ps-sleep-enabled", "pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "enabled")),
    ("ps-sleep-days", "pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "days")),
    ("ps-sleep-start", "pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "start")),
    ("cgm-alerts-enabled", "cgmSettings", {(*_ALERTS, "enabled"): True}, (*_ALERTS, "enabled")),
    (
        "cgm-alert-enabled",
        "cgmSettings",
        {(*_ALERTS, "enabled"): True, (*_ALERTS, "high"): {"enabled": True}},
        (*_ALERTS, "high", "enabled"),
    ),
    (
        "cgm-level-units",
        "cgmSettings",
        {(*_ALERTS,): {"enabled": True, "high": {"enabled": True, "level": 200, "units": "mg/dL"}}},
        (*_ALERTS, "high", "units"),
    ),
    ("cgm-scheduled-days", "cgmSettings", _SCHEDULED_ALERT, ("scheduledAlerts", 0, "days")),
    ("cgm-scheduled-alerts", "cgmSettings", _SCHEDULED_ALERT, ("scheduledAlerts", 0, "alerts")),
    (
        "cgm-high-alerts-level",
        "cgmSettings",
        {("highAlerts",): {"enabled": True, "level": 200, "snooze": 0}},
        ("highAlerts", "level"),
    ),
    (
        "cgm-rate-of-change-rise",
        "cgmSettings",
        {
            ("rateOfChangeAlerts",): {
                "fallRate": {"enabled": True, "rate": -2},
                "riseRate": {"enabled": True, "rate": 2},
            }
        },
        ("rateOfChangeAlerts", "riseRate"),
    ),
    ("dd-reason", "dosingDecision", {}, ("reason",)),
    ("dd-units", "dosingDecision", {}, ("units",)),
    ("dd-units-bg", "dosingDecision", {}, ("units", "bloodGlucose")),
    ("dd-units-insulin", "dosingDecision", {}, ("units", "insulin")),
    ("dd-food-nutrition", "dosingDecision", _FOOD, ("food", "nutrition")),
    ("dd-food-net", "dosingDecision", _FOOD, ("food", "nutrition", "carbohydrate", "net")),
    ("dd-smbg-value", "dosingDecision", {("smbg", "value"): 100}, ("smbg", "value")),
    ("dd-cob-amount", "dosingDecision", {("carbsOnBoard", "amount"): 1}, ("carbsOnBoard", "amount")),
    ("dd-basal-rate", "dosingDecision", {("recommendedBasal", "rate"): 1}, ("recommendedBasal", "rate")),
    (
        "dd-bolus-duration",
        "dosingDecision",
        {("requestedBolus",): {"extended": 1, "duration": 60000}},
        ("requestedBolus", "duration"),
    ),
    ("dd-issue-id", "dosingDecision", {("warnings",): [{"id": "w"}]}, ("warnings", 0, "id")),
    ("cstatus-battery", "controllerStatus", {}, ("battery",)),
    (
        "cstatus-units",
        "controllerStatus",
        {("battery",): {"remaining": 0.5, "units": "percent"}},
        ("battery", "units"),
    ),
    (
        "pstatus-reservoir-remaining",
        "pumpStatus",
        {("reservoir",): {"remaining": 1, "units": "Units"}},
        ("reservoir", "remaining"),
    ),
    (
        "pstatus-reservoir-units",
        "pumpStatus",
        {("reservoir",): {"remaining": 1, "units": "Units"}},
        ("reservoir", "units"),
    ),
    (
        "pstatus-basal-state",
        "pumpStatus",
        {("basalDelivery",): {"state": "resuming"}},
        ("basalDelivery", "state"),
    ),
    (
        "pstatus-basal-time",
        "pumpStatus",
        {("basalDelivery",): {"state": "scheduled", "time": T}},
        ("basalDelivery", "time"),
    ),
    ("pstatus-basal-dose", "pumpStatus", _BASAL_DOSE, ("basalDelivery", "dose")),
    ("pstatus-basal-dose-rate", "pumpStatus", _BASAL_DOSE, ("basalDelivery", "dose", "rate")),
    ("pstatus-bolus-dose", "pumpStatus", _BOLUS_DOSE, ("bolusDelivery", "dose")),
    ("pstatus-bolus-dose-amount", "pumpStatus", _BOLUS_DOSE, ("bolusDelivery", "dose", "amount")),
]


@pytest.mark.parametrize(("base", "patch", "path"), [pytest.param(*r[1:], id=r[0]) for r in REQUIRED])
def test_required(base: str, patch: dict[Path, Any], path: Path) -> None:
    assert errors_of(make(base, patch)) == []
    assert errors_of(without(base, path, patch)) == [(NOT_EXISTS, pointer(path))]


# ---- JSON types --------------------------------------------------------------------------------------

TYPE_ERRORS: list[tuple[str, str, dict[Path, Any], Path, Any, str]] = [
    ("alarm-type-number", "alarm", {}, ("alarmType",), 3, "type-not-string"),
    ("calibration-value-string", "calibration", {}, ("value",), "100", "type-not-float64"),
    ("prime-volume-bool", "prime", {}, ("volume",), True, "type-not-float64"),
    ("status-duration-float", "status", {}, ("duration",), 1.5, "type-not-int"),
    ("status-reason-string", "status", {}, ("reason",), "manual", "type-not-object"),
    ("time-change-to-array", "timeChange", {}, ("to",), [], "type-not-object"),
    ("override-duration-string", "override", {}, ("duration",), "1", "type-not-int"),
    ("ps-active-schedule-number", "pumpSettings", {}, ("activeSchedule",), 1, "type-not-string"),
    ("ps-basal-schedules-array", "pumpSettings", {}, ("basalSchedules",), [], "type-not-object"),
    ("ps-basal-schedule-object", "pumpSettings", {}, ("basalSchedules", "Default"), {}, "type-not-array"),
    ("ps-basal-segment-number", "pumpSettings", {}, ("basalSchedules", "Default"), [1], "type-not-object"),
    (
        "ps-rate-string",
        "pumpSettings",
        _SCHED_BASAL,
        ("basalSchedules", "Default", 0, "rate"),
        "1",
        "type-not-float64",
    ),
    (
        "ps-start-float",
        "pumpSettings",
        _SCHED_BASAL,
        ("basalSchedules", "Default", 0, "start"),
        0.5,
        "type-not-int",
    ),
    ("ps-automated-string", "pumpSettings", {}, ("automatedDelivery",), "yes", "type-not-bool"),
    ("ps-manufacturers-string", "pumpSettings", {}, ("manufacturers",), "Acme", "type-not-array"),
    ("ps-manufacturer-number", "pumpSettings", {}, ("manufacturers",), [1], "type-not-string"),
    ("cgm-transmitter-number", "cgmSettings", {}, ("transmitterId",), 12345, "type-not-string"),
    ("cgm-alerts-array", "cgmSettings", {}, ("defaultAlerts",), [], "type-not-object"),
    ("cgm-scheduled-object", "cgmSettings", {}, ("scheduledAlerts",), {}, "type-not-array"),
    ("dd-reason-number", "dosingDecision", {}, ("reason",), 1, "type-not-string"),
    ("dd-historical-object", "dosingDecision", {}, ("bgHistorical",), {}, "type-not-array"),
    ("dd-food-time-number", "dosingDecision", _FOOD, ("food", "time"), 1, "type-not-string"),
    ("csettings-badge-string", "controllerSettings", {}, ("notifications", "badge"), "on", "type-not-bool"),
    ("cstatus-remaining-string", "controllerStatus", {}, ("battery", "remaining"), "50%", "type-not-float64"),
    ("pstatus-indeterminant-number", "pumpStatus", {}, ("deliveryIndeterminant",), 0, "type-not-bool"),
]


@pytest.mark.parametrize(
    ("base", "patch", "path", "value", "code"), [pytest.param(*r[1:], id=r[0]) for r in TYPE_ERRORS]
)
def test_json_type(base: str, patch: dict[Path, Any], path: Path, value: Any, code: str) -> None:
    found = errors_of(make(base, patch, path, value))
    expected = pointer(path) + ("/0" if isinstance(value, list) and value else "")
    assert (code, expected) in found
    assert all(c.startswith("type-not-") for c, _ in found), found


@pytest.mark.parametrize("base", sorted(BASES))
def test_unknown_field_not_parsed(base: str) -> None:
    assert errors_of(make(base, {("bogusField",): 1})) == [("not-parsed", "/0/bogusField")]


def test_unknown_nested_field_not_parsed() -> None:
    datum = make("pumpSettings", {("units", "glucose"): "mg/dL"})
    assert errors_of(datum) == [("not-parsed", "/0/units/glucose")]


# ---- lengths -----------------------------------------------------------------------------------------

LENGTHS: list[tuple[str, str, dict[Path, Any], Path, Any, Any, str]] = [
    # (id, base, patch, path, longest valid, too long, code)
    ("dd-reason", "dosingDecision", {}, ("reason",), "r" * 100, "r" * 101, LENGTH),
    ("ps-model", "pumpSettings", {}, ("model",), "m" * 100, "m" * 101, LENGTH),
    ("ps-name", "pumpSettings", {}, ("name",), "n" * 100, "n" * 101, LENGTH),
    ("ps-serial", "pumpSettings", {}, ("serialNumber",), "s" * 100, "s" * 101, LENGTH),
    ("ps-firmware", "pumpSettings", {}, ("firmwareVersion",), "f" * 100, "f" * 101, LENGTH),
    ("ps-hardware", "pumpSettings", {}, ("hardwareVersion",), "h" * 100, "h" * 101, LENGTH),
    ("ps-software", "pumpSettings", {}, ("softwareVersion",), "v" * 100, "v" * 101, LENGTH),
    (
        "ps-manufacturers",
        "pumpSettings",
        {},
        ("manufacturers",),
        [f"m{i}" for i in range(10)],
        [f"m{i}" for i in range(11)],
        LENGTH,
    ),
    (
        "ps-model-other",
        "pumpSettings",
        {("insulinModel", "modelType"): "other"},
        ("insulinModel", "modelTypeOther"),
        "o" * 100,
        "o" * 101,
        LENGTH,
    ),
    (
        "ps-preset-abbreviation",
        "pumpSettings",
        {},
        ("overridePresets", "run", "abbreviation"),
        "a" * 100,
        "a" * 101,
        LENGTH,
    ),
    ("cgm-model", "cgmSettings", {}, ("model",), "m" * 100, "m" * 101, LENGTH),
    (
        "cgm-scheduled-name",
        "cgmSettings",
        _SCHEDULED_ALERT,
        ("scheduledAlerts", 0, "name"),
        "n" * 100,
        "n" * 101,
        LENGTH,
    ),
    (
        "cgm-scheduled-alerts",
        "cgmSettings",
        {},
        ("scheduledAlerts",),
        _SCHEDULED_ALERT[("scheduledAlerts",)] * 10,
        _SCHEDULED_ALERT[("scheduledAlerts",)] * 11,
        LENGTH,
    ),
    (
        "override-preset",
        "override",
        {("overrideType",): "preset"},
        ("overridePreset",),
        "p" * 100,
        "p" * 101,
        LENGTH,
    ),
    (
        "dd-historical",
        "dosingDecision",
        {},
        ("bgHistorical",),
        [{"value": 100}] * 1440,
        [{"value": 100}] * 1441,
        LENGTH,
    ),
    (
        "dd-forecast",
        "dosingDecision",
        {},
        ("bgForecast",),
        [{"value": 100}] * 1440,
        [{"value": 100}] * 1441,
        LENGTH,
    ),
    ("dd-warnings", "dosingDecision", {}, ("warnings",), [{"id": "w"}] * 100, [{"id": "w"}] * 101, LENGTH),
    ("dd-errors", "dosingDecision", {}, ("errors",), [{"id": "e"}] * 100, [{"id": "e"}] * 101, LENGTH),
    (
        "dd-issue-id",
        "dosingDecision",
        {("errors",): [{"id": "e"}]},
        ("errors", 0, "id"),
        "i" * 100,
        "i" * 101,
        LENGTH,
    ),
    ("csettings-name", "controllerSettings", {}, ("device", "name"), "n" * 100, "n" * 101, LENGTH),
]


@pytest.mark.parametrize(
    ("base", "patch", "path", "longest", "too_long", "code"), [pytest.param(*r[1:], id=r[0]) for r in LENGTHS]
)
def test_length(
    base: str, patch: dict[Path, Any], path: Path, longest: Any, too_long: Any, code: str
) -> None:
    assert errors_of(make(base, patch, path, longest)) == []
    assert errors_of(make(base, patch, path, too_long)) == [(code, pointer(path))]


EMPTIES: list[tuple[str, str, dict[Path, Any], Path, Any]] = [
    ("dd-historical", "dosingDecision", {}, ("bgHistorical",), []),
    ("dd-forecast", "dosingDecision", {}, ("bgForecast",), []),
    ("dd-warnings", "dosingDecision", {}, ("warnings",), []),
    ("dd-reason", "dosingDecision", {}, ("reason",), ""),
    ("cgm-scheduled", "cgmSettings", {}, ("scheduledAlerts",), []),
    ("ps-manufacturers", "pumpSettings", {}, ("manufacturers",), []),
    ("ps-manufacturer", "pumpSettings", {("manufacturers",): ["Acme"]}, ("manufacturers", 0), ""),
    ("ps-active-schedule", "pumpSettings", {}, ("activeSchedule",), ""),
    ("status-reason", "status", {}, ("reason",), {}),
    ("dd-issue-metadata", "dosingDecision", {("warnings",): [{"id": "w"}]}, ("warnings", 0, "metadata"), {}),
    ("override-preset", "override", {("overrideType",): "preset"}, ("overridePreset",), ""),
]


@pytest.mark.parametrize(("base", "patch", "path", "value"), [pytest.param(*r[1:], id=r[0]) for r in EMPTIES])
def test_empty(base: str, patch: dict[Path, Any], path: Path, value: Any) -> None:
    assert errors_of(make(base, patch, path, value)) == [(EMPTY, pointer(path))]


def test_manufacturers_unique() -> None:
    datum = make("pumpSettings", {("manufacturers",): ["Acme", "Beta", "Acme"]})
    assert errors_of(datum) == [("value-duplicate", "/0/manufacturers/2")]


def test_metadata_size_limit() -> None:
    small = make("status", {("reason",): {"note": "x" * 6000}})
    assert errors_of(small) == []
    big = make("status", {("reason",): {"note": "x" * 6200}})
    assert errors_of(big) == [("size-out-of-range", "/0/reason")]


# ---- normalization ------------------------------------------------------------------------------------

MGDL_TO_MMOLL = [
    (54, 2.99740),
    (70, 3.88552),
    (140, 7.77105),
    (180, 9.99135),
    (250, 13.87687),
    (400, 22.20299),
]


@pytest.mark.parametrize(("mgdl", "mmoll"), MGDL_TO_MMOLL)
@pytest.mark.parametrize("units", ["mg/dL", "mg/dl"])
def test_calibration_stored_in_mmoll(units: str, mgdl: float, mmoll: float) -> None:
    doc = doc_of(make("calibration", {("units",): units, ("value",): mgdl}))
    assert doc["value"] == mmoll
    assert doc["units"] == "mmol/L"


@pytest.mark.parametrize("units", ["mmol/L", "mmol/l"])
def test_calibration_mmoll_kept(units: str) -> None:
    doc = doc_of(make("calibration", {("units",): units, ("value",): 5.5}))
    assert (doc["value"], doc["units"]) == (5.5, "mmol/L")


@pytest.mark.parametrize(("mgdl", "mmoll"), MGDL_TO_MMOLL)
def test_pump_settings_glucose_stored_in_mmoll(mgdl: float, mmoll: float) -> None:
    doc = doc_of(
        make(
            "pumpSettings",
            {
                ("bgTargets",): {"Default": [{"low": mgdl, "high": mgdl, "start": 0}]},
                ("insulinSensitivities",): {"Default": [{"amount": mgdl, "start": 0}]},
                ("bgSafetyLimit",): mgdl,
                ("bgTargetPreprandial",): {"target": mgdl, "range": 0},
                ("overridePresets",): {"run": {"bgTarget": {"target": mgdl}}},
            },
        )
    )
    assert doc["units"] == {"bg": "mmol/L", "carb": "grams"}
    assert doc["bgTargets"] == {"Default": [{"low": mmoll, "high": mmoll, "start": 0}]}
    assert doc["insulinSensitivities"] == {"Default": [{"amount": mmoll, "start": 0}]}
    assert doc["bgSafetyLimit"] == mmoll
    assert doc["bgTargetPreprandial"] == {"target": mmoll, "range": 0}
    assert doc["overridePresets"] == {"run": {"bgTarget": {"target": mmoll}}}


def test_pump_settings_mmoll_kept() -> None:
    doc = doc_of(
        make("pumpSettings", {**_PS_MMOL, ("bgTarget",): [{"target": 5.5, "range": 0.5, "start": 0}]})
    )
    assert doc["bgTarget"] == [{"target": 5.5, "range": 0.5, "start": 0}]


def test_pump_settings_schedule_values_not_converted() -> None:
    doc = doc_of(make("pumpSettings", {**_SCHED_BASAL, **_SCHED_CARB}))
    assert doc["basalSchedules"] == {"Default": [{"rate": 1, "start": 0}]}
    assert doc["carbRatios"] == {"Default": [{"amount": 10, "start": 0}]}


@pytest.mark.parametrize(("mgdl", "mmoll"), MGDL_TO_MMOLL)
def test_override_target_stored_in_mmoll(mgdl: float, mmoll: float) -> None:
    doc = doc_of(make("override", {("units",): {"bg": "mg/dL"}, ("bgTarget",): {"low": mgdl, "high": mgdl}}))
    assert doc["bgTarget"] == {"low": mmoll, "high": mmoll}
    assert doc["units"] == {"bg": "mmol/L"}


@pytest.mark.parametrize(("mgdl", "mmoll"), MGDL_TO_MMOLL)
def test_dosing_decision_glucose_stored_in_mmoll(mgdl: float, mmoll: float) -> None:
    doc = doc_of(
        make(
            "dosingDecision",
            {
                ("smbg",): {"value": mgdl, "time": "2024-03-01T11:55:00-05:00"},
                ("bgHistorical",): [{"value": mgdl}],
                ("bgForecast",): [{"value": mgdl}, {"value": 2000}],
                ("bgTargetSchedule",): [{"target": mgdl, "start": 0}],
            },
        )
    )
    assert doc["smbg"] == {"value": mmoll, "time": "2024-03-01T16:55:00.000Z"}
    assert doc["bgHistorical"] == [{"value": mmoll}]
    assert doc["bgForecast"] == [{"value": mmoll}, {"value": 111.01496}]
    assert doc["bgTargetSchedule"] == [{"target": mmoll, "start": 0}]
    assert doc["units"]["bloodGlucose"] == "mmol/L"


@pytest.mark.parametrize(("mgdl", "mmoll"), [(120, 6.66090), (250, 13.87687), (400, 22.20299)])
def test_cgm_deprecated_levels_stored_in_mmoll(mgdl: float, mmoll: float) -> None:
    doc = doc_of(
        make(
            "cgmSettings",
            {("units",): "mg/dL", ("highAlerts",): {"enabled": True, "level": mgdl, "snooze": 0}},
        )
    )
    assert doc["highAlerts"]["level"] == mmoll
    assert doc["units"] == "mmol/L"


def test_cgm_deprecated_low_level_and_rates_stored_in_mmoll() -> None:
    doc = doc_of(
        make(
            "cgmSettings",
            {
                ("units",): "mg/dL",
                ("lowAlerts",): {"enabled": True, "level": 70, "snooze": 0},
                ("rateOfChangeAlerts",): {
                    "fallRate": {"enabled": True, "rate": -2},
                    "riseRate": {"enabled": True, "rate": 3},
                },
            },
        )
    )
    assert doc["lowAlerts"]["level"] == 3.88552
    assert doc["rateOfChangeAlerts"]["riseRate"]["rate"] == 0.16652


def test_cgm_alert_levels_with_own_units_kept_as_sent() -> None:
    """As on the platform: new-style alerts carry their own units and are not converted."""
    alerts = {"enabled": True, "high": {"enabled": True, "level": 250, "units": "mg/dL"}}
    doc = doc_of(make("cgmSettings", {("units",): "mg/dL", (*_ALERTS,): alerts}))
    assert doc["defaultAlerts"] == alerts


def test_manufacturers_stored_sorted() -> None:
    for base in ("pumpSettings", "cgmSettings"):
        assert doc_of(make(base, {("manufacturers",): ["Zeta", "Acme"]}))["manufacturers"] == ["Acme", "Zeta"]
    doc = doc_of(make("controllerSettings", {("device", "manufacturers"): ["Zeta", "Acme"]}))
    assert doc["device"]["manufacturers"] == ["Acme", "Zeta"]


def test_sleep_schedule_days_stored_in_week_order() -> None:
    doc = doc_of(
        make("pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "days"), ["saturday", "monday", "sunday"])
    )
    assert doc["sleepSchedules"]["weekday"]["days"] == ["sunday", "monday", "saturday"]


def test_sleep_schedule_disabled_needs_nothing_else() -> None:
    assert errors_of(make("pumpSettings", {("sleepSchedules",): {"off": {"enabled": False}}})) == []


def test_sleep_schedule_days_checked() -> None:
    datum = make("pumpSettings", _SLEEP, ("sleepSchedules", "weekday", "days"), ["monday", "monday"])
    assert errors_of(datum) == [("value-duplicate", "/0/sleepSchedules/weekday/days/1")]


# ---- embedded status (alarm, reservoirChange) ------------------------------------------------------------

_EMBEDDED: dict[str, Any] = {
    "type": "deviceEvent",
    "subType": "status",
    "status": "suspended",
    "reason": {"suspended": "automatic"},
}


@pytest.mark.parametrize("base", ["alarm", "reservoirChange"])
def test_embedded_status_becomes_its_own_datum(base: str) -> None:
    result = parse_data([make(base, {("status",): _EMBEDDED, ("deviceId",): "pump-1"})])
    assert result.errors == []
    event, status = (datum.doc for datum in result.datums)
    assert event["status"] == status["id"]
    assert (status["subType"], status["deviceId"], status["time"]) == (
        "status",
        "pump-1",
        "2024-03-01T12:00:00.000Z",
    )


@pytest.mark.parametrize("base", ["alarm", "reservoirChange"])
def test_status_by_id(base: str) -> None:
    assert errors_of(make(base, {("status",): "0123456789abcdef0123456789abcdef"})) == []
    assert errors_of(make(base, {("status",): "not-an-id"})) == [("value-not-valid", "/0/status")]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({**_EMBEDDED, "subType": "prime"}, [(NOT_ALLOWED, "/0/status/subType")]),
        ({k: v for k, v in _EMBEDDED.items() if k != "subType"}, [(NOT_EXISTS, "/0/status/subType")]),
        ({k: v for k, v in _EMBEDDED.items() if k != "reason"}, [(NOT_EXISTS, "/0/status/reason")]),
        ({**_EMBEDDED, "duration": -1}, [(OUT, "/0/status/duration")]),
        ({**_EMBEDDED, "type": "basal"}, [(NOT_ALLOWED, "/0/status/type")]),
    ],
)
def test_embedded_status_errors(status: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(make("alarm", {("status",): status})) == expected


# ---- cross-field rules -------------------------------------------------------------------------------------


def test_time_change_deprecated_change_form() -> None:
    change = {"from": "2024-03-01T11:00:00", "to": "2024-03-01T10:00:00", "agent": "manual"}
    datum = {k: v for k, v in make("timeChange").items() if k not in ("from", "to", "method")}
    assert errors_of({**datum, "change": change}) == []
    assert errors_of(datum) == [("values-not-exist-for-one", "/0")]
    assert errors_of(make("timeChange", {("change",): change})) == [(EXISTS, "/0/change")]
    assert errors_of({**datum, "change": {**change, "from": "11:00"}}) == [
        ("value-not-valid", "/0/change/from")
    ]


def test_time_change_info() -> None:
    assert errors_of(make("timeChange", {("to",): {"timeZoneName": "Europe/Paris"}})) == []
    assert errors_of(make("timeChange", {("to",): {}})) == [("values-not-exist-for-any", "/0/to")]
    assert errors_of(make("timeChange", {("to", "timeZoneName"): "Mars/Olympus"})) == [
        ("value-not-valid", "/0/to/timeZoneName")
    ]
    assert errors_of(make("timeChange", {("to", "time"): "2024-03-01 10:00"})) == [
        ("value-not-valid", "/0/to/time")
    ]


def test_override_rules() -> None:
    assert errors_of(make("override", {("overridePreset",): "Run"})) == [(EXISTS, "/0/overridePreset")]
    assert errors_of(make("override", {("units",): {"bg": "mg/dL"}})) == [(EXISTS, "/0/units")]
    assert errors_of(make("override", {("bgTarget",): {"target": 100}})) == [(NOT_EXISTS, "/0/units")]

    # Tidepool's override validator requires neither a target nor a scale factor.
    bare = without("override", ("basalRateScaleFactor",))
    assert errors_of(bare) == []


@pytest.mark.parametrize("override_type", ["sleep", "custom", "physicalActivity", "preprandial"])
def test_override_with_only_type_and_duration_is_stored(override_type: str) -> None:
    """What pumps with a sleep mode send: a type and a duration, no target, no scale factor."""
    datum = {
        "type": "deviceEvent",
        "subType": "pumpSettingsOverride",
        "time": T,
        "overrideType": override_type,
        "method": "manual",
        "duration": 28_800_000,
        "expectedDuration": 28_800_000,
    }
    assert doc_of(datum)["overrideType"] == override_type
    assert errors_of({**datum, "overrideType": "preset", "overridePreset": "Night"}) == []


def test_insulin_model_other_text_only_for_other() -> None:
    datum = make("pumpSettings", {("insulinModel",): {"modelType": "fiasp", "modelTypeOther": "x"}})
    assert errors_of(datum) == [(EXISTS, "/0/insulinModel/modelTypeOther")]


def test_cgm_units_without_value_refused() -> None:
    alerts = {"enabled": True, "low": {"enabled": True, "units": "mg/dL"}}
    assert errors_of(make("cgmSettings", {(*_ALERTS,): alerts})) == [(EXISTS, "/0/defaultAlerts/low/units")]


@pytest.mark.parametrize(
    ("value", "valid"),
    [("", True), ("8GXYZ", True), ("A" * 64, True), ("ABCD", False), ("A" * 65, False), ("8G-XY", False)],
)
def test_transmitter_id(value: str, valid: bool) -> None:
    found = errors_of(make("cgmSettings", {("transmitterId",): value}))
    assert found == ([] if valid else [("value-not-valid", "/0/transmitterId")])


@pytest.mark.parametrize(
    ("bolus", "expected"),
    [
        ({"amount": 1, "normal": 1}, [(EXISTS, "normal")]),
        ({"amount": 1, "duration": 1}, [(EXISTS, "duration")]),
        ({"normal": 1, "duration": 1}, [(EXISTS, "duration")]),
        ({"normal": 1, "extended": 1, "duration": 1}, []),
        ({"duration": 1}, [(EXISTS, "duration"), ("values-not-exist-for-any", "")]),
        ({}, [("values-not-exist-for-any", "")]),
    ],
)
def test_dosing_bolus_forms(bolus: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    found = errors_of(make("dosingDecision", {("requestedBolus",): bolus}))
    assert found == [(code, "/0/requestedBolus" + (f"/{key}" if key else "")) for code, key in expected]


def test_end_time_after_start_time() -> None:
    cob = {"amount": 1, "startTime": "2024-03-01T12:00:00Z"}
    assert (
        errors_of(make("dosingDecision", {("carbsOnBoard",): {**cob, "endTime": "2024-03-01T13:00:00Z"}}))
        == []
    )
    datum = make("dosingDecision", {("carbsOnBoard",): {**cob, "endTime": "2024-03-01T12:00:00Z"}})
    assert errors_of(datum) == [("value-not-after", "/0/carbsOnBoard/endTime")]
    dose = {"rate": 1, "startTime": "2024-03-01T12:00:00Z", "endTime": "2024-03-01T11:00:00Z"}
    datum = make("pumpStatus", {("basalDelivery",): {"state": "temporary", "dose": dose}})
    assert errors_of(datum) == [("value-not-after", "/0/basalDelivery/dose/endTime")]
    dose = {"rate": 1, "endTime": "2024-03-01T11:00:00Z"}
    datum = make("pumpStatus", {("basalDelivery",): {"state": "temporary", "dose": dose}})
    assert errors_of(datum) == [(EXISTS, "/0/basalDelivery/dose/endTime")]


def test_pump_status_delivery_rules() -> None:
    assert errors_of(make("pumpStatus", {("basalDelivery",): {"state": "resuming", "time": T}})) == [
        (EXISTS, "/0/basalDelivery/time")
    ]
    assert errors_of(
        make("pumpStatus", {("basalDelivery",): {"state": "resuming", "dose": {"rate": 1}}})
    ) == [(EXISTS, "/0/basalDelivery/dose")]
    assert errors_of(make("pumpStatus", {("bolusDelivery",): {"state": "none", "dose": {"amount": 1}}})) == [
        (EXISTS, "/0/bolusDelivery/dose")
    ]


@pytest.mark.parametrize(
    ("base", "remove", "pointer_", "code"),
    [
        ("pumpStatus", "deliveryIndeterminant", "/0", "values-not-exist-for-any"),
        ("controllerSettings", "device", "/0", "values-not-exist-for-any"),
    ],
)
def test_at_least_one_part(base: str, remove: str, pointer_: str, code: str) -> None:
    assert errors_of(without(base, (remove,))) == [(code, pointer_)]


def test_at_least_one_part_nested() -> None:
    assert errors_of(make("controllerSettings", {("device",): {}})) == [
        ("values-not-exist-for-any", "/0/device")
    ]
    datum = make("controllerSettings", {("notifications",): {}})
    assert errors_of(datum) == [("values-not-exist-for-any", "/0/notifications")]
    assert errors_of(make("controllerStatus", {("battery",): {}})) == [
        ("values-not-exist-for-any", "/0/battery")
    ]
    assert errors_of(make("controllerStatus", {("battery",): {"state": "full", "units": "percent"}})) == [
        (EXISTS, "/0/battery/units")
    ]


def test_full_pump_status_is_valid() -> None:
    datum = make(
        "pumpStatus",
        {
            ("basalDelivery",): {
                "state": "temporary",
                "dose": {"rate": 0.5, "startTime": T, "amountDelivered": 0.1},
            },
            ("bolusDelivery",): {
                "state": "delivering",
                "dose": {"amount": 2, "amountDelivered": 1, "startTime": T},
            },
            ("battery",): {"state": "unplugged", "remaining": 0.4, "units": "percent", "time": T},
            ("reservoir",): {"remaining": 120, "units": "Units", "time": T},
        },
    )
    assert errors_of(datum) == []


def test_full_dosing_decision_is_valid() -> None:
    datum = make(
        "dosingDecision",
        {
            ("originalFood",): {"time": T, "nutrition": {"carbohydrate": {"net": 30, "units": "grams"}}},
            **_FOOD,
            ("smbg",): {"value": 120, "time": T},
            ("carbsOnBoard",): {"amount": 20, "startTime": T, "endTime": "2024-03-01T15:00:00Z"},
            ("insulinOnBoard",): {"amount": -0.5, "startTime": T},
            ("bgTargetSchedule",): [
                {"low": 100, "high": 110, "start": 0},
                {"target": 120, "start": 21600000},
            ],
            ("bgHistorical",): [{"value": 110, "time": T}],
            ("bgForecast",): [{"value": 115, "time": T}],
            ("recommendedBasal",): {"rate": 0.8, "duration": 1800, "time": T},
            ("recommendedBolus",): {"amount": 1.5},
            ("requestedBolus",): {"normal": 1.5},
            ("warnings",): [{"id": "bgDrift", "metadata": {"minutes": 5}}],
            ("errors",): [{"id": "pumpComms"}],
            ("scheduleTimeZoneOffset",): -300,
        },
    )
    assert errors_of(datum) == []


def test_full_pump_settings_is_valid() -> None:
    datum = make(
        "pumpSettings",
        {
            ("automatedDelivery",): True,
            ("basal",): {
                "rateMaximum": {"units": "Units/hour", "value": 3.5},
                "temporary": {"type": "percent"},
            },
            **_SCHED_BASAL,
            **_SCHED_CARB,
            **_SCHED_ISF,
            **_SCHED_LOW_HIGH,
            ("bolus",): {
                "amountMaximum": {"units": "Units", "value": 10},
                "calculator": {"enabled": True, "insulin": {"duration": 4, "units": "hours"}},
                "extended": {"enabled": False},
            },
            ("display",): {"bloodGlucose": {"units": "mg/dL"}},
            ("insulinFormulation",): {"simple": {"actingType": "rapid"}},
            ("insulinModel",): {
                "modelType": "rapidAdult",
                "actionDelay": 600,
                "actionDuration": 21600,
                "actionPeakOffset": 4500,
            },
            ("overridePresets",): {
                "run": {"abbreviation": "R", "duration": 3600000, "basalRateScaleFactor": 0.5}
            },
            ("sleepSchedules",): {
                "weekday": {"enabled": True, "days": ["monday"], "start": 79200, "end": 25200}
            },
            ("scheduleTimeZoneOffset",): -300,
            ("manufacturers",): ["Acme"],
            ("model",): "Pump",
            ("name",): "My pump",
            ("serialNumber",): "123",
            ("firmwareVersion",): "1",
            ("hardwareVersion",): "2",
            ("softwareVersion",): "3",
            ("units", "insulin"): "Units",
        },
    )
    assert errors_of(datum) == []


def test_error_detail_reads_like_go() -> None:
    errors = parse_data([make("prime", {("primeTarget",): "tubing", ("volume",): 100.5})]).errors
    assert [x.detail for x in errors] == ["value 100.5 is not between 0 and 100"]
    errors = parse_data([make("override", {("carbRatioScaleFactor",): 0.09})]).errors
    assert [x.detail for x in errors] == ["value 0.09 is not between 0.1 and 10"]

"""Dexcom API v3 records -> Inlet datums: pure functions, no I/O.

The mapping follows the shared reference (partner-sync.md, "Dexcom -> Tidepool mapping"):

| Dexcom | Inlet datum |
| --- | --- |
| egv | ``cbg`` (trend, trendRate + trendRateUnits, High/Low pinned to 401/39 with a
  ``bg/out-of-range`` annotation and its threshold) |
| calibration | ``deviceEvent``/``calibration`` |
| event carbs | ``food`` (``nutrition.carbohydrate.net``, grams) |
| event insulin | ``insulin`` (fastActing -> rapid, longActing -> long; ``dose.total``) |
| event exercise | ``physicalActivity`` (light/medium/heavy -> low/medium/high, duration) |
| event health, notes | ``reportedState`` |
| event bloodGlucose | ``smbg`` |
| alert | ``alert`` (``issuedTime`` = the record's instant, from systemTime) |
| device | ``cgmSettings`` (time = lastUploadDate, alerts from the schedules) |

Every datum carries ``origin {id: recordId, name, type: "service"}`` and a ``payload`` keeping the
Dexcom fields that have no place in the model. Time fields come from
:func:`inlet.model.timeutil.translate_display_time`. ``deviceId`` is the generation's prefix, ``_`` and
the transmitterId (the prefix alone when the id is empty).

Events with ``eventStatus: deleted`` produce no datum but a tombstone (their origin id); updated ones
map as created ones do (the sync engine stores them as a new version). Unknown enum values never
raise: a field that cannot be read is left out, a record that cannot be mapped is skipped, and both
are reported as :class:`Problem` entries. :func:`map_records` also validates every datum with
:func:`inlet.model.parse.parse_data`, so what it returns is always storable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inlet.model import glucose
from inlet.model.parse import parse_data
from inlet.model.timeutil import format_utc, translate_display_time
from inlet.model.types.cgm_settings import (
    FALL_RATES,
    HIGH_LEVELS,
    LOW_LEVELS,
    NO_DATA_DURATIONS,
    OUT_OF_RANGE_DURATIONS,
    RISE_RATES,
    SNOOZE_DURATIONS,
    URGENT_LOW_LEVELS,
)
from inlet.partners.contract import MappingResult, Problem, service_datum

ORIGIN_NAME = "com.dexcom.api"
RECORD_KINDS = ("egv", "calibration", "event", "alert", "device")

TRENDS = {
    "doubleUp": "rapidRise",
    "singleUp": "moderateRise",
    "fortyFiveUp": "slowRise",
    "flat": "constant",
    "fortyFiveDown": "slowFall",
    "singleDown": "moderateFall",
    "doubleDown": "rapidFall",
}
NO_TREND = frozenset({"none", "unknown", "notComputable", "rateOutOfRange"})
STATUSES = frozenset({"unknown", "high", "low", "ok"})
UNITS = {"mg/dL": "mg/dL", "mmol/L": "mmol/L"}
RATE_UNITS = {"mg/dL/min": glucose.RATE_UNITS_MGDL, "mmol/L/min": glucose.RATE_UNITS_MMOLL}
DISPLAY_DEVICES = frozenset({"iOS", "android", "receiver", "shareReceiver", "touchscreenReceiver", "unknown"})
GENERATION_PREFIX = {
    "g4": "DexcomG4",
    "g5": "DexcomG5",
    "g6": "DexcomG6",
    "g6 pro": "DexcomG6Pro",
    "g6+": "DexcomG6Plus",
    "dexcomPro": "DexcomPro",
    "g7": "DexcomG7",
    "g715day": "DexcomG7-15Day",
    "unknown": "Dexcom",
}
DEFAULT_PREFIX = "Dexcom"

# Out-of-range readings: below the low threshold -> pinned one step below, with an annotation.
LIMITS = {"mg/dL": (40.0, 400.0, 39.0, 401.0), "mmol/L": (2.2, 22.2, 2.1, 22.3)}

EVENT_STATUSES = frozenset({"created", "updated", "deleted"})
EVENT_TYPES = frozenset({"insulin", "carbs", "exercise", "health", "bloodGlucose", "notes", "note"})
INSULIN_TYPES = {"fastActing": "rapid", "longActing": "long"}
INTENSITIES = {"light": "low", "medium": "medium", "heavy": "high"}
HEALTH_STATES = {
    "illness": "illness",
    "stress": "stress",
    "highSymptoms": "hyperglycemiaSymptoms",
    "lowSymptoms": "hypoglycemiaSymptoms",
    "cycle": "cycle",
    "alcohol": "alcohol",
}
DURATION_UNITS = {"minutes": "minutes", "hours": "hours", "seconds": "seconds"}
ALERT_NAMES = frozenset(
    {
        "high",
        "low",
        "rise",
        "fall",
        "outOfRange",
        "urgentLow",
        "urgentLowSoon",
        "noReadings",
        "fixedLow",
        "unknown",
    }
)
ALERT_STATES = frozenset({"inactive", "activeSnoozed", "activeAlarming", "unknown"})

# cgmSettings: Dexcom alert setting name -> (model alert, value key, ranges by units)
SETTING_ALERTS: dict[str, tuple[str, str, Mapping[str, tuple[float, float]]]] = {
    "urgentLow": ("urgentLow", "level", URGENT_LOW_LEVELS),
    "fixedLow": ("urgentLow", "level", URGENT_LOW_LEVELS),
    "urgentLowSoon": ("urgentLowPredicted", "level", URGENT_LOW_LEVELS),
    "low": ("low", "level", LOW_LEVELS),
    "high": ("high", "level", HIGH_LEVELS),
    "fall": ("fall", "rate", FALL_RATES),
    "rise": ("rise", "rate", RISE_RATES),
    "noReadings": ("noData", "duration", NO_DATA_DURATIONS),
    "outOfRange": ("outOfRange", "duration", OUT_OF_RANGE_DURATIONS),
}
SETTING_UNITS = {
    "mg/dL": "mg/dL",
    "mmol/L": "mmol/L",
    "mg/dL/min": "mg/dL/minute",
    "mmol/L/min": "mmol/L/minute",
    "minutes": "minutes",
    "hours": "hours",
    "seconds": "seconds",
}
DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY_MS = 86_400_000
PAYLOAD_KEYS = (
    "systemTime",
    "displayTime",
    "transmitterId",
    "transmitterTicks",
    "displayDevice",
    "transmitterGeneration",
    "status",
)


class SkipRecord(ValueError):
    """Raised inside a mapper: the record cannot be mapped."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Tombstone:
    """A deleted partner record: remove what was stored under this origin id."""

    origin_id: str


class _Notes:
    """Collects the dropped-field problems of one record."""

    def __init__(self, kind: str, record_id: str | None) -> None:
        self.kind = kind
        self.record_id = record_id
        self.problems: list[Problem] = []

    def drop(self, field_name: str, reason: str) -> None:
        self.problems.append(Problem(self.kind, self.record_id, reason, field_name, skipped=False))


# ---- shared pieces ----------------------------------------------------------------------------


def device_id(generation: Any, transmitter_id: Any) -> str:
    """``<prefix>_<transmitterId>``, or the prefix alone when the transmitter id is empty."""
    prefix = (
        GENERATION_PREFIX.get(generation, DEFAULT_PREFIX) if isinstance(generation, str) else DEFAULT_PREFIX
    )
    if isinstance(transmitter_id, str) and transmitter_id:
        return f"{prefix}_{transmitter_id}"
    return prefix


def _record_id(record: Mapping[str, Any]) -> str:
    rid = record.get("recordId")
    if not isinstance(rid, str) or not rid:
        raise SkipRecord("recordId is missing", "recordId")
    if len(rid) > 100:
        raise SkipRecord("recordId is longer than 100 characters", "recordId")
    return rid


def _base(record: Mapping[str, Any], datum_type: str, origin_id: str, notes: _Notes) -> dict[str, Any]:
    """type, time fields, deviceId, origin and payload."""
    system = record.get("systemTime")
    display = record.get("displayTime")
    if not isinstance(system, str):
        raise SkipRecord("systemTime is missing", "systemTime")
    if display is not None and not isinstance(display, str):
        raise SkipRecord("displayTime is not a string", "displayTime")
    try:
        translated = translate_display_time(system, display)
    except ValueError as error:
        raise SkipRecord(str(error), "systemTime") from None
    generation = record.get("transmitterGeneration")
    if generation is not None and generation not in GENERATION_PREFIX:
        notes.drop("transmitterGeneration", f"unknown transmitterGeneration {generation!r}: prefix Dexcom")
    display_device = record.get("displayDevice")
    if display_device is not None and display_device not in DISPLAY_DEVICES:
        notes.drop("displayDevice", f"unknown displayDevice {display_device!r}: kept in the payload only")
    device = device_id(generation, record.get("transmitterId"))
    datum = service_datum(datum_type, translated, device, origin_id, ORIGIN_NAME)
    payload = {key: record[key] for key in PAYLOAD_KEYS if key in record}
    if payload:
        datum["payload"] = payload
    return datum


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise SkipRecord(f"{name} is not a number", name)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise SkipRecord(f"{name} {value!r} is not a number", name) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise SkipRecord(f"{name} {value!r} is not a number", name)
        return number
    raise SkipRecord(f"{name} is missing", name)


def _units(record: Mapping[str, Any]) -> str:
    unit = record.get("unit")
    units = UNITS.get(unit) if isinstance(unit, str) else None
    if units is None:
        raise SkipRecord(f"unknown unit {unit!r}", "unit")
    return units


def _clean(value: float) -> int | float:
    return int(value) if value.is_integer() else value


# ---- egv -----------------------------------------------------------------------------------------


def map_egv(record: Mapping[str, Any], notes: _Notes | None = None) -> dict[str, Any]:
    """An EGV -> cbg. Raises :class:`SkipRecord` when the record cannot be mapped."""
    notes = notes or _Notes("egv", record.get("recordId"))
    rid = _record_id(record)
    datum = _base(record, "cbg", rid, notes)
    units = _units(record)
    low_limit, high_limit, low_pin, high_pin = LIMITS[units]
    status = record.get("status")
    if status is not None and status not in STATUSES:
        notes.drop("status", f"unknown status {status!r}")
        status = None
    raw_value = record.get("value")
    if raw_value is None:
        if status == "high":
            value = high_limit + 1
        elif status == "low":
            value = low_limit - 1
        else:
            raise SkipRecord(f"value is null and status is {status!r}", "value")
    else:
        value = _number(raw_value, "value")
    annotation = None
    if value < low_limit or (raw_value is None and status == "low"):
        value = low_pin
        annotation = {"code": "bg/out-of-range", "value": "low", "threshold": _clean(low_limit)}
    elif value > high_limit or (raw_value is None and status == "high"):
        value = high_pin
        annotation = {"code": "bg/out-of-range", "value": "high", "threshold": _clean(high_limit)}
    datum["units"] = units
    datum["value"] = _clean(value)
    if annotation is not None:
        datum["annotations"] = [annotation]
    trend = record.get("trend")
    if trend in TRENDS:
        datum["trend"] = TRENDS[trend]
    elif trend is not None and trend not in NO_TREND:
        notes.drop("trend", f"unknown trend {trend!r}")
    rate = record.get("trendRate")
    if rate is not None:
        rate_unit = record.get("rateUnit")
        rate_units = RATE_UNITS.get(rate_unit) if isinstance(rate_unit, str) else None
        if rate_units is None:
            notes.drop("trendRate", f"unknown rateUnit {rate_unit!r}")
        else:
            try:
                number = _number(rate, "trendRate")
            except SkipRecord as skip:
                notes.drop("trendRate", skip.reason)
            else:
                bounds = glucose.rate_range_for_units(rate_units)
                if bounds is not None and not bounds[0] <= number <= bounds[1]:
                    notes.drop("trendRate", f"trendRate {number} is out of range")
                else:
                    datum["trendRate"] = number
                    datum["trendRateUnits"] = rate_units
    return datum


# ---- calibration -----------------------------------------------------------------------------------


def map_calibration(record: Mapping[str, Any], notes: _Notes | None = None) -> dict[str, Any]:
    notes = notes or _Notes("calibration", record.get("recordId"))
    rid = _record_id(record)
    datum = _base(record, "deviceEvent", rid, notes)
    datum["subType"] = "calibration"
    datum["units"] = _units(record)
    datum["value"] = _clean(_number(record.get("value"), "value"))
    return datum


# ---- events ------------------------------------------------------------------------------------------


def map_event(record: Mapping[str, Any], notes: _Notes | None = None) -> dict[str, Any] | Tombstone:
    """An event -> food, insulin, physicalActivity, reportedState or smbg; a deleted one -> a
    :class:`Tombstone`."""
    notes = notes or _Notes("event", record.get("recordId"))
    rid = _record_id(record)
    status = record.get("eventStatus")
    if status not in EVENT_STATUSES:
        raise SkipRecord(f"unknown eventStatus {status!r}", "eventStatus")
    if status == "deleted":
        return Tombstone(rid)
    event_type = record.get("eventType")
    if event_type not in EVENT_TYPES:
        raise SkipRecord(f"unknown eventType {event_type!r}", "eventType")
    sub_type = record.get("eventSubType")
    value = record.get("value")
    if event_type == "carbs":
        datum = _base(record, "food", rid, notes)
        carbs = _number(value, "value")
        datum["nutrition"] = {"carbohydrate": {"net": _clean(carbs), "units": "grams"}}
    elif event_type == "insulin":
        datum = _base(record, "insulin", rid, notes)
        datum["dose"] = {"total": _clean(_number(value, "value")), "units": "Units"}
        if sub_type in INSULIN_TYPES:
            datum["formulation"] = {"simple": {"actingType": INSULIN_TYPES[sub_type]}}
        elif sub_type is not None:
            notes.drop("eventSubType", f"unknown insulin eventSubType {sub_type!r}")
    elif event_type == "exercise":
        datum = _base(record, "physicalActivity", rid, notes)
        if sub_type in INTENSITIES:
            datum["reportedIntensity"] = INTENSITIES[sub_type]
        elif sub_type is not None:
            notes.drop("eventSubType", f"unknown exercise eventSubType {sub_type!r}")
        if value is not None and value != "":
            unit = record.get("unit")
            units = DURATION_UNITS.get(unit) if isinstance(unit, str) else None
            if units is None:
                notes.drop("value", f"unknown exercise unit {unit!r}")
            else:
                datum["duration"] = {"units": units, "value": _clean(_number(value, "value"))}
    elif event_type == "health":
        datum = _base(record, "reportedState", rid, notes)
        if sub_type in HEALTH_STATES:
            datum["states"] = [{"state": HEALTH_STATES[sub_type]}]
        else:
            other = str(sub_type or value or "health")[:100]
            notes.drop("eventSubType", f"unknown health eventSubType {sub_type!r}: state other")
            datum["states"] = [{"state": "other", "stateOther": other}]
    elif event_type in ("notes", "note"):
        datum = _base(record, "reportedState", rid, notes)
        text = value if isinstance(value, str) else ""
        datum["states"] = [{"state": "other", "stateOther": (text.strip() or "note")[:100]}]
        if text.strip():
            datum["notes"] = [text[:1000]]
    else:  # bloodGlucose
        datum = _base(record, "smbg", rid, notes)
        datum["units"] = _units(record)
        datum["value"] = _clean(_number(value, "value"))
        datum["subType"] = "manual"
    payload = datum.setdefault("payload", {})
    payload["eventStatus"] = status
    for key in ("eventType", "eventSubType", "unit", "value"):
        if key in record:
            payload[key] = record[key]
    return datum


# ---- alerts ------------------------------------------------------------------------------------------


def map_alert(record: Mapping[str, Any], notes: _Notes | None = None) -> dict[str, Any]:
    """An alert -> alert. ``issuedTime`` is the record's instant (systemTime): displayTime is the
    device's wall clock, often without a zone, so it is no instant."""
    notes = notes or _Notes("alert", record.get("recordId"))
    rid = _record_id(record)
    datum = _base(record, "alert", rid, notes)
    name = record.get("alertName")
    if not isinstance(name, str) or not name or len(name) > 100:
        raise SkipRecord(f"alertName {name!r} is not usable", "alertName")
    if name not in ALERT_NAMES:
        notes.drop("alertName", f"unknown alertName {name!r}: kept as the alert's name")
    datum["name"] = name
    datum["issuedTime"] = datum["time"]
    state = record.get("alertState")
    if state is not None and state not in ALERT_STATES:
        notes.drop("alertState", f"unknown alertState {state!r}: kept in the payload only")
    payload = datum.setdefault("payload", {})
    for key in ("alertName", "alertState", "displayApp"):
        if key in record:
            payload[key] = record[key]
    return datum


# ---- devices -> cgmSettings ----------------------------------------------------------------------------


def _clock_ms(text: Any) -> int | None:
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        return None
    return (hours * 60 + minutes) * 60_000


def _alerts(settings: Any, notes: _Notes, where: str) -> tuple[dict[str, Any], str | None]:
    """A schedule's alertSettings -> the model's alerts object, and the glucose units seen."""
    alerts: dict[str, Any] = {}
    units_seen: str | None = None
    for item in settings if isinstance(settings, list) else []:
        if not isinstance(item, Mapping):
            continue
        name = item.get("alertName")
        spec = SETTING_ALERTS.get(name) if isinstance(name, str) else None
        if spec is None:
            notes.drop(f"{where}/alertSettings", f"unknown alertName {name!r}")
            continue
        target, key, ranges = spec
        if target in alerts:
            continue
        alert: dict[str, Any] = {"enabled": bool(item.get("enabled", False))}
        unit = item.get("unit")
        units = SETTING_UNITS.get(unit) if isinstance(unit, str) else None
        value = item.get("value")
        if (
            units is not None
            and units in ranges
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            low, high = ranges[units]
            if low <= value <= high:
                alert[key] = value
                alert["units"] = units
                if key == "level":
                    units_seen = units_seen or units
            else:
                notes.drop(f"{where}/{name}", f"{name} value {value} {unit} is out of range")
        elif value is not None:
            notes.drop(f"{where}/{name}", f"{name} has unknown unit {unit!r}")
        snooze = item.get("snooze")
        if isinstance(snooze, int | float) and not isinstance(snooze, bool):
            low, high = SNOOZE_DURATIONS["minutes"]
            if low <= snooze <= high:
                alert["snooze"] = {"duration": snooze, "units": "minutes"}
        alerts[target] = alert
    return alerts, units_seen


def device_origin_id(record: Mapping[str, Any], time: str) -> str:
    """Devices have no recordId: the transmitter (or generation) and the upload instant stand in."""
    transmitter = record.get("transmitterId")
    who = (
        transmitter
        if isinstance(transmitter, str) and transmitter
        else str(record.get("transmitterGeneration"))
    )
    compact = time[:19].replace("-", "").replace(":", "") + "Z"
    return f"{who[:80]}:{compact}"


def map_device(record: Mapping[str, Any], notes: _Notes | None = None) -> dict[str, Any]:
    """A device -> cgmSettings at lastUploadDate, with the alert schedules."""
    notes = notes or _Notes("device", None)
    upload = record.get("lastUploadDate")
    if not isinstance(upload, str):
        raise SkipRecord("lastUploadDate is missing", "lastUploadDate")
    try:
        translated = translate_display_time(upload, None)
    except ValueError:
        raise SkipRecord(f"lastUploadDate {upload!r} is not parsable", "lastUploadDate") from None
    time = format_utc(translated.time)
    origin_id = device_origin_id(record, time)
    notes.record_id = origin_id
    base_record = {"systemTime": upload, **{k: v for k, v in record.items() if k != "alertSchedules"}}
    datum = _base(base_record, "cgmSettings", origin_id, notes)
    datum.pop("payload", None)
    transmitter = record.get("transmitterId")
    datum["manufacturers"] = ["Dexcom"]
    generation = record.get("transmitterGeneration")
    if isinstance(generation, str) and generation in GENERATION_PREFIX:
        datum["model"] = GENERATION_PREFIX[generation]
    if isinstance(transmitter, str) and re.fullmatch(r"[0-9a-zA-Z]{5,64}|", transmitter):
        datum["transmitterId"] = transmitter
    elif transmitter is not None:
        notes.drop("transmitterId", "transmitterId is not valid for cgmSettings")
    scheduled: list[dict[str, Any]] = []
    default_alerts: dict[str, Any] | None = None
    units: str | None = None
    schedules = record.get("alertSchedules")
    for index, schedule in enumerate(schedules if isinstance(schedules, list) else []):
        if not isinstance(schedule, Mapping):
            continue
        where = f"alertSchedules/{index}"
        settings = schedule.get("alertScheduleSettings")
        settings = settings if isinstance(settings, Mapping) else {}
        alerts, seen = _alerts(schedule.get("alertSettings"), notes, where)
        units = units or seen
        alerts_obj = {"enabled": bool(settings.get("isEnabled", True)), **alerts}
        if settings.get("isDefaultSchedule") and default_alerts is None:
            default_alerts = alerts_obj
        start, end = _clock_ms(settings.get("startTime")), _clock_ms(settings.get("endTime"))
        if start is None or end is None:
            notes.drop(where, "startTime or endTime is not hh:mm")
            continue
        if end <= start:
            end += _DAY_MS
        days = settings.get("daysOfWeek")
        entry: dict[str, Any] = {
            "days": [d for d in DAYS if isinstance(days, list) and d in days],
            "start": start,
            "end": end,
            "alerts": alerts_obj,
        }
        name = settings.get("alertScheduleName", settings.get("name"))
        if isinstance(name, str) and name:
            entry["name"] = name[:100]
        if len(scheduled) < 10:
            scheduled.append(entry)
        else:
            notes.drop(where, "more than 10 alert schedules")
    if default_alerts is not None:
        datum["defaultAlerts"] = default_alerts
    if scheduled:
        datum["scheduledAlerts"] = scheduled
    if units is not None:
        datum["units"] = units
    datum["payload"] = {
        key: record[key]
        for key in ("lastUploadDate", "transmitterId", "transmitterGeneration", "displayDevice", "displayApp")
        if key in record
    }
    return datum


# ---- batches -------------------------------------------------------------------------------------------

MAPPERS: dict[str, Callable[..., dict[str, Any] | Tombstone]] = {
    "egv": map_egv,
    "calibration": map_calibration,
    "event": map_event,
    "alert": map_alert,
    "device": map_device,
}


def map_record(kind: str, record: Any, result: MappingResult, *, validate: bool = True) -> None:
    """Map one record of ``kind`` into ``result`` (a datum, a tombstone or a problem)."""
    if kind not in MAPPERS:
        raise ValueError(f"unknown Dexcom record kind {kind!r}")
    rid = record.get("recordId") if isinstance(record, Mapping) else None
    rid = rid if isinstance(rid, str) else None
    if not isinstance(record, Mapping):
        result.problems.append(Problem(kind, None, "the record is not an object"))
        return
    notes = _Notes(kind, rid)
    try:
        mapped = MAPPERS[kind](record, notes)
    except SkipRecord as skip:
        result.problems.extend(notes.problems)
        result.problems.append(Problem(kind, notes.record_id, skip.reason, skip.field))
        return
    except Exception as error:  # a record no mapper foresaw: skipped, never blocking the ones after it
        reason = f"the record could not be mapped ({type(error).__name__})"
        result.problems.append(Problem(kind, notes.record_id, reason))
        return
    result.problems.extend(notes.problems)
    if isinstance(mapped, Tombstone):
        result.deleted.append(mapped.origin_id)
        return
    if validate:
        parsed = parse_data([mapped])
        if not parsed.ok:
            reason = "; ".join(f"{err.pointer}: {err.detail}" for err in parsed.errors[:3])
            result.problems.append(Problem(kind, notes.record_id, f"not a valid datum: {reason}"))
            return
    result.datums.append(mapped)


def map_records(kind: str, records: Iterable[Any], *, validate: bool = True) -> MappingResult:
    """Map a batch of one kind (``egv``, ``calibration``, ``event``, ``alert``, ``device``)."""
    result = MappingResult()
    for record in records:
        map_record(kind, record, result, validate=validate)
    return result

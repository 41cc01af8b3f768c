"""ACME Pump Cloud records -> Inlet datums: pure functions, no I/O (docs/partners-acme-api.md).

| ACME | Inlet datum |
| --- | --- |
| basal ``scheduled`` | ``basal``/scheduled (rate, duration, expectedDuration, scheduleName) |
| basal ``temp`` | ``basal``/temp (rate, percent, suppressed scheduled basal) |
| basal ``suspend`` | ``basal``/suspend (suppressed scheduled basal) |
| bolus ``normal`` | ``bolus``/normal (normal, expectedNormal) |
| bolus ``extended`` | ``bolus``/square (extended, duration; expectedExtended + expectedDuration) |
| bolus ``combination`` | ``bolus``/dual/square (normal and the extended part) |
| device | no datum: :func:`device_info`, whose ``deviceId`` every datum of the device carries |

Times: ``time`` is UTC; ``localTime`` is the pump's wall clock (its zone plus its drift). Both go
through :func:`inlet.model.timeutil.translate_display_time`, which splits the difference into
``timezoneOffset`` (30-minute steps) and ``clockDriftOffset``; ``timezone`` is the record's IANA zone.
``expectedDuration`` goes on a square or dual/square bolus only with ``expectedExtended``, as the model
requires (ACME always sends it). Every datum has ``origin {id, name, type: "service"}``; an unknown
``deliveryType`` skips the record with a :class:`Problem` (ACME says clients must tolerate them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inlet.model.parse import parse_data
from inlet.model.timeutil import format_utc, is_timezone_name, translate_display_time
from inlet.partners.contract import MappingResult, Problem, service_datum

ORIGIN_NAME = "com.acme-pump.api"
BASAL_TYPES = ("scheduled", "temp", "suspend")
BOLUS_TYPES = {"normal": "normal", "extended": "square", "combination": "dual/square"}


@dataclass(frozen=True)
class DeviceInfo:
    """What the device record says about the pump (ACME's ``/api/v1/devices`` entry)."""

    device_id: str
    model: str | None
    manufacturer: str | None
    name: str | None
    serial_number: str | None
    timezone: str | None
    last_upload_time: str | None


class SkipRecord(ValueError):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) and value else None


def device_info(record: Mapping[str, Any]) -> DeviceInfo:
    """The device record; raises :class:`SkipRecord` without a ``deviceId``."""
    device = _text(record, "deviceId")
    if device is None:
        raise SkipRecord("deviceId is missing", "deviceId")
    upload = _text(record, "lastUploadTime")
    return DeviceInfo(
        device_id=device,
        model=_text(record, "deviceModel"),
        manufacturer=_text(record, "deviceManufacturer"),
        name=_text(record, "deviceName"),
        serial_number=_text(record, "deviceSerialNumber"),
        timezone=_text(record, "timezone"),
        last_upload_time=format_utc(translate_display_time(upload, None).time) if upload else None,
    )


def _number(record: Mapping[str, Any], key: str, *, integer: bool = False) -> int | float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SkipRecord(f"{key} is missing or not a number", key)
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise SkipRecord(f"{key} is not a whole number of milliseconds", key)
        return int(value)
    return value


def _optional(record: Mapping[str, Any], key: str, *, integer: bool = False) -> int | float | None:
    return None if record.get(key) is None else _number(record, key, integer=integer)


def _base(record: Mapping[str, Any], datum_type: str, device_id: str) -> dict[str, Any]:
    rid = _text(record, "id")
    if rid is None or len(rid) > 100:
        raise SkipRecord("id is missing or too long", "id")
    start = _text(record, "time")
    if start is None:
        raise SkipRecord("time is missing", "time")
    local = _text(record, "localTime")
    try:
        translated = translate_display_time(start, local)
    except ValueError as error:
        raise SkipRecord(str(error), "time") from None
    datum = service_datum(datum_type, translated, device_id, rid, ORIGIN_NAME)
    zone = _text(record, "timezone")
    if zone is not None and is_timezone_name(zone):
        datum["timezone"] = zone
    return datum


def _suppressed(record: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = record.get("suppressed")
    if not isinstance(raw, Mapping) or raw.get("deliveryType") != "scheduled":
        return None
    rate = raw.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return None
    suppressed: dict[str, Any] = {"type": "basal", "deliveryType": "scheduled", "rate": rate}
    name = _text(raw, "scheduleName")
    if name is not None:
        suppressed["scheduleName"] = name
    return suppressed


def map_basal(record: Mapping[str, Any], device_id: str) -> dict[str, Any]:
    """A basal segment -> basal. Raises :class:`SkipRecord`."""
    delivery = record.get("deliveryType")
    if delivery not in BASAL_TYPES:
        raise SkipRecord(f"unknown basal deliveryType {delivery!r}", "deliveryType")
    datum = _base(record, "basal", device_id)
    datum["deliveryType"] = delivery
    duration = _number(record, "duration", integer=True)
    datum["duration"] = duration
    expected = _optional(record, "expectedDuration", integer=True)
    if expected is not None and expected >= duration:
        datum["expectedDuration"] = expected
    if delivery != "suspend":
        datum["rate"] = _number(record, "rate")
    if delivery == "scheduled":
        name = _text(record, "scheduleName")
        if name is not None:
            datum["scheduleName"] = name
    if delivery == "temp":
        percent = _optional(record, "percent")
        if percent is not None:
            datum["percent"] = percent
    if delivery != "scheduled":
        suppressed = _suppressed(record)
        if suppressed is not None:
            datum["suppressed"] = suppressed
    return datum


def map_bolus(record: Mapping[str, Any], device_id: str) -> dict[str, Any]:
    """A bolus -> bolus normal, square or dual/square. Raises :class:`SkipRecord`."""
    delivery = record.get("deliveryType")
    sub_type = BOLUS_TYPES.get(delivery) if isinstance(delivery, str) else None
    if sub_type is None:
        raise SkipRecord(f"unknown bolus deliveryType {delivery!r}", "deliveryType")
    datum = _base(record, "bolus", device_id)
    datum["subType"] = sub_type
    if sub_type in ("normal", "dual/square"):
        datum["normal"] = _number(record, "normal")
        expected_normal = _optional(record, "expectedNormal")
        if expected_normal is not None:
            datum["expectedNormal"] = expected_normal
    if sub_type in ("square", "dual/square"):
        datum["extended"] = _number(record, "extended")
        datum["duration"] = _number(record, "duration", integer=True)
        expected_extended = _optional(record, "expectedExtended")
        if expected_extended is not None:
            datum["expectedExtended"] = expected_extended
            expected_duration = _optional(record, "expectedDuration", integer=True)
            datum["expectedDuration"] = (
                expected_duration if expected_duration is not None else datum["duration"]
            )
    return datum


MAPPERS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    "basal": map_basal,
    "bolus": map_bolus,
}


def map_record(
    kind: str, record: Any, device_id: str, result: MappingResult, *, validate: bool = True
) -> None:
    """Map one ``basal`` or ``bolus`` record into ``result`` (a datum or a problem)."""
    if kind not in MAPPERS:
        raise ValueError(f"unknown ACME record kind {kind!r}")
    if not isinstance(record, Mapping):
        result.problems.append(Problem(kind, None, "the record is not an object"))
        return
    rid = record.get("id") if isinstance(record.get("id"), str) else None
    try:
        datum = MAPPERS[kind](record, device_id)
    except SkipRecord as skip:
        result.problems.append(Problem(kind, rid, skip.reason, skip.field))
        return
    except Exception as error:  # a record no mapper foresaw: skipped, never blocking the ones after it
        reason = f"the record could not be mapped ({type(error).__name__})"
        result.problems.append(Problem(kind, rid, reason))
        return
    if validate:
        parsed = parse_data([datum])
        if not parsed.ok:
            reason = "; ".join(f"{err.pointer}: {err.detail}" for err in parsed.errors[:3])
            result.problems.append(Problem(kind, rid, f"not a valid datum: {reason}"))
            return
    result.datums.append(datum)


def map_records(kind: str, records: Iterable[Any], device_id: str, *, validate: bool = True) -> MappingResult:
    """Map a batch of ``basal`` or ``bolus`` records of one device."""
    result = MappingResult()
    for record in records:
        map_record(kind, record, device_id, result, validate=validate)
    return result

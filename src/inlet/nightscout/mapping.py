"""Nightscout records <-> the data model: pure functions, no I/O.

In (``entry_datums``, ``treatment_datums``): each mappable record becomes datums of the model's types
(reference table "Mapping to the data model"); the record as the client sent it rides along in the
datum's ``payload.nightscout``, so it is served back unchanged (``_id``, ``identifier``, ``delta``,
``noise``, unknown fields). Its key (``identifier``, else ``_id``) is the datum's ``origin.id``, so a
re-upload or a PUT replaces it (a new ``_version``) and a DELETE tombstones it. A record that no type
fits yields no datum and is kept as a Nightscout document instead.

Out (``served_entry``, ``served_treatment``): datums from every source (Tidepool uploads, partner syncs,
other uploaders) converted back: mg/dL integers, directions, epoch milliseconds, ``dateString`` with
the datum's own offset.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from inlet.model.glucose import mmoll_to_mgdl
from inlet.model.timeutil import format_utc, parse_rfc3339

DIRECTIONS_TO_TREND = {
    "DoubleUp": "rapidRise",
    "TripleUp": "rapidRise",
    "SingleUp": "moderateRise",
    "FortyFiveUp": "slowRise",
    "Flat": "constant",
    "FortyFiveDown": "slowFall",
    "SingleDown": "moderateFall",
    "DoubleDown": "rapidFall",
    "TripleDown": "rapidFall",
}
TREND_TO_DIRECTION = {
    "rapidRise": "DoubleUp",
    "moderateRise": "SingleUp",
    "slowRise": "FortyFiveUp",
    "constant": "Flat",
    "slowFall": "FortyFiveDown",
    "moderateFall": "SingleDown",
    "rapidFall": "DoubleDown",
}
BOLUS_EVENTS = frozenset({"Correction Bolus", "Meal Bolus", "Snack Bolus", "Bolus", "SMB"})
LOOP_WORDS = ("loop", "openaps", "androidaps", "aaps", "trio", "iaps", "freeaps")
ID_MAX = 100
V5_NAMESPACE = uuid.UUID("9c6b0e2e-4f26-4b8e-9a43-6f9b1f2d8a11")


class RecordInvalid(ValueError):
    """A record that cannot be stored; ``field`` names the culprit (Nightscout-style 400)."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(f"record {index}: {field} {message}")
        self.index = index
        self.field = field


@functools.lru_cache(maxsize=256)
def app_name(device: str | None) -> str:
    """``org.nightscout.<app>``'s last part: the uploader's name from its ``device``/``enteredBy``
    (``xDrip-DexcomG6`` -> ``xdrip``, ``loop://iPhone`` -> ``loop``, ``openaps://...`` -> ``openaps``)."""
    text = (device or "").strip().lower()
    text = text.split("://", 1)[0]
    head = re.split(r"[\s\-_/:@()]+", text, maxsplit=1)[0]
    head = re.sub(r"[^a-z0-9.]", "", head)
    return head[:40] or "unknown"


def derived_id(*parts: Any) -> str:
    """A 24-hex id (ObjectId-shaped) from what makes a record unique in Nightscout, so the same record
    posted twice without an ``_id`` is one record (Nightscout's upsert)."""
    text = "|".join(str(p) for p in parts)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:24]


def v5_identifier(*parts: Any) -> str:
    """API v3's server-stamped identifier: a UUID v5 of ``device + date [+ eventType]``."""
    return str(uuid.uuid5(V5_NAMESPACE, "|".join(str(p) for p in parts if p is not None)))


def record_key(record: dict[str, Any]) -> str:
    return str(record.get("identifier") or record.get("_id"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _instant(record: dict[str, Any], index: int, *fields: str) -> tuple[datetime, int]:
    """The record's instant and its offset in minutes: from ``date``/``mills`` (epoch ms) or an ISO
    field; the offset from the ISO string's zone, else ``utcOffset``, else 0."""
    offset: int | None = None
    when: datetime | None = None
    for name in fields:
        if when is not None and offset is not None:
            break
        value = record.get(name)
        if value is None:
            continue
        if name in ("date", "mills") and not isinstance(value, str):
            number = _number(value)
            if number is None or not 0 < number < 4.1e12:
                raise RecordInvalid(index, name, "must be epoch milliseconds")
            when = when or datetime.fromtimestamp(number / 1000, UTC)
            continue
        if isinstance(value, str):
            parsed = parse_rfc3339(value)
            if parsed is None:
                number = _number(value)
                if name in ("date", "mills") and number is not None:
                    when = when or datetime.fromtimestamp(number / 1000, UTC)
                    continue
                raise RecordInvalid(index, name, "is not an ISO 8601 time with a zone")
            if offset is None and parsed.utcoffset() is not None:
                delta = parsed.utcoffset()
                assert delta is not None
                offset = int(delta.total_seconds() // 60)
            when = when or parsed.astimezone(UTC)
    if when is None:
        raise RecordInvalid(index, fields[0], "is required")
    if offset is None or (offset == 0 and record.get("utcOffset") not in (None, 0)):
        utc_offset = _number(record.get("utcOffset"))
        offset = int(utc_offset) if utc_offset is not None and abs(utc_offset) <= 1440 else (offset or 0)
    return when, offset


def _base(record: dict[str, Any], when: datetime, offset: int, key: str, device: str) -> dict[str, Any]:
    return {
        "time": format_utc(when),
        "timezoneOffset": offset,
        "deviceId": device[:100] or "nightscout",
        "origin": {"id": key, "name": f"org.nightscout.{app_name(device)}", "type": "service"},
        "payload": {"nightscout": record},
    }


def check_key(record: dict[str, Any], index: int) -> None:
    for name in ("_id", "identifier"):
        value = record.get(name)
        if value is not None and (not isinstance(value, str) or not value or len(value) > ID_MAX):
            raise RecordInvalid(index, name, f"must be a string of 1 to {ID_MAX} characters")


def prepare_entry(record: Any, index: int) -> dict[str, Any]:
    """Check the record's shape and give it its ``_id`` (kept when sent)."""
    if not isinstance(record, dict):
        raise RecordInvalid(index, "entry", "must be an object")
    check_key(record, index)
    kind = record.get("type") or "sgv"
    if not isinstance(kind, str):
        raise RecordInvalid(index, "type", "must be a string")
    out = dict(record)
    out["type"] = kind
    date = record.get("date")
    if not (date.__class__ in (int, float) and 0 < date < 4.1e12):  # else checked when mapped
        when, _ = _instant(record, index, "date", "dateString", "sysTime")
        out["date"] = int(when.timestamp() * 1000)
    if "_id" not in out and "identifier" not in out:
        out["_id"] = derived_id(kind, out["date"])
    return out


def entry_datums(record: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """sgv -> cbg, mbg -> smbg, cal -> deviceEvent calibration (kept as a document when a calibration
    has no glucose value: Nightscout's cal is slope/intercept only)."""
    kind = record["type"]
    when, offset = _instant(record, index, "date", "dateString", "sysTime")
    device = str(record.get("device") or "nightscout")
    base = _base(record, when, offset, record_key(record), device)
    if kind == "sgv":
        value = _number(record.get("sgv"))
        if value is None:
            raise RecordInvalid(index, "sgv", "must be a number (mg/dL)")
        if not 0 <= value <= 1000:
            raise RecordInvalid(index, "sgv", "must be between 0 and 1000 mg/dL")
        datum = {"type": "cbg", "units": "mg/dL", "value": value, **base}
        trend = DIRECTIONS_TO_TREND.get(str(record.get("direction")))
        if trend:
            datum["trend"] = trend
        return [datum]
    if kind == "mbg":
        value = _number(record.get("mbg"))
        if value is None or not 0 <= value <= 1000:
            raise RecordInvalid(index, "mbg", "must be a number between 0 and 1000 (mg/dL)")
        return [{"type": "smbg", "units": "mg/dL", "value": value, **base}]
    return []


def prepare_treatment(record: Any, index: int, now: datetime) -> dict[str, Any]:
    """Check the shape, fill ``created_at`` when missing (as Nightscout does), drop zero or empty
    carbs/insulin/notes, and give it an ``_id`` (kept when sent)."""
    if not isinstance(record, dict):
        raise RecordInvalid(index, "treatment", "must be an object")
    check_key(record, index)
    out = dict(record)
    if "eventType" in out and not isinstance(out["eventType"], str):
        raise RecordInvalid(index, "eventType", "must be a string")
    out.setdefault("eventType", "<none>")
    if not out.get("created_at"):
        if out.get("date") is not None or out.get("mills") is not None:
            when, offset = _instant(out, index, "date", "mills")
        else:
            when, offset = now, 0
        out["created_at"] = (
            when.astimezone(timezone(timedelta(minutes=offset)))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
    elif not isinstance(out["created_at"], str):
        raise RecordInvalid(index, "created_at", "must be an ISO 8601 string")
    _instant(out, index, "created_at")
    for name in ("carbs", "insulin"):
        if name in out and (out[name] in (None, "") or _number(out[name]) == 0):
            del out[name]
        elif name in out and _number(out[name]) is None:
            raise RecordInvalid(index, name, "must be a number")
    if "notes" in out and out["notes"] in (None, ""):
        del out["notes"]
    if "_id" not in out and "identifier" not in out:
        out["_id"] = derived_id(out["created_at"], out["eventType"])
    return out


def _is_loop(record: dict[str, Any]) -> bool:
    who = str(record.get("enteredBy") or record.get("device") or "").lower()
    return any(word in who for word in LOOP_WORDS)


def treatment_datums(record: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """Bolus (normal, automated for SMB/automatic, dual/square for Combo Bolus), food for carbs, temp
    basal (automated when a loop set it), smbg for BG Check, deviceEvent prime (Site Change) and
    reservoirChange (Insulin Change). Nothing for the rest (kept as documents)."""
    when, offset = _instant(record, index, "created_at")
    event = record.get("eventType")
    device = str(record.get("enteredBy") or record.get("device") or "nightscout")
    key = record_key(record)
    datums: list[dict[str, Any]] = []
    insulin = _number(record.get("insulin"))
    carbs = _number(record.get("carbs"))
    if event == "Combo Bolus":
        total = _number(record.get("enteredinsulin")) or insulin or 0.0
        now_part = _number(record.get("splitNow"))
        ext_part = _number(record.get("splitExt"))
        minutes = _number(record.get("duration")) or 0.0
        if total > 0 and now_part is not None and ext_part is not None and minutes > 0:
            datums.append(
                {
                    "type": "bolus",
                    "subType": "dual/square",
                    "normal": round(total * now_part / 100, 4),
                    "extended": round(total * ext_part / 100, 4),
                    "duration": int(minutes * 60_000),
                    **_base(record, when, offset, key, device),
                }
            )
    elif insulin is not None and insulin > 0:
        if not 0 < insulin <= 100:
            raise RecordInvalid(index, "insulin", "must be between 0 and 100 units")
        automated = bool(record.get("isSMB") or record.get("automatic") or event == "SMB")
        datums.append(
            {
                "type": "bolus",
                "subType": "automated" if automated else "normal",
                "normal": insulin,
                **_base(record, when, offset, key, device),
            }
        )
    if carbs is not None and carbs > 0:
        if not 0 < carbs <= 1000:
            raise RecordInvalid(index, "carbs", "must be between 0 and 1000 g")
        food_key = f"{key}:carbs" if datums else key
        base = _base(record, when, offset, food_key, device)
        if datums:
            base["payload"] = {"nightscoutPart": "carbs"}
        datums.append(
            {"type": "food", "nutrition": {"carbohydrate": {"net": carbs, "units": "grams"}}, **base}
        )
    if event == "Temp Basal":
        absolute = _number(record.get("absolute"))
        rate = absolute if absolute is not None else _number(record.get("rate"))
        length = _number(record.get("duration"))
        if rate is not None and length is not None and length > 0:
            if not 0 <= rate <= 100:
                raise RecordInvalid(index, "absolute", "must be between 0 and 100 units/hour")
            datum = {
                "type": "basal",
                "deliveryType": "automated" if _is_loop(record) else "temp",
                "rate": rate,
                "duration": int(length * 60_000),
                **_base(record, when, offset, key, device),
            }
            percent = _number(record.get("percent"))
            if percent is not None and datum["deliveryType"] == "temp" and -100 <= percent <= 900:
                datum["percent"] = round((100 + percent) / 100, 4)  # Nightscout's change -> the fraction
            datums.append(datum)
    elif event == "BG Check" and record.get("glucose") not in (None, ""):
        value = _number(record.get("glucose"))
        units = str(record.get("units") or "mg/dl").lower()
        units = "mmol/L" if units.startswith("mmol") else "mg/dL"
        if value is None or value < 0 or value > (55 if units == "mmol/L" else 1000):
            raise RecordInvalid(index, "glucose", f"must be a number in {units}")
        subtype = "manual" if str(record.get("glucoseType", "")).lower() == "manual" else None
        datum = {"type": "smbg", "units": units, "value": value, **_base(record, when, offset, key, device)}
        if subtype:
            datum["subType"] = subtype
        datums.append(datum)
    elif event == "Site Change":
        datums.append(
            {
                "type": "deviceEvent",
                "subType": "prime",
                "primeTarget": "cannula",
                **_base(record, when, offset, key, device),
            }
        )
    elif event == "Insulin Change":
        datums.append(
            {"type": "deviceEvent", "subType": "reservoirChange", **_base(record, when, offset, key, device)}
        )
    return datums


# ---- out of the data model --------------------------------------------------------------------------


def _ms(doc: dict[str, Any]) -> int:
    parsed = parse_rfc3339(doc["time"])
    assert parsed is not None
    return int(parsed.timestamp() * 1000)


def date_string(doc: dict[str, Any]) -> str:
    """The datum's instant written in its own offset (``timezoneOffset``), milliseconds, ``Z`` at 0."""
    parsed = parse_rfc3339(doc["time"])
    assert parsed is not None
    offset = int(doc.get("timezoneOffset") or 0)
    local = parsed.astimezone(timezone(timedelta(minutes=offset)))
    text = local.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def mgdl(doc: dict[str, Any]) -> int:
    return mmoll_to_mgdl(float(doc["value"]))


def nightscout_record(doc: dict[str, Any]) -> dict[str, Any] | None:
    payload = doc.get("payload")
    if isinstance(payload, dict):
        record = payload.get("nightscout")
        if isinstance(record, dict):
            return record
    return None


def _source(doc: dict[str, Any], fallback: str) -> str:
    origin = doc.get("origin")
    origin = origin if isinstance(origin, dict) else {}
    return str(doc.get("deviceId") or origin.get("name") or fallback)


def served_entry(doc: dict[str, Any]) -> dict[str, Any] | None:
    """cbg -> sgv, smbg -> mbg; an uploaded record comes back as it was sent (``dateString`` added in
    the datum's offset when the client sent none)."""
    record = nightscout_record(doc)
    if record is not None:
        if record.get("type") not in ("sgv", "mbg"):
            return None
        out = dict(record)
        if "dateString" not in out:
            out["dateString"] = date_string(doc)
        if "identifier" not in out:
            out["identifier"] = out.get("_id")
        return out
    if doc.get("type") == "cbg":
        out = {
            "_id": doc.get("id"),
            "type": "sgv",
            "sgv": mgdl(doc),
            "date": _ms(doc),
            "dateString": date_string(doc),
            "device": _source(doc, "inlet"),
        }
        direction = TREND_TO_DIRECTION.get(str(doc.get("trend")))
        out["direction"] = direction or "NONE"
        out["utcOffset"] = int(doc.get("timezoneOffset") or 0)
        out["identifier"] = out["_id"]
        return out
    if doc.get("type") == "smbg":
        return {
            "_id": doc.get("id"),
            "identifier": doc.get("id"),
            "type": "mbg",
            "mbg": mgdl(doc),
            "date": _ms(doc),
            "dateString": date_string(doc),
            "device": _source(doc, "inlet"),
            "utcOffset": int(doc.get("timezoneOffset") or 0),
        }
    return None


def served_treatment(doc: dict[str, Any]) -> dict[str, Any] | None:
    """bolus, food, temp/automated basal, deviceEvent prime/reservoirChange, and smbg uploaded as a
    BG Check, as Nightscout treatments; an uploaded record comes back as it was sent."""
    payload = doc.get("payload")
    if isinstance(payload, dict) and payload.get("nightscoutPart"):
        return None  # the carbs of a bolus treatment: served with the bolus's record
    record = nightscout_record(doc)
    if record is not None:
        if "eventType" not in record:
            return None
        out = dict(record)
        out.setdefault("identifier", out.get("_id"))
        return out
    kind = doc.get("type")
    base = {
        "_id": doc.get("id"),
        "identifier": doc.get("id"),
        "created_at": date_string(doc),
        "mills": _ms(doc),
        "utcOffset": int(doc.get("timezoneOffset") or 0),
        "enteredBy": _source(doc, "inlet"),
    }
    if kind == "bolus":
        sub = doc.get("subType")
        if sub == "dual/square" or sub == "square":
            normal = float(doc.get("normal") or 0)
            extended = float(doc.get("extended") or 0)
            total = normal + extended
            return {
                **base,
                "eventType": "Combo Bolus",
                "enteredinsulin": total,
                "insulin": normal,
                "splitNow": round(100 * normal / total) if total else 0,
                "splitExt": round(100 * extended / total) if total else 0,
                "duration": int(doc.get("duration") or 0) / 60_000,
            }
        out = {**base, "eventType": "Correction Bolus", "insulin": doc.get("normal")}
        if sub == "automated":
            out["automatic"] = True
            out["isSMB"] = True
        return out
    if kind == "food":
        nutrition = doc.get("nutrition") or {}
        carbs = (nutrition.get("carbohydrate") or {}).get("net")
        if carbs is None:
            return None
        return {**base, "eventType": "Carb Correction", "carbs": carbs}
    if kind == "basal" and doc.get("deliveryType") in ("temp", "automated"):
        return {
            **base,
            "eventType": "Temp Basal",
            "absolute": doc.get("rate"),
            "rate": doc.get("rate"),
            "duration": int(doc.get("duration") or 0) / 60_000,
        }
    if kind == "deviceEvent" and doc.get("subType") == "prime" and doc.get("primeTarget") == "cannula":
        return {**base, "eventType": "Site Change"}
    if kind == "deviceEvent" and doc.get("subType") == "reservoirChange":
        return {**base, "eventType": "Insulin Change"}
    return None


def _clock_ms(entry: dict[str, Any]) -> int | None:
    seconds = _number(entry.get("timeAsSeconds"))
    if seconds is not None:
        return int(seconds * 1000)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(entry.get("time", "")))
    if not match:
        return None
    return (int(match.group(1)) * 60 + int(match.group(2))) * 60_000


def _schedule(entries: Any, index: int, name: str, value_key: str) -> list[dict[str, Any]]:
    """Nightscout's ``[{time: "HH:MM", value}]`` (values often strings) -> ``[{start ms, <value_key>}]``."""
    if not isinstance(entries, list):
        raise RecordInvalid(index, name, "must be an array of {time, value}")
    out = []
    for entry in entries:
        start = _clock_ms(entry) if isinstance(entry, dict) else None
        value = _number(entry.get("value")) if isinstance(entry, dict) else None
        if start is None or value is None:
            raise RecordInvalid(index, name, "entries need a time HH:MM and a numeric value")
        out.append({"start": start, value_key: value})
    out.sort(key=lambda item: item["start"])
    return out


def _targets(low: Any, high: Any, index: int) -> list[dict[str, Any]]:
    lows = _schedule(low, index, "target_low", "low")
    highs = {item["start"]: item["low"] for item in _schedule(high, index, "target_high", "low")}
    return [
        {"start": item["start"], "low": item["low"], "high": highs.get(item["start"], item["low"])}
        for item in lows
    ]


def profile_datums(record: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """A profile (``{defaultProfile, store: {name: {basal, carbratio, sens, target_low, target_high,
    units, dia}}, startDate}``) -> one ``pumpSettings`` with every named schedule; the record itself is
    also kept as a document (served back unchanged)."""
    store = record.get("store")
    if not isinstance(store, dict) or not store:
        return []
    when, offset = _instant(record, index, "startDate", "created_at", "mills")
    default = str(record.get("defaultProfile") or next(iter(store)))
    units = str(record.get("units") or (store.get(default) or {}).get("units") or "mg/dl").lower()
    bg_units = "mmol/L" if units.startswith("mmol") else "mg/dL"
    basal: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    sensitivities: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    for name, profile in store.items():
        if not isinstance(profile, dict):
            raise RecordInvalid(index, f"store.{name}", "must be an object")
        if "basal" in profile:
            basal[name] = [
                {"start": s["start"], "rate": s["rate"]}
                for s in _schedule(profile["basal"], index, "basal", "rate")
            ]
        if "carbratio" in profile:
            ratios[name] = _schedule(profile["carbratio"], index, "carbratio", "amount")
        if "sens" in profile:
            sensitivities[name] = _schedule(profile["sens"], index, "sens", "amount")
        if "target_low" in profile:
            targets[name] = _targets(
                profile["target_low"], profile.get("target_high", profile["target_low"]), index
            )
    device = str(record.get("enteredBy") or record.get("device") or "nightscout")
    datum: dict[str, Any] = {
        "type": "pumpSettings",
        "activeSchedule": default,
        "units": {"bg": bg_units, "carb": "grams"},
        **_base(record, when, offset, record_key(record), device),
    }
    datum["payload"] = {"nightscoutProfile": True}  # the record is served from its document
    for key, value in (
        ("basalSchedules", basal),
        ("carbRatios", ratios),
        ("insulinSensitivities", sensitivities),
        ("bgTargets", targets),
    ):
        if value:
            datum[key] = value
    return [datum]

"""FHIR CGM out: a person's window of CGM as the IG's Data Submission Bundle (pure; no I/O).

- ``Bundle.type = transaction`` with a ``timestamp``; every entry POSTs its resource.
- The CGM Summary Observation (LOINC 107931-8) with ``effectivePeriod`` = the requested window
  ``[start, end)`` and six members: mean glucose (in the chosen units), the times in ranges panel
  (five components, percent, two decimals), GMI (%), CV (%), days of wear (d), sensor active (%).
  Metrics come from the same pure functions as the pages (``inlet.reports``): time in ranges weighted
  by ``sampleInterval``, classified in whole mg/dL on the consensus boundaries.
  Days of wear = calendar days, in the person's zone (the readings' ``timezoneOffset``), within the
  window with at least one reading. Sensor active % = CGM minutes / window minutes x 100 (the
  readings' ``[time, time + interval)`` clipped to the window, overlaps once). GMI is computed from
  the mean whenever there are readings (the IG sets no minimum; pages hide it under 14 days); with no
  readings every value is a ``dataAbsentReason``.
- One sensor reading Observation per cbg (99504-3 mg/dL or 105272-9 mmol/L): ``effectiveDateTime``
  in the reading's own offset (so a receiver keeps the local time), ``identifier`` = the datum id,
  conditional create ``ifNoneExist`` on it, ``device`` = the reading's Device.
- One Device per ``deviceId`` (identifier and ``serialNumber`` = the deviceId, ``deviceName`` of type
  ``user-friendly-name``), conditional create on the identifier.
- The subject is a logical reference (``identifier`` urn:inlet:user|<userId>): a receiver files the
  data under whoever submits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from inlet.fhir import codes
from inlet.model.glucose import MGDL, MGDL_PER_MMOLL, MMOLL
from inlet.reports.glucose import RANGES, Reading, readings_from_docs
from inlet.reports.summary import covered_ms, gmi_percent, overview


def _stamp(moment: datetime, offset_minutes: int = 0) -> str:
    """An instant as FHIR dateTime with milliseconds, in the given UTC offset."""
    zone = UTC if offset_minutes == 0 else None
    if zone is UTC:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    local = moment.astimezone(UTC) + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}{sign}{hours:02d}:{minutes:02d}"
    )


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _subject(user_id: str) -> dict[str, Any]:
    return {"identifier": {"system": codes.USER_SYSTEM, "value": user_id}}


def _value(value: float | None, unit: str, digits: int) -> dict[str, Any]:
    if value is None:
        return {
            "dataAbsentReason": {
                "coding": [{"system": codes.DATA_ABSENT, "code": "unknown", "display": "Unknown"}]
            }
        }
    return {"valueQuantity": codes.quantity(round(value, digits), unit)}


def _entry(resource: dict[str, Any], if_none_exist: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist is not None:
        request["ifNoneExist"] = if_none_exist
    return {"fullUrl": _urn(), "resource": resource, "request": request}


def days_of_wear(readings: Iterable[Reading], start: datetime, end: datetime) -> int:
    """Calendar days in the person's zone within ``[start, end)`` with at least one reading."""
    return len({r.local.date() for r in readings if start <= r.time < end})


def summary_values(readings: list[Reading], start: datetime, end: datetime, units: str) -> dict[str, Any]:
    """The six members' numbers (percentages 0-100), ``None`` where there is no data."""
    inside = [r for r in readings if start <= r.time < end]
    view = overview(inside, start, end)
    has = bool(inside)
    mean = view.mean_mg if units == MGDL else view.mean_mmol
    window_ms = (end - start) / timedelta(milliseconds=1)
    return {
        "mean": mean,
        "ranges": {name: view.ranges[name] * 100 for name in RANGES} if has else None,
        "gmi": gmi_percent(view.mean_mg) if view.mean_mg is not None else None,
        "cv": view.cv,
        "days": days_of_wear(inside, start, end),
        "active": covered_ms(inside, start, end) / window_ms * 100 if window_ms > 0 else 0.0,
    }


def cgm_bundle(
    user_id: str,
    docs: Iterable[Mapping[str, Any]],
    start: datetime,
    end: datetime,
    *,
    units: str = MGDL,
    now: datetime,
    pdf: bytes | None = None,
) -> dict[str, Any]:
    """The Data Submission Bundle of the cbg among ``docs`` in ``[start, end)``.

    ``docs`` are ``GET /data`` documents (glucose stored in mmol/L); ``pdf``, when given, is attached to
    a DiagnosticReport (LOINC 107931-8) as ``presentedForm``."""
    docs = [doc for doc in docs if doc.get("type") == "cbg"]
    readings = [r for r in readings_from_docs(docs) if start <= r.time < end]
    subject = _subject(user_id)
    period = {"start": _stamp(start), "end": _stamp(end)}
    entries: list[dict[str, Any]] = []

    devices: dict[str, str] = {}
    for doc in docs:
        device_id = doc.get("deviceId")
        if isinstance(device_id, str) and device_id and device_id not in devices:
            entry = _entry(
                {
                    "resourceType": "Device",
                    "identifier": [{"system": codes.DEVICE_SYSTEM, "value": device_id}],
                    "serialNumber": device_id,
                    "deviceName": [{"name": device_id, "type": "user-friendly-name"}],
                },
                f"identifier={codes.DEVICE_SYSTEM}|{device_id}",
            )
            devices[device_id] = entry["fullUrl"]
            entries.append(entry)

    values = summary_values(readings, start, end, units)
    members: list[dict[str, Any]] = []

    def member(code: str, **value: Any) -> None:
        resource = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "laboratory"}]}],
            "code": codes.concept(code),
            "subject": subject,
            "effectivePeriod": period,
            **value,
        }
        members.append(_entry(resource))

    mean_code = codes.MEAN_MGDL if units == MGDL else codes.MEAN_MMOLL
    member(mean_code, **_value(values["mean"], units, 1 if units == MGDL else 2))
    ranges = values["ranges"]
    components = [
        {
            "code": codes.concept(codes.RANGE_COMPONENTS[name]),
            **_value(ranges[name] if ranges else None, "%", 2),
        }
        for name in RANGES
    ]
    member(codes.TIMES_IN_RANGES, component=components)
    member(codes.GMI, **_value(values["gmi"], "%", 2))
    member(codes.CV, **_value(values["cv"], "%", 2))
    member(codes.DAYS_OF_WEAR, **_value(float(values["days"]), "d", 0))
    member(codes.SENSOR_ACTIVE, **_value(values["active"], "%", 2))
    summary = _entry(
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "laboratory"}]}],
            "code": codes.concept(codes.SUMMARY),
            "subject": subject,
            "effectivePeriod": period,
            "hasMember": [{"reference": m["fullUrl"]} for m in members],
        }
    )
    entries.append(summary)
    entries.extend(members)
    if pdf is not None:
        import base64

        entries.append(
            _entry(
                {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": codes.concept(codes.SUMMARY),
                    "subject": subject,
                    "effectivePeriod": period,
                    "issued": _stamp(now),
                    "result": [{"reference": summary["fullUrl"]}],
                    "presentedForm": [
                        {
                            "contentType": "application/pdf",
                            "data": base64.b64encode(pdf).decode(),
                            "title": "AGP report",
                        }
                    ],
                }
            )
        )

    reading_code = codes.READING_MGDL if units == MGDL else codes.READING_MMOLL
    for doc in docs:
        reading = readings_from_docs([doc])
        if not reading or not start <= reading[0].time < end:
            continue
        r = reading[0]
        datum_id = str(doc.get("id", ""))
        offset = doc.get("timezoneOffset")
        offset_min = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
        value = r.mmol * MGDL_PER_MMOLL if units == MGDL else r.mmol
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "laboratory"}]}],
            "identifier": [{"system": codes.DATUM_SYSTEM, "value": datum_id}],
            "code": codes.concept(reading_code),
            "subject": subject,
            "effectiveDateTime": _stamp(r.time, offset_min),
            "valueQuantity": codes.quantity(round(value, 2 if units == MGDL else 5), units),
        }
        device_id = doc.get("deviceId")
        if isinstance(device_id, str) and device_id in devices:
            resource["device"] = {"reference": devices[device_id]}
        entries.append(_entry(resource, f"identifier={codes.DATUM_SYSTEM}|{datum_id}"))
    return {"resourceType": "Bundle", "type": "transaction", "timestamp": _stamp(now), "entry": entries}


__all__ = ["MGDL", "MMOLL", "cgm_bundle", "days_of_wear", "summary_values"]

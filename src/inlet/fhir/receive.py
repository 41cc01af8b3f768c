"""FHIR CGM in: ``$submit-cgm-bundle`` as a receiver (the IG's cgm-data-receiver).

- The body is the Bundle itself or a ``Parameters`` whose ``resource`` parameter holds it.
- The Bundle is validated as FHIR R4B structure (``fhir.resources``), then each entry by the IG's
  rules this receiver relies on (``inlet.fhir.profile``), then each sensor reading as a ``cbg`` datum
  (Inlet's own data model: ranges, times). All or nothing: any failure answers an error
  OperationOutcome whose ``expression`` names ``Bundle.entry[i]`` and nothing is stored.
- Sensor readings (LOINC 99504-3, 105272-9) become ``cbg`` in the person's ``org.inlet.fhir``
  continuous data set: ``deviceId`` from the referenced Device's identifier, ``time`` and
  ``timezoneOffset`` from ``effectiveDateTime``, ``origin.id`` = the reading's identifier
  (``system|value``; SHA-256 when longer than 100 characters), ``origin.payload.subject`` = the
  bundle's subject (the data goes to the authenticated person whatever it says).
- Conditional create: a reading whose ``origin.id`` is already in the set is not stored again
  (``200 OK``); a new one is ``201 Created``. Other resources (Device, the summary and its members, a
  DiagnosticReport) are accepted and not kept (``200 OK`` with an information issue): Inlet derives
  summaries from the readings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from inlet import __version__
from inlet.data import queries, storage
from inlet.data.service import DataService
from inlet.fhir.profile import device_errors, is_reading, reading_errors
from inlet.model.data_set import parse_data_set
from inlet.model.parse import parse_data

CLIENT_NAME = "org.inlet.fhir"
UNKNOWN_DEVICE = "fhir-unknown-device"


@dataclass
class Rejected(Exception):
    """The bundle is refused: the HTTP status and the issues (``expression``, words)."""

    status: int
    issues: list[tuple[str | None, str]]
    code: str = "invalid"

    def __str__(self) -> str:
        return "; ".join(text for _, text in self.issues)


def operation_outcome(
    issues: list[tuple[str | None, str]], severity: str = "error", code: str = "invalid"
) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": code,
                "diagnostics": text,
                **({"expression": [where]} if where else {}),
            }
            for where, text in issues
        ],
    }


def unwrap(body: Any) -> dict[str, Any]:
    """The Bundle of a request body (the Bundle, or Parameters with a ``resource`` parameter)."""
    if isinstance(body, Mapping) and body.get("resourceType") == "Parameters":
        for parameter in body.get("parameter") or []:
            if isinstance(parameter, Mapping) and parameter.get("name") == "resource":
                body = parameter.get("resource")
                break
        else:
            raise Rejected(
                400, [("Parameters.parameter", "a parameter named resource is required")], "required"
            )
    if not isinstance(body, Mapping) or body.get("resourceType") != "Bundle":
        raise Rejected(400, [("Bundle", "the body must be a Bundle or Parameters holding one")], "structure")
    if body.get("type") not in ("transaction", "batch", "collection"):
        raise Rejected(400, [("Bundle.type", "Bundle.type must be transaction")], "value")
    return dict(body)


def check_structure(bundle: dict[str, Any]) -> None:
    """FHIR R4B structure (``fhir.resources``): a failure names the first failing entry."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        Bundle.model_validate(bundle)
    except ValidationError as error:
        issues: list[tuple[str | None, str]] = []
        for item in error.errors()[:20]:
            loc = item.get("loc", ())
            where = "Bundle"
            if len(loc) >= 2 and loc[0] == "entry" and isinstance(loc[1], int):
                where = f"Bundle.entry[{loc[1]}]"
            path = ".".join(str(p) for p in loc)
            issues.append((where, f"{path}: {item.get('msg', 'not valid')}"))
        raise Rejected(400, issues, "structure") from error


@dataclass
class Mapped:
    """What became of each entry: a cbg datum (with its origin id) or nothing kept."""

    datums: list[dict[str, Any]] = field(default_factory=list)
    entry_of_datum: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # per entry: "reading" or the resource type


def _device_id(resource: Mapping[str, Any]) -> str | None:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
            return str(identifier["value"])[:100]
    serial = resource.get("serialNumber")
    return serial[:100] if isinstance(serial, str) and serial else None


def _origin_id(resource: Mapping[str, Any], fallback: str) -> str:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
            text = f"{identifier.get('system', '')}|{identifier['value']}"
            return text if len(text) <= 100 else hashlib.sha256(text.encode()).hexdigest()
    return hashlib.sha256(fallback.encode()).hexdigest()


def _time(text: str) -> tuple[str, int] | None:
    """FHIR dateTime -> (UTC time text, timezoneOffset minutes); a reading needs a full instant."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    offset = moment.utcoffset()
    if offset is None:
        return None
    return moment.isoformat(timespec="milliseconds"), int(offset.total_seconds() // 60)


def map_bundle(bundle: Mapping[str, Any]) -> Mapped:
    """Every entry checked and mapped; raises :class:`Rejected` at the first failing entries."""
    entries = bundle.get("entry") or []
    devices: dict[str, str] = {}
    for entry in entries:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Device":
            device_id = _device_id(resource)
            if device_id:
                for key in (
                    entry.get("fullUrl"),
                    f"Device/{resource.get('id')}" if resource.get("id") else None,
                ):
                    if key:
                        devices[key] = device_id
    mapped = Mapped()
    issues: list[tuple[str | None, str]] = []
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        resource = entry.get("resource")
        if not isinstance(resource, Mapping):
            issues.append((where, f"{where}.resource is required"))
            mapped.kinds.append("none")
            continue
        kind = str(resource.get("resourceType"))
        if kind == "Device":
            issues += [(where, text) for text in device_errors(resource, where) if "identifier" in text]
        if not is_reading(resource):
            mapped.kinds.append(kind)
            continue
        mapped.kinds.append("reading")
        errors = reading_errors(resource, where)
        if errors:
            issues += [(where, text) for text in errors]
            continue
        if "valueQuantity" not in resource:
            issues.append((where, f"{where}: a reading without a value (dataAbsentReason) cannot be stored"))
            continue
        when = _time(str(resource.get("effectiveDateTime")))
        if when is None:
            issues.append((where, f"{where}.effectiveDateTime must be an instant with a time zone"))
            continue
        quantity = resource["valueQuantity"]
        reference = (resource.get("device") or {}).get("reference")
        datum: dict[str, Any] = {
            "type": "cbg",
            "units": quantity["code"],
            "value": quantity["value"],
            "time": when[0],
            "timezoneOffset": when[1],
            "deviceId": devices.get(reference, UNKNOWN_DEVICE) if reference else UNKNOWN_DEVICE,
            "origin": {
                "id": _origin_id(resource, f"{index}|{when[0]}|{quantity['value']}"),
                "name": CLIENT_NAME,
                "type": "service",
                "payload": {"subject": resource.get("subject")},
            },
        }
        mapped.datums.append(datum)
        mapped.entry_of_datum.append(index)
    if issues:
        raise Rejected(422, issues, "invariant")
    result = parse_data(mapped.datums)
    if result.errors:
        model_issues: list[tuple[str | None, str]] = []
        for error in result.errors:
            position = int(error.pointer.split("/")[1]) if error.pointer.count("/") >= 1 else 0
            entry_index = mapped.entry_of_datum[position] if position < len(mapped.entry_of_datum) else 0
            model_issues.append((f"Bundle.entry[{entry_index}]", f"{error.title}: {error.detail}"))
        raise Rejected(422, model_issues, "value")
    return mapped


def _data_set(conn: Connection, data: DataService, user_id: str) -> Any:
    sets = queries.list_user_data_sets(conn, user_id, client_name=CLIENT_NAME, size=1)
    if sets:
        return data.get_data_set(conn, sets[0]["id"])
    parsed, errors = parse_data_set(
        {
            "type": "upload",
            "dataSetType": "continuous",
            "client": {"name": CLIENT_NAME, "version": __version__},
            "deduplicator": {"name": "org.tidepool.deduplicator.dataset.delete.origin"},
        }
    )
    assert parsed is not None, errors
    return data.create_data_set_from(conn, user_id, parsed)


def submit(conn: Connection, data: DataService, user_id: str, body: Any) -> dict[str, Any]:
    """Store the bundle's readings for ``user_id`` (in ``conn``'s transaction); the response Bundle."""
    bundle = unwrap(body)
    check_structure(bundle)
    mapped = map_bundle(bundle)
    data_set = _data_set(conn, data, user_id)
    wanted = [d["origin"]["id"] for d in mapped.datums]
    # by user, so PostgreSQL prunes to the person's partition (and Citus routes to one shard)
    existing = set(storage.current_by_origin(conn, user_id, data_set.id, wanted))
    fresh = [d for d in mapped.datums if d["origin"]["id"] not in existing]
    seen: set[str] = set()
    unique = []
    for datum in fresh:  # the same reading twice in one bundle is stored once
        if datum["origin"]["id"] not in seen:
            seen.add(datum["origin"]["id"])
            unique.append(datum)
    parsed = parse_data(unique)
    assert parsed.ok, parsed.errors
    if parsed.datums:
        data.add_datums(conn, data_set, parsed.datums)
    stored = {d.doc["origin"]["id"]: d.doc["id"] for d in parsed.datums}
    responses: list[dict[str, Any]] = []
    datum_at = dict(zip(mapped.entry_of_datum, mapped.datums, strict=True))
    for index, kind in enumerate(mapped.kinds):
        if kind == "reading":
            origin = datum_at[index]["origin"]["id"]
            if origin in stored:
                datum_id = stored.pop(origin)
                responses.append(
                    {"response": {"status": "201 Created", "location": f"Observation/{datum_id}"}}
                )
            else:
                responses.append({"response": {"status": "200 OK"}})
        else:
            note = operation_outcome(
                [(None, f"{kind} accepted and not stored: Inlet keeps sensor readings")],
                severity="information",
                code="informational",
            )
            responses.append({"response": {"status": "200 OK", "outcome": note}})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}


__all__ = ["CLIENT_NAME", "Rejected", "operation_outcome", "submit"]

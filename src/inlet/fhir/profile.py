"""The IG's profile rules that ``fhir.resources`` (base FHIR structure only) does not check.

Used by the receiver (a sensor reading that breaks them is refused with its entry's location) and by
the tests (every bundle Inlet sends must pass them): LOINC codes, UCUM units, required elements, the
summary's six members and the times in ranges panel's five components, percentages within 0-100.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inlet.fhir import codes

PERCENT_MEMBERS = (codes.GMI, codes.CV, codes.SENSOR_ACTIVE)


def loinc_codes(resource: Mapping[str, Any]) -> set[str]:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, Mapping) else None
    if not isinstance(codings, list):
        return set()
    return {
        str(c.get("code"))
        for c in codings
        if isinstance(c, Mapping) and c.get("system") == codes.LOINC and c.get("code") is not None
    }


def _quantity_errors(value: Any, unit: str, where: str, *, percent: bool = False) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{where}: a valueQuantity or a dataAbsentReason is required"]
    errors = []
    if value.get("system") != codes.UCUM:
        errors.append(f"{where}.system must be {codes.UCUM}")
    if value.get("code") != unit:
        errors.append(f"{where}.code must be the UCUM unit {unit!r}")
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float):
        errors.append(f"{where}.value must be a number")
    elif number < 0 or (percent and number > 100):
        errors.append(f"{where}.value {number} is out of range" + (" (0-100)" if percent else ""))
    return errors


def _valued(resource: Mapping[str, Any], unit: str, where: str, *, percent: bool = False) -> list[str]:
    if "dataAbsentReason" in resource and "valueQuantity" not in resource:
        return []
    return _quantity_errors(resource.get("valueQuantity"), unit, f"{where}.valueQuantity", percent=percent)


def is_reading(resource: Mapping[str, Any]) -> bool:
    return resource.get("resourceType") == "Observation" and bool(
        loinc_codes(resource) & set(codes.READING_CODES)
    )


def reading_errors(resource: Mapping[str, Any], where: str = "Observation") -> list[str]:
    """A sensor reading Observation: its code's unit, subject, effectiveDateTime, a value in UCUM."""
    found = loinc_codes(resource) & set(codes.READING_CODES)
    if len(found) != 1:
        return [f"{where}.code must hold exactly one of LOINC {', '.join(codes.READING_CODES)}"]
    errors = []
    if not isinstance(resource.get("subject"), Mapping):
        errors.append(f"{where}.subject is required")
    if not isinstance(resource.get("effectiveDateTime"), str):
        errors.append(f"{where}.effectiveDateTime is required")
    if "valueQuantity" not in resource and "dataAbsentReason" not in resource:
        errors.append(f"{where}: a valueQuantity or a dataAbsentReason is required")
    else:
        errors += _valued(resource, codes.READING_CODES[found.pop()], where)
    return errors


def device_errors(resource: Mapping[str, Any], where: str = "Device") -> list[str]:
    errors = []
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not identifiers:
        errors.append(f"{where}.identifier is required")
    if not isinstance(resource.get("serialNumber"), str):
        errors.append(f"{where}.serialNumber is required")
    names = resource.get("deviceName")
    if not isinstance(names, list) or not any(
        isinstance(n, Mapping) and n.get("type") == "user-friendly-name" for n in names
    ):
        errors.append(f"{where}.deviceName needs a user-friendly-name")
    return errors


def _member_errors(resource: Mapping[str, Any], where: str) -> list[str]:
    found = loinc_codes(resource)
    errors = []
    if not isinstance(resource.get("effectivePeriod"), Mapping):
        errors.append(f"{where}.effectivePeriod is required")
    if codes.MEAN_MGDL in found:
        errors += _valued(resource, "mg/dL", where)
    elif codes.MEAN_MMOLL in found:
        errors += _valued(resource, "mmol/L", where)
    elif codes.DAYS_OF_WEAR in found:
        errors += _valued(resource, "d", where)
    elif found & set(PERCENT_MEMBERS):
        errors += _valued(resource, "%", where, percent=True)
    elif codes.TIMES_IN_RANGES in found:
        components = resource.get("component")
        if not isinstance(components, list):
            return [*errors, f"{where}.component is required"]
        kinds = [loinc_codes(c) & set(codes.RANGE_COMPONENTS.values()) for c in components]
        if sorted(k.pop() if len(k) == 1 else "?" for k in kinds) != sorted(codes.RANGE_COMPONENTS.values()):
            errors.append(f"{where}.component must be the five ranges, once each")
        for index, component in enumerate(components):
            errors += _valued(component, "%", f"{where}.component[{index}]", percent=True)
            quantity = component.get("valueQuantity")
            value = quantity.get("value") if isinstance(quantity, Mapping) else None
            if isinstance(value, float) and round(value, 2) != value:
                errors.append(f"{where}.component[{index}] has more than two decimals")
    else:
        errors.append(f"{where}.code is not a CGM summary member")
    return errors


def bundle_errors(bundle: Mapping[str, Any]) -> list[str]:
    """Every profile rule a Data Submission Bundle breaks (empty when it conforms)."""
    errors: list[str] = []
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        errors.append("Bundle.type must be transaction")
    if not isinstance(bundle.get("timestamp"), str):
        errors.append("Bundle.timestamp is required")
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return [*errors, "Bundle.entry is required"]
    by_url = {e.get("fullUrl"): e.get("resource", {}) for e in entries if isinstance(e, Mapping)}
    summaries = 0
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        resource = entry.get("resource", {})
        request = entry.get("request", {})
        if request.get("method") != "POST":
            errors.append(f"{where}.request.method must be POST")
        kind = resource.get("resourceType")
        if kind == "Device":
            errors += device_errors(resource, where)
            if not request.get("ifNoneExist"):
                errors.append(f"{where}.request.ifNoneExist is required")
        elif is_reading(resource):
            errors += reading_errors(resource, where)
            if not request.get("ifNoneExist"):
                errors.append(f"{where}.request.ifNoneExist is required")
        elif kind == "Observation" and codes.SUMMARY in loinc_codes(resource):
            summaries += 1
            if not isinstance(resource.get("effectivePeriod"), Mapping):
                errors.append(f"{where}.effectivePeriod is required")
            members = [by_url.get(m.get("reference"), {}) for m in resource.get("hasMember", [])]
            kinds = sorted(c for m in members for c in loinc_codes(m) & set(codes.SUMMARY_MEMBERS))
            means = {codes.MEAN_MGDL, codes.MEAN_MMOLL} & set(kinds)
            others = sorted(set(codes.SUMMARY_MEMBERS) - {codes.MEAN_MGDL, codes.MEAN_MMOLL})
            if len(members) != 6 or len(means) != 1 or sorted(set(kinds) - means) != others:
                errors.append(f"{where}.hasMember must be the six summary members")
            for member in members:
                errors += _member_errors(member, f"{where} member {sorted(loinc_codes(member))}")
    if summaries != 1:
        errors.append("the bundle must hold one CGM summary (LOINC 107931-8)")
    return errors

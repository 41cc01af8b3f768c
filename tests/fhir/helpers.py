"""Checks every bundle must pass: FHIR R4B structure (fhir.resources) and the IG's profile rules."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle

from inlet.fhir.profile import bundle_errors


def assert_valid_bundle(bundle: dict[str, Any]) -> None:
    Bundle.model_validate(bundle)  # base structure, R4B models
    assert bundle_errors(bundle) == []


def by_code(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    found = []
    for entry in bundle["entry"]:
        codings = entry["resource"].get("code", {}).get("coding", [])
        if any(c.get("code") == code for c in codings):
            found.append(entry["resource"])
    return found

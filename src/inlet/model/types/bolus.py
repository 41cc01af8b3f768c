"""bolus: a dose of insulin, by ``subType`` (platform data/types/bolus/*)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import MISSING, Context, Field, Float, Int, OneOf
from inlet.model.types.insulin_common import (
    DOSE_MAX,
    DOSE_MIN,
    DURATION_DAY_MS,
    FORMULATION,
    expected_at_least,
)

SUB_TYPES = ("automated", "dual/square", "normal", "square")
DELIVERY_CONTEXTS = ("algorithm", "device", "oneButton", "remote", "undetermined", "watch")


def _expected_extended_needs_duration(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if values.get("expectedExtended", MISSING) is not MISSING and "expectedDuration" not in values:
        errs.add(f"{ptr}/expectedDuration", e.not_exists())


def _bolus(
    sub_type: str, fields: Mapping[str, Field], required: tuple[str, ...], rules: tuple[Any, ...]
) -> DatumType:
    common: dict[str, Field] = {
        "subType": OneOf(*SUB_TYPES),
        "deliveryContext": OneOf(*DELIVERY_CONTEXTS),
        "insulinFormulation": FORMULATION,
    }
    common.update(fields)
    return DatumType(
        type="bolus",
        sub_key="subType",
        sub_value=sub_type,
        fields=common,
        required=required,
        rules=rules,
        description=f"bolus insulin, {sub_type}",
    )


_NORMAL = {"normal": Float(DOSE_MIN, DOSE_MAX), "expectedNormal": Float(DOSE_MIN, DOSE_MAX)}
_EXTENDED = {
    "extended": Float(DOSE_MIN, DOSE_MAX),
    "expectedExtended": Float(DOSE_MIN, DOSE_MAX),
    "duration": Int(0, DURATION_DAY_MS),
    "expectedDuration": Int(0, DURATION_DAY_MS),
}
_NORMAL_RULES = (expected_at_least("normal", "expectedNormal", DOSE_MAX),)
_EXTENDED_RULES = (
    expected_at_least("extended", "expectedExtended", DOSE_MAX),
    expected_at_least("duration", "expectedDuration", DURATION_DAY_MS),
    _expected_extended_needs_duration,
)

NORMAL = _bolus("normal", _NORMAL, ("normal",), _NORMAL_RULES)
SQUARE = _bolus("square", _EXTENDED, ("extended", "duration"), _EXTENDED_RULES)
DUAL_SQUARE = _bolus(
    "dual/square",
    {**_NORMAL, **_EXTENDED},
    ("normal", "extended", "duration"),
    _NORMAL_RULES + _EXTENDED_RULES,
)
AUTOMATED = _bolus("automated", _NORMAL, ("normal",), _NORMAL_RULES)

TYPES = [NORMAL, SQUARE, DUAL_SQUARE, AUTOMATED]

"""bolus: a dose of insulin, by ``subType`` (platform data/types/bolus/*).

The ``expected*`` fields hold what was programmed when delivery stopped early; the rules below check
them against what was delivered, as the platform's ``Validate`` methods do. The ``expected*`` fields
have no range of their own (the rules hold it), so a bad value is reported once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import Context, Field, Float, Int, OneOf, Rule
from inlet.model.types.insulin_common import (
    DOSE_MAX,
    DOSE_MIN,
    DURATION_DAY_MS,
    FORMULATION,
    check_expected,
    equal_to,
    expected_rule,
    greater_than,
    has,
    in_range,
    need,
    refuse,
)

SUB_TYPES = ("automated", "dual/square", "normal", "square")
DELIVERY_CONTEXTS = ("algorithm", "device", "oneButton", "remote", "undetermined", "watch")
DURATION_MIN = 0


def _bolus(
    sub_type: str, fields: Mapping[str, Field], required: tuple[str, ...], rules: tuple[Rule, ...]
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


def _expected_duration_goes_with_expected_extended(values: dict[str, Any], ptr: str, errs: Errors) -> None:
    """extended.go / combination.go: ``expectedDuration`` exists exactly when ``expectedExtended`` does."""
    if has(values, "expectedExtended"):
        need(values, "expectedDuration", ptr, errs)
    else:
        refuse(values, "expectedDuration", ptr, errs)


def _extended_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """bolus/extended/extended.go (``duration`` and ``extended`` ranges are on their fields)."""
    check_expected(values, ptr, errs, "duration", "expectedDuration", DURATION_MIN, DURATION_DAY_MS)
    _expected_duration_goes_with_expected_extended(values, ptr, errs)
    check_expected(values, ptr, errs, "extended", "expectedExtended", DOSE_MIN, DOSE_MAX, needed_at_lo=True)


def _combination_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """bolus/combination/combination.go.

    An ``expectedNormal`` means delivery stopped during the normal part, so the extended part never
    ran: ``duration`` and ``extended`` are 0 and both ``expectedDuration`` and ``expectedExtended`` are
    required. Otherwise the extended part is checked as a square bolus is. A ``normal`` of 0 needs an
    ``extended`` over 0 (or an ``expectedNormal``). ``duration`` and ``extended`` have no range on their
    fields, since which check applies depends on ``expectedNormal``.
    """
    if has(values, "expectedNormal"):
        equal_to(values, "duration", DURATION_MIN, ptr, errs)
        need(values, "expectedDuration", ptr, errs)
        in_range(values, "expectedDuration", DURATION_MIN, DURATION_DAY_MS, ptr, errs)
        equal_to(values, "extended", DOSE_MIN, ptr, errs)
        need(values, "expectedExtended", ptr, errs)
        in_range(values, "expectedExtended", DOSE_MIN, DOSE_MAX, ptr, errs)
    else:
        in_range(values, "duration", DURATION_MIN, DURATION_DAY_MS, ptr, errs)
        check_expected(values, ptr, errs, "duration", "expectedDuration", DURATION_MIN, DURATION_DAY_MS)
        _expected_duration_goes_with_expected_extended(values, ptr, errs)
        in_range(values, "extended", DOSE_MIN, DOSE_MAX, ptr, errs)
        check_expected(
            values, ptr, errs, "extended", "expectedExtended", DOSE_MIN, DOSE_MAX, needed_at_lo=True
        )
    if values.get("normal") == DOSE_MIN:
        if has(values, "extended"):
            if not has(values, "expectedNormal"):
                greater_than(values, "extended", DOSE_MIN, ptr, errs)
        else:
            greater_than(values, "expectedNormal", DOSE_MIN, ptr, errs)
    check_expected(values, ptr, errs, "normal", "expectedNormal", DOSE_MIN, DOSE_MAX)


_NORMAL = {"normal": Float(DOSE_MIN, DOSE_MAX), "expectedNormal": Float()}
_NORMAL_RULE = expected_rule("normal", "expectedNormal", DOSE_MIN, DOSE_MAX, needed_at_lo=True)
"""bolus/normal/normal.go and bolus/automated/automated.go: a ``normal`` of 0 needs ``expectedNormal``."""

NORMAL = _bolus("normal", _NORMAL, ("normal",), (_NORMAL_RULE,))
SQUARE = _bolus(
    "square",
    {
        "extended": Float(DOSE_MIN, DOSE_MAX),
        "expectedExtended": Float(),
        "duration": Int(DURATION_MIN, DURATION_DAY_MS),
        "expectedDuration": Int(),
    },
    ("extended", "duration"),
    (_extended_rule,),
)
DUAL_SQUARE = _bolus(
    "dual/square",
    {
        **_NORMAL,
        "extended": Float(),
        "expectedExtended": Float(),
        "duration": Int(),
        "expectedDuration": Int(),
    },
    ("normal", "extended", "duration"),
    (_combination_rule,),
)
AUTOMATED = _bolus("automated", _NORMAL, ("normal",), (_NORMAL_RULE,))

TYPES = [NORMAL, SQUARE, DUAL_SQUARE, AUTOMATED]

"""bolus: a dose of insulin, by ``subType`` (platform data/types/bolus/*).

The ``expected*`` fields hold what was programmed when delivery stopped early. normal, square and
dual/square follow the platform's newest ``NormalFields``/``ExtendedFields`` (bolus/normal/normal.go,
bolus/extended/extended.go, bolus/combination/combination.go): each expected value lies in the field's
whole range, and the delivered value is bounded by it (``normal`` <= ``expectedNormal``...), the error
at the delivered value. Nothing else is required by an expected value or a zero dose, except that
``expectedDuration`` goes with ``expectedExtended``. The automated bolus keeps the older form its
platform file still has (see :data:`AUTOMATED`).
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
    expected_rule,
    has,
    within_expected,
)
from inlet.model.types.settings_common import check_exists as need
from inlet.model.types.settings_common import check_in_range as in_range
from inlet.model.types.settings_common import check_not_exists as refuse

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


def _extended_fields(values: dict[str, Any], ptr: str, errs: Errors) -> None:
    """extended.go ``ExtendedFields.Validate``, in its order.

    ``duration`` lies within 0..``expectedDuration`` and ``extended`` within 0..``expectedExtended``
    when the expected value is itself in range, else within the whole range; each expected value has the
    whole range; ``expectedDuration`` exists exactly when ``expectedExtended`` does.
    """
    within_expected(values, "duration", "expectedDuration", DURATION_MIN, DURATION_DAY_MS, ptr, errs)
    in_range(values, "expectedDuration", DURATION_MIN, DURATION_DAY_MS, ptr, errs)
    if has(values, "expectedExtended"):
        need(values, "expectedDuration", ptr, errs)
    else:
        refuse(values, "expectedDuration", ptr, errs)
    within_expected(values, "extended", "expectedExtended", DOSE_MIN, DOSE_MAX, ptr, errs)
    in_range(values, "expectedExtended", DOSE_MIN, DOSE_MAX, ptr, errs)


def _normal_fields(values: dict[str, Any], ptr: str, errs: Errors) -> None:
    """normal.go ``NormalFields.Validate``: ``normal`` within 0..``expectedNormal`` (or 0..100)."""
    within_expected(values, "normal", "expectedNormal", DOSE_MIN, DOSE_MAX, ptr, errs)
    in_range(values, "expectedNormal", DOSE_MIN, DOSE_MAX, ptr, errs)


def _normal_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    _normal_fields(values, ptr, errs)


def _extended_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    _extended_fields(values, ptr, errs)


def _combination_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """combination.go ``CombinationFields.Validate``: the extended fields', then the normal fields'."""
    _extended_fields(values, ptr, errs)
    _normal_fields(values, ptr, errs)


# The delivered and expected values carry no range of their own: the rules above hold every range,
# since a delivered value's limit is the expected one.
_NORMAL = {"normal": Float(), "expectedNormal": Float()}
_EXTENDED = {"extended": Float(), "expectedExtended": Float(), "duration": Int(), "expectedDuration": Int()}

NORMAL = _bolus("normal", _NORMAL, ("normal",), (_normal_rule,))
SQUARE = _bolus("square", _EXTENDED, ("extended", "duration"), (_extended_rule,))
DUAL_SQUARE = _bolus(
    "dual/square", {**_NORMAL, **_EXTENDED}, ("normal", "extended", "duration"), (_combination_rule,)
)
AUTOMATED = _bolus(
    "automated",
    {"normal": Float(DOSE_MIN, DOSE_MAX), "expectedNormal": Float()},
    ("normal",),
    (expected_rule("normal", "expectedNormal", DOSE_MIN, DOSE_MAX, needed_at_lo=True),),
)
"""bolus/automated/automated.go, whose stored versions keep the older form: ``expectedNormal`` lies
within ``normal``..100, and a ``normal`` of 0 needs it."""

TYPES = [NORMAL, SQUARE, DUAL_SQUARE, AUTOMATED]

"""basal: background insulin delivery, by ``deliveryType`` (platform data/types/basal/*).

A temp basal, a suspension and an automated basal may carry ``suppressed``: the basal they replaced,
itself a basal of one of the delivery types the platform allows there (see :class:`Suppressed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.common import COMMON_FIELDS
from inlet.model.errors import Errors
from inlet.model.fields import MISSING, Context, Field, Float, Int, Obj, OneOf, Str
from inlet.model.types.insulin_common import (
    DURATION_WEEK_MS,
    FORMULATION,
    RATE_MAX,
    RATE_MIN,
    expected_rule,
)

TYPE = "basal"
DELIVERY_TYPES = ("automated", "scheduled", "suspend", "temp")
DURATION_MIN = 0
PERCENT_MIN, PERCENT_MAX = 0.0, 10.0
SCHEDULE_NAME_MAX = 1000

_STRING = Str()


class Suppressed(Field):
    """``suppressed``: the basal a temp, suspend or automated basal replaced.

    As the platform's ``parseSuppressed`` (basal.ParseDeliveryType): ``type`` must be ``basal`` and
    ``deliveryType`` present and one of ``kinds``, each with its own field table. A delivery type not
    allowed here is ``value-not-allowed`` at ``<suppressed>/<report_at>``: ``type`` in temporary.go and
    suspend.go, ``deliveryType`` in automated.go. After any of these errors nothing else of the object
    is checked, as in the platform.
    """

    kind = "object"
    __slots__ = ("kinds", "report_at")

    def __init__(self, kinds: Mapping[str, Obj], report_at: str) -> None:
        self.kinds = dict(kinds)
        self.report_at = report_at

    def _string(self, raw: dict[str, Any], key: str, ptr: str, errs: Errors) -> Any:
        if key not in raw:
            errs.add(f"{ptr}/{key}", e.not_exists())
            return MISSING
        return _STRING.parse(raw[key], f"{ptr}/{key}", errs)

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is not dict:
            errs.add(ptr, e.type_not(self.kind, raw))
            return MISSING
        type_ = self._string(raw, "type", ptr, errs)
        if type_ is MISSING:
            return MISSING
        if type_ != TYPE:
            errs.add(f"{ptr}/type", e.not_one_of(type_, [TYPE]))
            return MISSING
        delivery_type = self._string(raw, "deliveryType", ptr, errs)
        if delivery_type is MISSING:
            return MISSING
        spec = self.kinds.get(delivery_type)
        if spec is None:
            errs.add(f"{ptr}/{self.report_at}", e.not_one_of(delivery_type, list(self.kinds)))
            return MISSING
        return spec.parse(raw, ptr, errs)

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        self.kinds[value["deliveryType"]].validate(value, ptr, errs, ctx)

    def normalize(self, value: Any, ctx: Context) -> Any:
        return self.kinds[value["deliveryType"]].normalize(value, ctx)


def _suppressed_kind(delivery_type: str, fields: Mapping[str, Field]) -> Obj:
    """A suppressed basal of one delivery type: the fields all kinds share, plus ``fields``."""
    table: dict[str, Field] = {
        "type": OneOf(TYPE),
        "deliveryType": OneOf(delivery_type),
        "annotations": COMMON_FIELDS["annotations"],
        "insulinFormulation": FORMULATION,
        "rate": Float(RATE_MIN, RATE_MAX),
    }
    table.update(fields)
    return Obj(table, required=("rate",))


SUPPRESSED_SCHEDULED = _suppressed_kind("scheduled", {"scheduleName": Str(SCHEDULE_NAME_MAX)})
"""scheduled.go ``SuppressedScheduled``: no ``suppressed`` of its own."""

SUPPRESSED_TEMP = _suppressed_kind(
    "temp",
    {
        "percent": Float(PERCENT_MIN, PERCENT_MAX),
        "suppressed": Suppressed({"scheduled": SUPPRESSED_SCHEDULED}, "type"),
    },
)
"""temporary.go ``SuppressedTemporary``: may itself have suppressed a scheduled basal."""

SUPPRESSED_AUTOMATED = _suppressed_kind(
    "automated",
    {
        "scheduleName": Str(SCHEDULE_NAME_MAX),
        "suppressed": Suppressed({"scheduled": SUPPRESSED_SCHEDULED}, "deliveryType"),
    },
)
"""automated.go ``SuppressedAutomated``: may itself have suppressed a scheduled basal."""


def _basal(delivery_type: str, fields: dict[str, Field], required: tuple[str, ...]) -> DatumType:
    common: dict[str, Field] = {
        "deliveryType": OneOf(*DELIVERY_TYPES),
        "duration": Int(DURATION_MIN, DURATION_WEEK_MS),
        "expectedDuration": Int(),
    }
    common.update(fields)
    return DatumType(
        type=TYPE,
        sub_key="deliveryType",
        sub_value=delivery_type,
        fields=common,
        required=required,
        rules=(expected_rule("duration", "expectedDuration", DURATION_MIN, DURATION_WEEK_MS),),
        description=f"basal insulin, {delivery_type}",
    )


SCHEDULED = _basal(
    "scheduled",
    {
        "insulinFormulation": FORMULATION,
        "rate": Float(RATE_MIN, RATE_MAX),
        "scheduleName": Str(SCHEDULE_NAME_MAX),
    },
    ("rate", "duration"),
)
TEMP = _basal(
    "temp",
    {
        "insulinFormulation": FORMULATION,
        "rate": Float(RATE_MIN, RATE_MAX),
        "percent": Float(PERCENT_MIN, PERCENT_MAX),
        "suppressed": Suppressed({"scheduled": SUPPRESSED_SCHEDULED}, "type"),
    },
    ("rate", "duration"),
)
SUSPEND = _basal(
    "suspend",
    {
        "suppressed": Suppressed(
            {"automated": SUPPRESSED_AUTOMATED, "scheduled": SUPPRESSED_SCHEDULED, "temp": SUPPRESSED_TEMP},
            "type",
        ),
    },
    ("duration",),
)
"""suspend.go: no rate and no insulinFormulation (nothing is delivered)."""

AUTOMATED = _basal(
    "automated",
    {
        "insulinFormulation": FORMULATION,
        "rate": Float(RATE_MIN, RATE_MAX),
        "scheduleName": Str(SCHEDULE_NAME_MAX),
        "suppressed": Suppressed({"scheduled": SUPPRESSED_SCHEDULED}, "deliveryType"),
    },
    ("rate", "duration"),
)

TYPES = [SCHEDULED, TEMP, SUSPEND, AUTOMATED]

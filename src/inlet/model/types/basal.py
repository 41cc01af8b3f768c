"""basal: background insulin delivery, by ``deliveryType`` (platform data/types/basal/*)."""

from __future__ import annotations

from inlet.model.base import DatumType
from inlet.model.fields import AnyObject, Field, Float, Int, Obj, OneOf, Str
from inlet.model.types.insulin_common import (
    DURATION_WEEK_MS,
    FORMULATION,
    RATE_MAX,
    RATE_MIN,
    expected_at_least,
)

DELIVERY_TYPES = ("automated", "scheduled", "suspend", "temp")
PERCENT_MIN, PERCENT_MAX = 0.0, 10.0
SCHEDULE_NAME_MAX = 1000

SUPPRESSED = Obj(
    {
        "type": OneOf("basal"),
        "deliveryType": OneOf("automated", "scheduled", "temp"),
        "rate": Float(RATE_MIN, RATE_MAX),
        "percent": Float(PERCENT_MIN, PERCENT_MAX),
        "scheduleName": Str(SCHEDULE_NAME_MAX),
        "annotations": AnyObject(),
        "insulinFormulation": FORMULATION,
        "suppressed": AnyObject(),
    },
    required=("type", "deliveryType"),
)
"""What a temp basal or suspension replaced (nested basal; kept as sent past the first level)."""


def _basal(delivery_type: str, fields: dict[str, Field], required: tuple[str, ...]) -> DatumType:
    common: dict[str, Field] = {
        "deliveryType": OneOf(*DELIVERY_TYPES),
        "duration": Int(0, DURATION_WEEK_MS),
        "expectedDuration": Int(0, DURATION_WEEK_MS),
        "insulinFormulation": FORMULATION,
    }
    common.update(fields)
    return DatumType(
        type="basal",
        sub_key="deliveryType",
        sub_value=delivery_type,
        fields=common,
        required=required,
        rules=(expected_at_least("duration", "expectedDuration", DURATION_WEEK_MS),),
        description=f"basal insulin, {delivery_type}",
    )


SCHEDULED = _basal(
    "scheduled",
    {"rate": Float(RATE_MIN, RATE_MAX), "scheduleName": Str(SCHEDULE_NAME_MAX)},
    ("rate", "duration"),
)
TEMP = _basal(
    "temp",
    {"rate": Float(RATE_MIN, RATE_MAX), "percent": Float(PERCENT_MIN, PERCENT_MAX), "suppressed": SUPPRESSED},
    ("duration",),
)
SUSPEND = _basal("suspend", {"suppressed": SUPPRESSED}, ("duration",))
AUTOMATED = _basal(
    "automated",
    {
        "rate": Float(RATE_MIN, RATE_MAX),
        "scheduleName": Str(SCHEDULE_NAME_MAX),
        "suppressed": SUPPRESSED,
    },
    ("rate", "duration"),
)

TYPES = [SCHEDULED, TEMP, SUSPEND, AUTOMATED]

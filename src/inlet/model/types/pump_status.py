"""pumpStatus: an insulin pump's state at one time (platform data/types/status/pump).

- ``basalDelivery`` {state (required); ``time`` required for scheduled | suspended and refused
  otherwise; ``dose`` {startTime, endTime after startTime (refused without it), rate 0..100 (required),
  amountDelivered 0..1000} required for temporary and refused otherwise}.
- ``bolusDelivery`` {state (required); ``dose`` {startTime, amount 0..1000 (required),
  amountDelivered 0..1000} required while delivering and refused otherwise}.
- ``battery`` as for controllerStatus; ``deliveryIndeterminant`` (bool); ``reservoir`` {time,
  remaining 0..10000 (required), units ``Units`` (required)}.
- At least one of them.
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import Bool, Context, Float, Obj, OneOf, Time
from inlet.model.timeutil import format_rfc3339_nano
from inlet.model.types.controller_status import BATTERY
from inlet.model.types.settings_common import any_of, check_exists, check_not_exists, value_of

TYPE = "pumpStatus"
BASAL_DELIVERY_STATES = (
    "cancelingTemporary",
    "initiatingTemporary",
    "resuming",
    "scheduled",
    "suspended",
    "suspending",
    "temporary",
)
BOLUS_DELIVERY_STATES = ("canceling", "delivering", "initiating", "none")
BASAL_RATE_MAX = 100.0
AMOUNT_DELIVERED_MAX = 1000.0
BOLUS_AMOUNT_MAX = 1000.0
RESERVOIR_REMAINING_MAX = 10000.0


def _basal_dose_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    start, end = value_of(values, "startTime"), value_of(values, "endTime")
    if start is None:
        check_not_exists(values, "endTime", ptr, errs)
    elif end is not None and not end > start:
        errs.add(f"{ptr}/endTime", e.not_after(format_rfc3339_nano(end), format_rfc3339_nano(start)))


BASAL_DOSE = Obj(
    {
        "startTime": Time(),
        "endTime": Time(),
        "rate": Float(0.0, BASAL_RATE_MAX),
        "amountDelivered": Float(0.0, AMOUNT_DELIVERED_MAX),
    },
    required=("rate",),
    rules=(_basal_dose_rule,),
)


def _basal_delivery_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    state = value_of(values, "state")
    if state in ("scheduled", "suspended"):
        check_exists(values, "time", ptr, errs)
    else:
        check_not_exists(values, "time", ptr, errs)
    if state == "temporary":
        check_exists(values, "dose", ptr, errs)
    else:
        check_not_exists(values, "dose", ptr, errs)


BASAL_DELIVERY = Obj(
    {"state": OneOf(*BASAL_DELIVERY_STATES), "time": Time(), "dose": BASAL_DOSE},
    required=("state",),
    rules=(_basal_delivery_rule,),
)

BOLUS_DOSE = Obj(
    {
        "startTime": Time(),
        "amount": Float(0.0, BOLUS_AMOUNT_MAX),
        "amountDelivered": Float(0.0, AMOUNT_DELIVERED_MAX),
    },
    required=("amount",),
)


def _bolus_delivery_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    if value_of(values, "state") == "delivering":
        check_exists(values, "dose", ptr, errs)
    else:
        check_not_exists(values, "dose", ptr, errs)


BOLUS_DELIVERY = Obj(
    {"state": OneOf(*BOLUS_DELIVERY_STATES), "dose": BOLUS_DOSE},
    required=("state",),
    rules=(_bolus_delivery_rule,),
)

RESERVOIR = Obj(
    {"time": Time(), "remaining": Float(0.0, RESERVOIR_REMAINING_MAX), "units": OneOf("Units")},
    required=("remaining", "units"),
)

PARTS = ("basalDelivery", "battery", "bolusDelivery", "deliveryIndeterminant", "reservoir")

PUMP_STATUS = DatumType(
    type=TYPE,
    fields={
        "basalDelivery": BASAL_DELIVERY,
        "battery": BATTERY,
        "bolusDelivery": BOLUS_DELIVERY,
        "deliveryIndeterminant": Bool(),
        "reservoir": RESERVOIR,
    },
    rules=(any_of(*PARTS),),
    description="insulin pump status",
)

TYPES = [PUMP_STATUS]

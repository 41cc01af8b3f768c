"""controllerStatus: the state of the app or device that controls a pump (platform
data/types/status/controller).

- ``battery`` (required) {time, state charging | full | unplugged, remaining 0..1 with units
  ``percent``; units required with remaining and refused without it; at least one of state and
  remaining}.
"""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model.base import DatumType
from inlet.model.errors import Errors
from inlet.model.fields import Context, Float, Obj, OneOf, Str, Time
from inlet.model.types.settings_common import any_of, check_exists, check_in_range, check_not_exists, value_of

TYPE = "controllerStatus"
BATTERY_STATES = ("charging", "full", "unplugged")
BATTERY_UNITS = ("percent",)
BATTERY_PERCENT_MIN, BATTERY_PERCENT_MAX = 0.0, 1.0


def _battery_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    units = value_of(values, "units")
    if units == "percent":
        check_in_range(values, "remaining", BATTERY_PERCENT_MIN, BATTERY_PERCENT_MAX, ptr, errs)
    if value_of(values, "remaining") is not None:
        check_exists(values, "units", ptr, errs)
        if units is not None and units not in BATTERY_UNITS:
            errs.add(f"{ptr}/units", e.not_one_of(units, BATTERY_UNITS))
    else:
        check_not_exists(values, "units", ptr, errs)


BATTERY = Obj(
    {"time": Time(), "state": OneOf(*BATTERY_STATES), "remaining": Float(), "units": Str(empty_ok=True)},
    rules=(_battery_rule, any_of("state", "remaining")),
)
"""A battery's state and charge (shared with pumpStatus)."""

CONTROLLER_STATUS = DatumType(
    type=TYPE,
    fields={"battery": BATTERY},
    required=("battery",),
    description="controller (app) status",
)

TYPES = [CONTROLLER_STATUS]

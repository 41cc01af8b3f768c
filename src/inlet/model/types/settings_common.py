"""Pieces shared by the device, settings, status and dosing-decision types.

Nothing here is registered as a datum type. The pieces follow the platform's shared Go packages:

- ``data/blood/glucose/target.go``: a blood glucose target (``target`` + ``range``, ``target`` +
  ``high``, ``target`` alone, or ``low`` + ``high``), in the datum's glucose units, stored in mmol/L.
- ``data/types/settings/pump/*_start.go``: schedules of segments whose ``start`` (ms since midnight)
  is 0 for the first segment and strictly increasing after it, up to 86400000.
- ``metadata/metadata.go``: a free-form, non-empty object of at most 6 KiB of JSON.
- the device description of settings types (manufacturers, model, versions...).
- :class:`ObjectUnitsType`: a datum type whose glucose units live in a units object
  (``units.bg`` for pumpSettings, ``units.bloodGlucose`` for dosingDecision).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inlet.model import errors as e
from inlet.model import glucose
from inlet.model.base import DatumType
from inlet.model.errors import Errors, Problem
from inlet.model.fields import (
    MISSING,
    AnyObject,
    Arr,
    Context,
    Field,
    Glucose,
    Int,
    NonEmptyArr,
    Obj,
    Rule,
    Str,
)

DAYS_OF_WEEK = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
DEVICE_TEXT_MAX = 100
MANUFACTURERS_MAX = 10
METADATA_SIZE_MAX = 6 * 1024
SCHEDULE_START_MIN, SCHEDULE_START_MAX = 0, 86_400_000
TIMEZONE_OFFSET_MIN, TIMEZONE_OFFSET_MAX = -10080, 10080
DURATION_WEEK_MS = 604_800_000
SCALE_FACTOR_MIN, SCALE_FACTOR_MAX = 0.1, 10.0


# ---- problems the framework does not spell ---------------------------------------------------


def size_not_less_than_or_equal_to(size: int, limit: int) -> Problem:
    return (e.SIZE_OUT_OF_RANGE, "size is out of range", f"size {size} is not less than or equal to {limit}")


# ---- small helpers for rules -----------------------------------------------------------------


def value_of(values: Mapping[str, Any], key: str) -> Any:
    """The parsed value, or ``None`` when absent or unparsable (Go's nil pointer)."""
    value = values.get(key, MISSING)
    return None if value is MISSING else value


def check_in_range(values: Mapping[str, Any], key: str, lo: float, hi: float, ptr: str, errs: Errors) -> None:
    value = value_of(values, key)
    if value is not None and (value < lo or value > hi):
        errs.add(f"{ptr}/{key}", e.not_in_range(value, lo, hi))


def check_not_exists(values: Mapping[str, Any], key: str, ptr: str, errs: Errors) -> None:
    """Go's ``NotExists()``: a parsed value that must not be there."""
    if value_of(values, key) is not None:
        errs.add(f"{ptr}/{key}", e.exists())


def check_exists(values: Mapping[str, Any], key: str, ptr: str, errs: Errors) -> None:
    """Go's ``Exists()`` for a conditional requirement (a key that failed to parse already has its error)."""
    if key not in values:
        errs.add(f"{ptr}/{key}", e.not_exists())


def range_by_units(value_key: str, units_key: str, ranges: Mapping[str, tuple[float, float]]) -> Rule:
    """A rule: ``value_key`` lies in the range of the sibling ``units_key`` (unknown units: no limit)."""

    def rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        bounds = ranges.get(value_of(values, units_key))
        if bounds is not None:
            check_in_range(values, value_key, bounds[0], bounds[1], ptr, errs)

    return rule


def any_of(*keys: str) -> Rule:
    """A rule: at least one of ``keys`` was sent (``values-not-exist-for-any`` at the object)."""

    def rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        if not any(key in values for key in keys):
            errs.add(ptr, e.values_not_exist_for_any(*keys))

    return rule


def one_schedule_form(single: str, many: str) -> Rule:
    """A rule: ``single`` (one schedule) and ``many`` (named schedules) are exclusive."""

    def rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        if value_of(values, single) is not None:
            check_not_exists(values, many, ptr, errs)

    return rule


# ---- fields ----------------------------------------------------------------------------------


class Metadata(AnyObject):
    """A free-form object that must not be empty and serializes to at most 6 KiB (platform metadata)."""

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if not value:
            errs.add(ptr, e.empty())
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if size > METADATA_SIZE_MAX:
            errs.add(ptr, size_not_less_than_or_equal_to(size, METADATA_SIZE_MAX))


class SortedStrArr(NonEmptyArr):
    """Manufacturers: non-empty, unique, each a non-empty string; stored sorted (as the platform does)."""

    __slots__ = ()

    def normalize(self, value: Any, ctx: Context) -> Any:
        return sorted(super().normalize(value, ctx))


class DaysArr(Arr):
    """Days of the week, stored in week order (sunday first); unknown names sort last."""

    __slots__ = ()

    def normalize(self, value: Any, ctx: Context) -> Any:
        order = {day: index for index, day in enumerate(DAYS_OF_WEEK)}
        return sorted(super().normalize(value, ctx), key=lambda day: order.get(day, len(order)))


class IntOneOf(Int):
    """An integer from a fixed list (``value-not-allowed`` otherwise)."""

    __slots__ = ("allowed",)

    def __init__(self, allowed: Iterable[int]) -> None:
        super().__init__()
        self.allowed = tuple(allowed)

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if value not in self.allowed:
            errs.add(ptr, e.not_one_of(value, self.allowed))


class GlucoseAmount(Glucose):
    """A glucose amount whose limits a rule of the enclosing object checks; stored in mmol/L."""

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        return None


class GlucoseRanged(Glucose):
    """A glucose value in the datum's units with explicit limits per unit family (Go's constants)."""

    __slots__ = ("mmoll",)

    def __init__(self, mgdl: tuple[float, float], mmoll: tuple[float, float]) -> None:
        super().__init__(mgdl)
        self.mmoll = mmoll

    def bounds(self, units: str | None) -> tuple[float, float] | None:
        if units in glucose.UNITS_MGDL:
            return self.mgdl
        if units in glucose.UNITS_MMOLL:
            return self.mmoll
        return None


def device_text() -> Str:
    return Str(DEVICE_TEXT_MAX)


def manufacturers() -> SortedStrArr:
    return SortedStrArr(Str(DEVICE_TEXT_MAX), MANUFACTURERS_MAX, unique=True)


def device_fields() -> dict[str, Field]:
    """firmwareVersion, hardwareVersion, manufacturers, model, name, serialNumber, softwareVersion."""
    return {
        "firmwareVersion": device_text(),
        "hardwareVersion": device_text(),
        "manufacturers": manufacturers(),
        "model": device_text(),
        "name": device_text(),
        "serialNumber": device_text(),
        "softwareVersion": device_text(),
    }


DEVICE_FIELD_NAMES = tuple(device_fields())


# ---- blood glucose target ----------------------------------------------------------------------


def target_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """The platform's ``Target.Validate``: which combinations are allowed and their limits."""
    bounds = glucose.range_for_units(ctx.units)
    target, range_, low, high = (value_of(values, k) for k in ("target", "range", "low", "high"))

    def limit(key: str, lo: float, hi: float) -> None:
        check_in_range(values, key, lo, hi, ptr, errs)

    def within(value: float) -> bool:
        return bounds is not None and bounds[0] <= value <= bounds[1]

    if target is not None and range_ is not None:
        check_not_exists(values, "high", ptr, errs)
        check_not_exists(values, "low", ptr, errs)
        if bounds is not None and within(target):
            limit("range", 0.0, min(target - bounds[0], bounds[1] - target))
        if bounds is not None:
            limit("target", *bounds)
    elif target is not None and high is not None:
        if bounds is not None and within(target):
            limit("high", target, bounds[1])
        check_not_exists(values, "low", ptr, errs)
        check_not_exists(values, "range", ptr, errs)
        if bounds is not None:
            limit("target", *bounds)
    elif target is not None:
        for key in ("high", "low", "range"):
            check_not_exists(values, key, ptr, errs)
        if bounds is not None:
            limit("target", *bounds)
    elif high is not None and low is not None:
        if bounds is not None and within(low):
            limit("high", low, bounds[1])
        if bounds is not None:
            limit("low", *bounds)
        check_not_exists(values, "range", ptr, errs)
        check_not_exists(values, "target", ptr, errs)
    elif low is not None:
        check_exists(values, "high", ptr, errs)
    else:
        check_exists(values, "target", ptr, errs)


def target_fields() -> dict[str, Field]:
    return {key: GlucoseAmount() for key in ("high", "low", "range", "target")}


TARGET = Obj(target_fields(), rules=(target_rule,))
"""A blood glucose target in the datum's units (platform ``data/blood/glucose/target.go``)."""


# ---- schedules ---------------------------------------------------------------------------------


class StartArray(Arr):
    """A daily schedule: segments whose ``start`` is 0 first, then strictly increasing, <= 86400000 ms.

    The item must declare ``start`` as a plain :class:`Int`; the array checks it against its neighbours.
    """

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        minimum = SCHEDULE_START_MIN
        for index, element in enumerate(value):
            if element is MISSING:
                continue
            child = f"{ptr}/{index}"
            self.item.validate(element, child, errs, ctx)
            start = value_of(element, "start")
            if start is not None:
                if index == 0:
                    if start != SCHEDULE_START_MIN:
                        errs.add(f"{child}/start", e.not_equal_to(start, SCHEDULE_START_MIN))
                elif not minimum <= start <= SCHEDULE_START_MAX:
                    errs.add(f"{child}/start", e.not_in_range(start, minimum, SCHEDULE_START_MAX))
            if index == 0:
                minimum = SCHEDULE_START_MIN + 1
            elif start is not None:
                minimum = start + 1


def start_array(
    fields: Mapping[str, Field], required: Iterable[str], rules: Iterable[Rule] = ()
) -> StartArray:
    item_fields = dict(fields)
    item_fields["start"] = Int()
    return StartArray(Obj(item_fields, required=(*required, "start"), rules=rules))


def target_start_array() -> StartArray:
    """Glucose targets by time of day (pumpSettings ``bgTarget``, dosingDecision ``bgTargetSchedule``)."""
    return start_array(target_fields(), (), (target_rule,))


# ---- datum types whose glucose units sit in a units object ------------------------------------


@dataclass(eq=False)
class ObjectUnitsType(DatumType):
    """A datum type whose glucose units are ``values[units_object][units_member]``."""

    units_object: str = "units"
    units_member: str = "bg"

    def context(self, values: Mapping[str, Any]) -> Context:
        units = values.get(self.units_object)
        member = units.get(self.units_member) if isinstance(units, dict) else None
        return Context(member if isinstance(member, str) else None, parent=dict(values))

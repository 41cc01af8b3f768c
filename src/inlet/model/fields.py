"""Declarative field specs: each knows how to parse (type check), validate (ranges) and normalize.

A datum type is a table of these specs (see :mod:`inlet.model.types`), so the three steps stay
separate, every range lives in one place, and errors carry exact JSON pointers. The code is written
for the hot path: pointers are only built when an error is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from inlet.model import errors as e
from inlet.model import glucose, timeutil
from inlet.model.errors import Errors


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""A value that failed to parse (its error is already recorded) or is absent."""


class Context:
    """What nested validation and normalization need from the datum: its glucose units, and where
    normalization puts datums it splits off (an embedded bolus becomes its own datum)."""

    __slots__ = ("extras", "parent", "units")

    def __init__(self, units: str | None = None, parent: dict[str, Any] | None = None) -> None:
        self.units = units
        self.parent = parent
        self.extras: list[Any] = []


class Field:
    """Base spec. ``kind`` names the Go parser type for ``type-not-<kind>`` errors."""

    kind: ClassVar[str] = "object"
    __slots__ = ()

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        return raw

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        return None

    def normalize(self, value: Any, ctx: Context) -> Any:
        return value


# ---- scalars -------------------------------------------------------------------------------


class Float(Field):
    """A JSON number; ``lo``/``hi`` inclusive. Integers are floats to JSON, as in Go."""

    kind = "float64"
    __slots__ = ("hi", "lo")

    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo = lo
        self.hi = hi

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is float or raw.__class__ is int:
            return raw
        errs.add(ptr, e.type_not(self.kind, raw))
        return MISSING

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            if value < lo or value > hi:
                errs.add(ptr, e.not_in_range(value, lo, hi))
        elif lo is not None:
            if value < lo:
                errs.add(ptr, e.not_greater_than_or_equal_to(value, lo))
        elif hi is not None and value > hi:
            errs.add(ptr, e.not_less_than_or_equal_to(value, hi))


class Int(Float):
    """A JSON number with no fraction (Go's parser accepts ``5.0`` as the int 5)."""

    kind = "int"
    __slots__ = ()

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is int:
            return raw
        if raw.__class__ is float and raw.is_integer():
            return int(raw)
        errs.add(ptr, e.type_not(self.kind, raw))
        return MISSING


class Bool(Field):
    kind = "bool"
    __slots__ = ()

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw is True or raw is False:
            return raw
        errs.add(ptr, e.type_not(self.kind, raw))
        return MISSING


class Str(Field):
    """A string: not empty unless ``empty_ok``; optional max length, pattern and allowed values."""

    kind = "string"
    __slots__ = ("empty_ok", "max_len", "min_len", "one_of", "pattern")

    def __init__(
        self,
        max_len: int | None = None,
        *,
        min_len: int | None = None,
        pattern: str | None = None,
        one_of: Iterable[str] | None = None,
        empty_ok: bool = False,
    ) -> None:
        self.max_len = max_len
        self.min_len = min_len
        self.pattern = re.compile(pattern) if pattern else None
        self.one_of = tuple(one_of) if one_of is not None else None
        self.empty_ok = empty_ok

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is str:
            return raw
        errs.add(ptr, e.type_not(self.kind, raw))
        return MISSING

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if self.one_of is not None:
            if value not in self.one_of:
                errs.add(ptr, e.not_one_of(value, self.one_of))
            return
        if not value:
            if not self.empty_ok:
                errs.add(ptr, e.empty())
            return
        if self.max_len is not None and len(value) > self.max_len:
            if self.min_len is not None:
                errs.add(ptr, e.length_not_in_range(len(value), self.min_len, self.max_len))
            else:
                errs.add(ptr, e.length_not_less_than_or_equal_to(len(value), self.max_len))
        elif self.min_len is not None and len(value) < self.min_len:
            if self.max_len is not None:
                errs.add(ptr, e.length_not_in_range(len(value), self.min_len, self.max_len))
            else:
                errs.add(ptr, e.length_not_greater_than_or_equal_to(len(value), self.min_len))
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            errs.add(ptr, e.not_matches(value, self.pattern.pattern))


class Canonical(Str):
    """One of a set of spellings, each stored as its canonical form (``mmol/l`` -> ``mmol/L``)."""

    __slots__ = ("canonical",)

    def __init__(self, canonical: Mapping[str, str]) -> None:
        super().__init__(one_of=canonical)
        self.canonical = dict(canonical)

    def normalize(self, value: Any, ctx: Context) -> Any:
        return self.canonical.get(value, value)


def OneOf(*values: str) -> Str:
    return Str(one_of=values)


class Exactly(Str):
    """A string that must be one given value (the platform's ``EqualTo``, e.g. ``units: "degrees"``)."""

    __slots__ = ("expected",)

    def __init__(self, expected: str) -> None:
        super().__init__()
        self.expected = expected

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if value != self.expected:
            errs.add(ptr, e.not_equal_to(value, self.expected))


class Time(Field):
    """An RFC 3339 time with a zone; normalized to UTC with milliseconds (``...Z``)."""

    kind = "string"
    __slots__ = ()

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is not str:
            errs.add(ptr, e.type_not(self.kind, raw))
            return MISSING
        parsed = timeutil.parse_rfc3339(raw)
        if parsed is None:
            errs.add(ptr, e.time_not_valid(raw, timeutil.RFC3339_LAYOUT))
            return MISSING
        return parsed

    def normalize(self, value: Any, ctx: Context) -> Any:
        return timeutil.format_utc(value)


class DeviceTime(Field):
    """``YYYY-MM-DDThh:mm:ss``, no zone (the device's display clock); kept as sent."""

    kind = "string"
    __slots__ = ()

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is not str:
            errs.add(ptr, e.type_not(self.kind, raw))
            return MISSING
        if timeutil.parse_device_time(raw) is None:
            errs.add(ptr, e.time_not_valid(raw, timeutil.DEVICE_TIME_LAYOUT))
            return MISSING
        return raw


class TimeZoneName(Str):
    """An IANA time zone name (``America/Los_Angeles``)."""

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if not value:
            errs.add(ptr, e.empty())
        elif not timeutil.is_timezone_name(value):
            errs.add(ptr, e.not_valid(f"value {e.quote(value)} is not a valid time zone name"))


class Glucose(Float):
    """A blood glucose value in the datum's units: 0..1000 mg/dL or 0..55 mmol/L; stored in mmol/L.

    ``mgdl`` optionally narrows the range (given in mg/dL, converted for mmol/L data as Tidepool's
    per-type limits are).
    """

    __slots__ = ("mgdl",)

    def __init__(self, mgdl: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.mgdl = mgdl

    def bounds(self, units: str | None) -> tuple[float, float] | None:
        if self.mgdl is None:
            return glucose.range_for_units(units)
        if units in glucose.UNITS_MGDL:
            return self.mgdl
        if units in glucose.UNITS_MMOLL:
            return (glucose.mgdl_to_mmoll(self.mgdl[0]), glucose.mgdl_to_mmoll(self.mgdl[1]))
        return None

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        bounds = self.bounds(ctx.units)
        if bounds is not None and (value < bounds[0] or value > bounds[1]):
            errs.add(ptr, e.not_in_range(value, bounds[0], bounds[1]))

    def normalize(self, value: Any, ctx: Context) -> Any:
        return glucose.normalize_value(value, ctx.units)


class GlucoseUnits(Str):
    """``mmol/L``, ``mmol/l``, ``mg/dL`` or ``mg/dl``; stored as ``mmol/L``."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(one_of=glucose.UNITS)

    def normalize(self, value: Any, ctx: Context) -> Any:
        return glucose.normalize_units(value)


# ---- structures ----------------------------------------------------------------------------


class AnyObject(Field):
    """A free-form JSON object (payload, metadata): kept as sent."""

    kind = "object"
    __slots__ = ()

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is dict:
            return raw
        errs.add(ptr, e.type_not(self.kind, raw))
        return MISSING


class Obj(Field):
    """A nested object with its own field table; unknown keys are ``not-parsed`` errors."""

    kind = "object"
    __slots__ = ("fields", "required", "rules")

    def __init__(
        self,
        fields: Mapping[str, Field],
        *,
        required: Iterable[str] = (),
        rules: Iterable[Rule] = (),
    ) -> None:
        self.fields = dict(fields)
        self.required = tuple(required)
        self.rules = tuple(rules)

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is not dict:
            errs.add(ptr, e.type_not(self.kind, raw))
            return MISSING
        return parse_fields(plan(self.fields), raw, ptr, errs, self.required)

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        validate_fields(plan(self.fields), value, ptr, errs, ctx)
        for rule in self.rules:
            rule(value, ptr, errs, ctx)

    def normalize(self, value: Any, ctx: Context) -> Any:
        return normalize_fields(plan(self.fields), value, ctx)


class Arr(Field):
    """An array of one item spec; optional length limits and uniqueness."""

    kind = "array"
    __slots__ = ("item", "max_len", "min_len", "unique")

    def __init__(self, item: Field, max_len: int | None = None, *, min_len: int = 0, unique: bool = False):
        self.item = item
        self.max_len = max_len
        self.min_len = min_len
        self.unique = unique

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is not list:
            errs.add(ptr, e.type_not(self.kind, raw))
            return MISSING
        item = self.item
        out = []
        for index, element in enumerate(raw):
            value = item.parse(element, f"{ptr}/{index}", errs)
            out.append(value)
        return out

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        length = len(value)
        if self.max_len is not None and length > self.max_len:
            if self.min_len:
                errs.add(ptr, e.length_not_in_range(length, self.min_len, self.max_len))
            else:
                errs.add(ptr, e.length_not_less_than_or_equal_to(length, self.max_len))
        elif length < self.min_len:
            if self.max_len is not None:
                errs.add(ptr, e.length_not_in_range(length, self.min_len, self.max_len))
            else:
                errs.add(ptr, e.length_not_greater_than_or_equal_to(length, self.min_len))
        item = self.item
        seen: set[Any] = set()
        for index, element in enumerate(value):
            if element is MISSING:
                continue
            item.validate(element, f"{ptr}/{index}", errs, ctx)
            if self.unique:
                key = repr(element)
                if key in seen:
                    errs.add(f"{ptr}/{index}", e.duplicate())
                seen.add(key)

    def normalize(self, value: Any, ctx: Context) -> Any:
        item = self.item
        return [item.normalize(element, ctx) for element in value if element is not MISSING]


class MapOf(Field):
    """An object whose keys are names (``basalSchedules``) and whose values share one spec."""

    kind = "object"
    __slots__ = ("item", "key_max_len", "max_len")

    def __init__(self, item: Field, max_len: int | None = None, key_max_len: int | None = None):
        self.item = item
        self.max_len = max_len
        self.key_max_len = key_max_len

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is not dict:
            errs.add(ptr, e.type_not(self.kind, raw))
            return MISSING
        return {key: self.item.parse(value, _child(ptr, key), errs) for key, value in raw.items()}

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if self.max_len is not None and len(value) > self.max_len:
            errs.add(ptr, e.length_not_less_than_or_equal_to(len(value), self.max_len))
        for key, element in value.items():
            child = _child(ptr, key)
            if not key:
                errs.add(child, e.empty())
            elif self.key_max_len is not None and len(key) > self.key_max_len:
                errs.add(child, e.length_not_less_than_or_equal_to(len(key), self.key_max_len))
            if element is not MISSING:
                self.item.validate(element, child, errs, ctx)

    def normalize(self, value: Any, ctx: Context) -> Any:
        return {k: self.item.normalize(v, ctx) for k, v in value.items() if v is not MISSING}


class NonEmptyArr(Arr):
    """An array that must hold at least one item: an empty one is ``value-empty`` (as the platform's
    ingredient, compound and mix arrays report it), a long one ``length-out-of-range``."""

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if not value:
            errs.add(ptr, e.empty())
            return
        super().validate(value, ptr, errs, ctx)


Rule = Callable[[dict[str, Any], str, Errors, Context], None]
"""A cross-field check on a parsed object: ``rule(values, pointer, errors, context)``."""


def measured(ranges: Mapping[str, tuple[float, float]]) -> Obj:
    """``{units, value}``, both required, the value's inclusive range depending on the units.

    ``ranges`` maps each allowed unit (in the platform's order, which the error detail lists) to its
    range. With units that are not allowed, the value is not range-checked (the units error suffices).
    """

    def value_in_range(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
        units = values.get("units", MISSING)
        value = values.get("value", MISSING)
        if value is MISSING or not isinstance(units, str):
            return
        bounds = ranges.get(units)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            errs.add(f"{ptr}/value", e.not_in_range(value, bounds[0], bounds[1]))

    return Obj(
        {"units": OneOf(*ranges), "value": Float()},
        required=("units", "value"),
        rules=(value_in_range,),
    )


def _child(ptr: str, key: str) -> str:
    if "/" in key or "~" in key:
        return e.pointer_join(ptr, key)
    return f"{ptr}/{key}"


# ---- the three steps over a table of fields -------------------------------------------------------
#
# A table is compiled once into a plan: per key, the spec, the JSON types its parse accepts unchanged
# (so the common case costs one class check, not a call), and whether validate and normalize do
# anything at all. Pointers are built only for keys that are validated or fail.

_PASS_THROUGH: dict[Any, tuple[type, ...]] = {}


def _pass_through(spec: Field) -> tuple[type, ...]:
    if not _PASS_THROUGH:
        _PASS_THROUGH.update(
            {
                Float.parse: (float, int),
                Int.parse: (int,),
                Str.parse: (str,),
                Bool.parse: (bool,),
                AnyObject.parse: (dict,),
            }
        )
    return _PASS_THROUGH.get(type(spec).parse, ())


def _validates(spec: Field) -> bool:
    method = type(spec).validate
    if method is Field.validate:
        return False
    return not (method is Float.validate and isinstance(spec, Float) and spec.lo is None and spec.hi is None)


PlanEntry = tuple[Field, tuple[type, ...], bool, bool]


class CompiledPlan(dict[str, PlanEntry]):
    """A compiled field table (see :func:`plan`)."""


_PLANS: dict[int, tuple[Mapping[str, Field], CompiledPlan]] = {}


def plan(fields: Mapping[str, Field]) -> CompiledPlan:
    """The compiled form of a field table (cached; tables are long-lived module constants)."""
    cached = _PLANS.get(id(fields))
    if cached is not None and cached[0] is fields:
        return cached[1]
    compiled = CompiledPlan(
        {
            key: (spec, _pass_through(spec), _validates(spec), type(spec).normalize is not Field.normalize)
            for key, spec in fields.items()
        }
    )
    _PLANS[id(fields)] = (fields, compiled)
    return compiled


def _compiled(fields: Mapping[str, Any]) -> dict[str, PlanEntry]:
    if isinstance(fields, CompiledPlan):
        return fields
    return plan(fields)


def parse_fields(
    fields: Mapping[str, Field] | dict[str, PlanEntry],
    raw: dict[str, Any],
    ptr: str,
    errs: Errors,
    required: Iterable[str] = (),
    storage_only: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Type-check each present key against ``fields`` (a table or its compiled plan); unknown keys
    are ``not-parsed`` errors and ``storage_only`` keys are refused. Values that fail keep the key
    with ``MISSING``."""
    compiled = _compiled(fields)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        entry = compiled.get(key)
        if entry is None:
            errs.add(_child(ptr, key), e.storage_only() if key in storage_only else e.not_parsed())
        elif value.__class__ in entry[1]:
            out[key] = value
        else:
            out[key] = entry[0].parse(value, f"{ptr}/{key}", errs)
    for key in required:
        if key not in raw:
            errs.add(_child(ptr, key), e.not_exists())
    return out


def validate_fields(
    fields: Mapping[str, Field] | dict[str, PlanEntry],
    values: dict[str, Any],
    ptr: str,
    errs: Errors,
    ctx: Context,
) -> None:
    compiled = _compiled(fields)
    for key, value in values.items():
        entry = compiled[key]
        if entry[2] and value is not MISSING:
            entry[0].validate(value, f"{ptr}/{key}", errs, ctx)


def normalize_fields(
    fields: Mapping[str, Field] | dict[str, PlanEntry], values: dict[str, Any], ctx: Context
) -> dict[str, Any]:
    compiled = _compiled(fields)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is MISSING:
            continue
        entry = compiled[key]
        out[key] = entry[0].normalize(value, ctx) if entry[3] else value
    return out


def present(values: Mapping[str, Any], key: str) -> bool:
    """True when ``key`` arrived and parsed."""
    value = values.get(key, MISSING)
    return value is not MISSING


def as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None

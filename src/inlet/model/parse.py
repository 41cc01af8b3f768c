"""The model's entry point: a request's JSON array -> normalized datums, or every error at once.

Parse, validate and normalize run as three separate passes per datum (as Tidepool's platform does);
a datum is normalized only when it parsed and validated without error. The caller stores nothing
when any error was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inlet.model import errors as e
from inlet.model import identity
from inlet.model.base import DatumType
from inlet.model.errors import Errors, ModelError
from inlet.model.fields import MISSING, Context, Field

_REGISTRY: dict[str, dict[str | None, DatumType]] = {}
_SUB_KEYS: dict[str, str | None] = {}


def register(*types: DatumType) -> None:
    for datum_type in types:
        known = _SUB_KEYS.setdefault(datum_type.type, datum_type.sub_key)
        if known != datum_type.sub_key:
            raise ValueError(f"type {datum_type.type} mixes sub keys {known} and {datum_type.sub_key}")
        _REGISTRY.setdefault(datum_type.type, {})[datum_type.sub_value] = datum_type


def registered_types() -> list[DatumType]:
    _load()
    return [t for subs in _REGISTRY.values() for t in subs.values()]


def type_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def sub_key_for(type_name: str) -> str | None:
    _load()
    return _SUB_KEYS.get(type_name)


_loaded = False
USE_FAST_PATH = True
VERIFY_FAST_PATH = False
"""The test suite sets this: every datum the fast path accepts is also run through the three-step
path, and any difference (an accepted invalid datum, another normalization) fails the test."""


def _load() -> None:
    global _loaded
    if not _loaded:
        from inlet.model import types  # registers every type on import

        _loaded = bool(types.ALL)


@dataclass(slots=True)
class Datum:
    """A normalized datum: ``doc`` is what is stored and served; the rest index it."""

    doc: dict[str, Any]
    time: datetime
    type: str
    sub_type: str | None
    index: int = 0
    raw: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(slots=True)
class ParseResult:
    datums: list[Datum]
    errors: list[ModelError]

    @property
    def ok(self) -> bool:
        return not self.errors


def resolve_type(raw: dict[str, Any], ptr: str, errs: Errors) -> DatumType | None:
    """Find the registered type for a raw datum, reporting a missing or unknown type/subType."""
    _load()
    type_name = raw.get("type", MISSING)
    if type_name is MISSING:
        errs.add(f"{ptr}/type", e.not_exists())
        return None
    if type_name.__class__ is not str:
        errs.add(f"{ptr}/type", e.type_not("string", type_name))
        return None
    subs = _REGISTRY.get(type_name)
    if subs is None:
        errs.add(f"{ptr}/type", e.not_one_of(type_name, sorted(_REGISTRY)))
        return None
    sub_key = _SUB_KEYS[type_name]
    if sub_key is None:
        return subs[None]
    sub_value = raw.get(sub_key, MISSING)
    if sub_value is MISSING:
        errs.add(f"{ptr}/{sub_key}", e.not_exists())
        return None
    if sub_value.__class__ is not str:
        errs.add(f"{ptr}/{sub_key}", e.type_not("string", sub_value))
        return None
    datum_type = subs.get(sub_value)
    if datum_type is None:
        errs.add(f"{ptr}/{sub_key}", e.not_one_of(sub_value, sorted(k for k in subs if k)))
    return datum_type


def _finish(datum_type: DatumType, doc: dict[str, Any], time: datetime, index: int) -> Datum:
    if "id" not in doc:
        doc["id"] = identity.new_id()
    sub = doc.get(datum_type.sub_key) if datum_type.sub_key else None
    return Datum(doc=doc, time=time, type=datum_type.type, sub_type=sub, index=index)


def parse_datum(raw: Any, ptr: str, errs: Errors, index: int = 0) -> list[Datum]:
    """Parse, validate and normalize one raw datum; returns it (plus any datums it embeds)."""
    if raw.__class__ is not dict:
        errs.add(ptr, e.type_not("object", raw))
        return []
    datum_type = resolve_type(raw, ptr, errs)
    if datum_type is None:
        return []
    if USE_FAST_PATH:
        fast = datum_type.fast_path()(raw)
        if fast is not None:
            values, doc, extras = fast
            out = [_finish(datum_type, doc, values["time"].astimezone(UTC), index)]
            for extra in extras:
                extra.index = index
            out.extend(extras)
            if VERIFY_FAST_PATH:
                _verify(datum_type, raw, ptr, index, out)
            return out
    return _three_steps(datum_type, raw, ptr, errs, index)


def _verify(datum_type: DatumType, raw: dict[str, Any], ptr: str, index: int, fast: list[Datum]) -> None:
    scratch = Errors()
    slow = _three_steps(datum_type, raw, ptr, scratch, index)
    if scratch:
        raise AssertionError(f"fast path accepted an invalid datum {raw!r}: {scratch.items}")

    def comparable(datums: list[Datum]) -> list[tuple[Any, ...]]:
        # ids the server assigns are random (and embedded datums are referred to by them): name each
        # by its position; everything else must match, key order included
        names = {d.doc["id"]: f"<id {i}>" for i, d in enumerate(datums)}
        return [
            (
                list(d.doc),
                {k: names.get(v, v) if isinstance(v, str) else v for k, v in d.doc.items()},
                d.time,
                d.type,
                d.sub_type,
            )
            for d in datums
        ]

    if comparable(fast) != comparable(slow):
        raise AssertionError(
            f"fast path normalized {raw!r} differently: {comparable(fast)} != {comparable(slow)}"
        )


def _three_steps(
    datum_type: DatumType, raw: dict[str, Any], ptr: str, errs: Errors, index: int
) -> list[Datum]:
    before = len(errs)
    values = datum_type.parse(raw, ptr, errs)
    ctx = datum_type.context(values)
    datum_type.validate(values, ptr, errs, ctx)
    if len(errs) != before:
        return []
    doc = datum_type.normalize(values, ctx)
    time = values["time"].astimezone(UTC)
    out = [_finish(datum_type, doc, time, index)]
    for extra in ctx.extras:
        extra.index = index
    out.extend(ctx.extras)
    return out


def parse_data(raw: Any) -> ParseResult:
    """A request body (a JSON array of datums) -> every datum normalized, or every error."""
    errs = Errors()
    if raw.__class__ is not list:
        errs.add("", e.type_not("array", raw))
        return ParseResult([], errs.items)
    datums: list[Datum] = []
    for index, item in enumerate(raw):
        datums.extend(parse_datum(item, f"/{index}", errs, index))
    if errs:
        return ParseResult([], errs.items)
    return ParseResult(datums, [])


class EmbeddedDatum(Field):
    """A field that holds either a datum id or a whole datum of ``type_name`` (wizard.bolus).

    An embedded datum inherits its parent's time and device fields when it lacks them, becomes its own
    datum at normalization, and the field then holds its id.
    """

    kind = "object"
    __slots__ = ("type_name",)
    INHERITED = (
        "time",
        "deviceTime",
        "deviceId",
        "timezone",
        "timezoneOffset",
        "conversionOffset",
        "clockDriftOffset",
    )

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def parse(self, raw: Any, ptr: str, errs: Errors) -> Any:
        if raw.__class__ is str:
            return raw
        if raw.__class__ is not dict:
            errs.add(ptr, e.type_not(self.kind, raw))
            return MISSING
        embedded = dict(raw)
        embedded.setdefault("type", self.type_name)
        if embedded["type"] != self.type_name:
            errs.add(f"{ptr}/type", e.not_one_of(embedded["type"], [self.type_name]))
            return MISSING
        return _Embedded(embedded, ptr)

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if isinstance(value, str):
            if not identity.is_valid_id(value):
                errs.add(ptr, e.not_valid(f"value {e.quote(value)} is not valid as data id"))
            return
        assert isinstance(value, _Embedded)
        parent = ctx.parent or {}
        merged = dict(value.raw)
        for key in self.INHERITED:
            if key not in merged and key in value.parent_raw_keys(parent):
                merged[key] = value.parent_value(parent, key)
        value.datums = parse_datum(merged, ptr, errs)

    def normalize(self, value: Any, ctx: Context) -> Any:
        if isinstance(value, str):
            return value
        assert isinstance(value, _Embedded)
        ctx.extras.extend(value.datums)
        return value.datums[0].doc["id"] if value.datums else None


class _Embedded:
    __slots__ = ("datums", "ptr", "raw")

    def __init__(self, raw: dict[str, Any], ptr: str) -> None:
        self.raw = raw
        self.ptr = ptr
        self.datums: list[Datum] = []

    @staticmethod
    def parent_raw_keys(parent: dict[str, Any]) -> set[str]:
        return {k for k, v in parent.items() if v is not MISSING}

    @staticmethod
    def parent_value(parent: dict[str, Any], key: str) -> Any:
        value = parent[key]
        if isinstance(value, datetime):
            from inlet.model.timeutil import format_rfc3339_nano

            return format_rfc3339_nano(value)
        return value

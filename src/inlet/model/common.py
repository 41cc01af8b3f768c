"""The common fields every datum may carry, and the storage-only fields no client may send."""

from __future__ import annotations

from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

from inlet.model import errors as e
from inlet.model import identity, timeutil
from inlet.model.errors import Errors
from inlet.model.fields import (
    MISSING,
    AnyObject,
    Arr,
    Context,
    DeviceTime,
    Exactly,
    Field,
    Float,
    Int,
    NonEmptyArr,
    Obj,
    OneOf,
    Str,
    Time,
    TimeZoneName,
    measured,
)

STORAGE_ONLY = frozenset(
    {
        "_id",
        "_active",
        "_groupId",
        "_schemaVersion",
        "_version",
        "_userId",
        "_archived",
        "createdTime",
        "createdUserId",
        "modifiedTime",
        "modifiedUserId",
        "archivedTime",
        "archivedDatasetId",
        "deletedTime",
        "deletedUserId",
        "_deduplicator",
        "revision",
        "provenance",
    }
)
"""Set by the server only. A client that sends one gets a ``not-parsed`` error at its pointer."""

NOTES_MAX, NOTE_LENGTH_MAX = 100, 1000
TAGS_MAX, TAG_LENGTH_MAX = 100, 100
ANNOTATIONS_MAX = 100
ORIGIN_TEXT_MAX = 100
ORIGIN_TYPES = ("device", "manual", "service")
ASSOCIATION_TYPES = ("blob", "datum", "image", "url")


class DatumId(Str):
    """A datum id: 32 of ``[0-9a-z]`` (random hex from the platform, base32hex from jellyfish)."""

    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if not identity.is_valid_id(value):
            errs.add(ptr, e.not_valid(f"value {e.quote(value)} is not valid as data id"))


class Guid(Str):
    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if identity.GUID_PATTERN.fullmatch(value) is None:
            errs.add(ptr, e.not_valid(f"value {e.quote(value)} is not a valid UUID"))


ORIGIN = Obj(
    {
        "id": Str(ORIGIN_TEXT_MAX),
        "name": Str(ORIGIN_TEXT_MAX),
        "version": Str(ORIGIN_TEXT_MAX),
        "type": OneOf(*ORIGIN_TYPES),
        "time": Time(),
        "payload": AnyObject(),
    }
)


def _is_url(value: str) -> bool:
    """The platform's ``net.ValidateURL``: absolute, with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.netloc) and parts.hostname is not None


def _association_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """common/association/association.go: a ``datum`` association names a datum by ``id`` (a valid
    data id) and has no ``url``; a ``url`` association has a ``url`` (absolute, with a host) and no
    ``id``. The stored platform knows only these two types; ``blob`` and ``image`` get no rule here."""
    kind = values.get("type", MISSING)
    if kind == "datum":
        ident = values.get("id", MISSING)
        if "id" not in values:
            errs.add(f"{ptr}/id", e.not_exists())
        elif ident.__class__ is str and ident and not identity.is_valid_id(ident):
            errs.add(f"{ptr}/id", e.not_valid(f"value {e.quote(ident)} is not valid as data id"))
        if values.get("url", MISSING) is not MISSING:
            errs.add(f"{ptr}/url", e.exists())
    elif kind == "url":
        if values.get("id", MISSING) is not MISSING:
            errs.add(f"{ptr}/id", e.exists())
        url = values.get("url", MISSING)
        if "url" not in values:
            errs.add(f"{ptr}/url", e.not_exists())
        elif url.__class__ is str and url and not _is_url(url):
            errs.add(f"{ptr}/url", e.not_valid(f"value {e.quote(url)} is not valid as url"))


ASSOCIATION = Obj(
    {
        "type": OneOf(*ASSOCIATION_TYPES),
        "id": Str(),
        "url": Str(2047),
        "reason": Str(1000),
    },
    required=("type",),
    rules=(_association_rule,),
)


def _location_rule(values: dict[str, Any], ptr: str, errs: Errors, ctx: Context) -> None:
    """common/location/location.go: a location without a name needs ``gps`` (``value-not-exists``)."""
    if "gps" not in values and values.get("name", MISSING) is MISSING:
        errs.add(f"{ptr}/gps", e.not_exists())


def _feet(meters: str) -> float:
    """``meters / 0.3048`` as Go computes a constant expression: exactly, then rounded once."""
    return float(Fraction(meters) / Fraction("0.3048"))


def _degrees(lo: float, hi: float) -> Obj:
    """location/latitude.go, longitude.go: ``{units: "degrees", value}``, both required."""
    return Obj({"units": Exactly("degrees"), "value": Float(lo, hi)}, required=("units", "value"))


def _distance(meters_max: str) -> Obj:
    """location/elevation.go, accuracy.go: ``{units, value}`` in feet or meters, from 0."""
    return measured({"feet": (0.0, _feet(meters_max)), "meters": (0.0, float(meters_max))})


GPS = Obj(
    {
        "elevation": _distance("10000"),
        "floor": Int(-1000, 1000),
        "horizontalAccuracy": _distance("1000"),
        "latitude": _degrees(-90.0, 90.0),
        "longitude": _degrees(-180.0, 180.0),
        "origin": ORIGIN,
        "verticalAccuracy": _distance("1000"),
    },
    required=("latitude", "longitude"),
)
"""location/gps.go: latitude and longitude required; the rest optional."""

LOCATION = Obj(
    {
        "gps": GPS,
        "name": Str(100),
    },
    rules=(_location_rule,),
)

COMMON_FIELDS: dict[str, Field] = {
    "type": Str(),
    "id": DatumId(),
    "time": Time(),
    "deviceTime": DeviceTime(),
    "timezone": TimeZoneName(),
    "timezoneOffset": Int(timeutil.TIMEZONE_OFFSET_MIN, timeutil.TIMEZONE_OFFSET_MAX),
    "clockDriftOffset": Int(timeutil.CLOCK_DRIFT_OFFSET_MIN, timeutil.CLOCK_DRIFT_OFFSET_MAX),
    "conversionOffset": Int(),
    "deviceId": Str(),
    "uploadId": Str(),
    "guid": Guid(),
    "annotations": NonEmptyArr(AnyObject(), ANNOTATIONS_MAX),
    "notes": Arr(Str(NOTE_LENGTH_MAX), NOTES_MAX),
    "tags": NonEmptyArr(Str(TAG_LENGTH_MAX), TAGS_MAX, unique=True),
    "origin": ORIGIN,
    "payload": AnyObject(),
    "source": Exactly("carelink"),  # the platform's only source value (Carelink imports)
    "associations": NonEmptyArr(ASSOCIATION, 100),
    "location": LOCATION,
}
COMMON_REQUIRED = ("type", "time")

"""The common fields every datum may carry, and the storage-only fields no client may send."""

from __future__ import annotations

from typing import Any

from inlet.model import errors as e
from inlet.model import identity, timeutil
from inlet.model.errors import Errors
from inlet.model.fields import (
    AnyObject,
    Arr,
    Context,
    DeviceTime,
    Field,
    Int,
    Obj,
    OneOf,
    Str,
    Time,
    TimeZoneName,
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

ASSOCIATION = Obj(
    {
        "type": OneOf(*ASSOCIATION_TYPES),
        "id": Str(),
        "url": Str(2047),
        "reason": Str(1000),
    },
    required=("type",),
)

LOCATION = Obj(
    {
        "gps": AnyObject(),
        "name": Str(100),
    }
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
    "annotations": Arr(AnyObject(), ANNOTATIONS_MAX),
    "notes": Arr(Str(NOTE_LENGTH_MAX), NOTES_MAX),
    "tags": Arr(Str(TAG_LENGTH_MAX), TAGS_MAX, unique=True),
    "origin": ORIGIN,
    "payload": AnyObject(),
    "associations": Arr(ASSOCIATION, 100),
    "location": LOCATION,
}
COMMON_REQUIRED = ("type", "time")

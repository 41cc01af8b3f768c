"""The data set (``upload``) record a client creates before adding data (platform data/types/upload).

Unknown top-level fields are ``not-parsed`` errors, as in Tidepool. The server sets ``id``,
``uploadId``, ``createdUserId``, ``state`` and the times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inlet.model import errors as e
from inlet.model import timeutil
from inlet.model.common import COMMON_FIELDS, STORAGE_ONLY
from inlet.model.errors import Errors, ModelError
from inlet.model.fields import (
    MISSING,
    AnyObject,
    Arr,
    Bool,
    Context,
    Field,
    Int,
    Obj,
    OneOf,
    Str,
    Time,
    normalize_fields,
    parse_fields,
    validate_fields,
)

DATA_SET_TYPES = ("continuous", "normal")
DEVICE_TAGS = ("bgm", "cgm", "insulin-pump", "activity-monitor")
TIME_PROCESSINGS = ("across-the-board-timezone", "utc-bootstrapping", "none")
STATES = ("open", "closed")
VERSION_LENGTH_MIN = 5

DEDUPLICATOR_NAMES = (
    "org.tidepool.deduplicator.device.deactivate.hash",
    "org.tidepool.deduplicator.device.truncate.dataset",
    "org.tidepool.deduplicator.dataset.delete.origin",
    "org.tidepool.deduplicator.dataset.delete.origin.older",
    "org.tidepool.deduplicator.dataset.drop.hash",
    "org.tidepool.deduplicator.none",
)
DEDUPLICATOR_ALIASES = {
    "org.tidepool.continuous.origin": "org.tidepool.deduplicator.dataset.delete.origin",
    "org.tidepool.hash-deactivate-old": "org.tidepool.deduplicator.device.deactivate.hash",
    "org.tidepool.truncate": "org.tidepool.deduplicator.device.truncate.dataset",
    "org.tidepool.continuous": "org.tidepool.deduplicator.none",
}


def canonical_deduplicator(name: str) -> str:
    return DEDUPLICATOR_ALIASES.get(name, name)


class _DeduplicatorName(Str):
    __slots__ = ()

    def validate(self, value: Any, ptr: str, errs: Errors, ctx: Context) -> None:
        if value not in DEDUPLICATOR_NAMES and value not in DEDUPLICATOR_ALIASES:
            errs.add(ptr, e.not_one_of(value, [*DEDUPLICATOR_NAMES, *DEDUPLICATOR_ALIASES]))


_DATA_SET_FIELDS: dict[str, Field] = {
    **{k: v for k, v in COMMON_FIELDS.items() if k not in ("id", "uploadId")},
    "type": OneOf("upload"),
    "time": Time(),
    "timezoneOffset": Int(timeutil.DATA_SET_TIMEZONE_OFFSET_MIN, timeutil.DATA_SET_TIMEZONE_OFFSET_MAX),
    "byUser": Str(),
    "client": Obj({"name": Str(100), "version": Str(100), "private": AnyObject()}),
    "computerTime": Str(),
    "dataSetType": OneOf(*DATA_SET_TYPES),
    "dataState": OneOf(*STATES),
    "state": OneOf(*STATES),
    "deduplicator": Obj({"name": _DeduplicatorName(), "version": Str(32)}),
    "deviceManufacturers": Arr(Str(100), 10, unique=True),
    "deviceModel": Str(100),
    "deviceSerialNumber": Str(100),
    "deviceTags": Arr(OneOf(*DEVICE_TAGS), 10, unique=True),
    "timeProcessing": OneOf(*TIME_PROCESSINGS),
    "version": Str(min_len=VERSION_LENGTH_MIN, max_len=100),
    "archived": Bool(),
}


@dataclass(slots=True)
class DataSetInput:
    """A validated, normalized data set body (what the client may set)."""

    doc: dict[str, Any]

    @property
    def data_set_type(self) -> str:
        return str(self.doc.get("dataSetType", "normal"))

    @property
    def deduplicator_name(self) -> str | None:
        dedup = self.doc.get("deduplicator")
        name = dedup.get("name") if isinstance(dedup, dict) else None
        return canonical_deduplicator(name) if name else None


def parse_data_set(raw: Any) -> tuple[DataSetInput | None, list[ModelError]]:
    """Parse, validate and normalize a data set create body."""
    errs = Errors()
    if raw.__class__ is not dict:
        errs.add("", e.type_not("object", raw))
        return None, errs.items
    values = parse_fields(_DATA_SET_FIELDS, raw, "", errs, (), STORAGE_ONLY | {"id", "uploadId"})
    ctx = Context(parent=values)
    validate_fields(_DATA_SET_FIELDS, values, "", errs, ctx)
    if errs:
        return None, errs.items
    doc = normalize_fields(_DATA_SET_FIELDS, {k: v for k, v in values.items() if v is not MISSING}, ctx)
    doc.pop("state", None)
    doc.pop("dataState", None)
    return DataSetInput(doc), []

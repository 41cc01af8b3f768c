"""Turning normalized datums into storage rows: the hot path of every ingest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from inlet.model.identity import IdentityError, datum_identity_hash
from inlet.model.parse import Datum
from inlet.model.timeutil import parse_rfc3339, to_micros

Row = list[Any]
"""A mutable row in :data:`inlet.db.schema.DEVICE_DATA_INSERT_COLUMNS` order."""

# Positions in a row (see DEVICE_DATA_INSERT_COLUMNS).
ID, USER_ID, DATA_SET_ID, TYPE, SUB_TYPE, TIME, DEVICE_ID, ORIGIN_ID, ORIGIN_TIME, HASH = range(10)
ACTIVE, VERSION, CREATED_TIME, MODIFIED_TIME, ARCHIVED_TIME, ARCHIVED_DATA_SET_ID, DELETED_TIME, DOC = range(
    10, 18
)

Hasher = Callable[[Datum], str | None]


def identity_hasher(user_id: str, version: str) -> Hasher:
    """The identity hash of a datum, or None when an identity field is missing (such a datum is
    stored but never matched as a duplicate, rather than failing the whole request)."""

    def hasher(datum: Datum) -> str | None:
        try:
            return datum_identity_hash(user_id, datum.doc, datum.time, version)
        except IdentityError:
            return None

    return hasher


def origin_of(doc: dict[str, Any]) -> tuple[str | None, int | None]:
    origin = doc.get("origin")
    if not isinstance(origin, dict):
        return None, None
    origin_time = origin.get("time")
    parsed = parse_rfc3339(origin_time) if isinstance(origin_time, str) else None
    return origin.get("id"), (to_micros(parsed) if parsed else None)


def build_rows(
    user_id: str,
    data_set_id: str,
    datums: Sequence[Datum],
    *,
    active: bool,
    now: int,
    hasher: Hasher | None = None,
) -> list[Row]:
    """One row per datum, with ``uploadId`` set to the data set and the identity hash when asked."""
    rows: list[Row] = []
    append = rows.append
    for datum in datums:
        doc = datum.doc
        doc["uploadId"] = data_set_id
        origin_id, origin_time = origin_of(doc) if "origin" in doc else (None, None)
        append(
            [
                doc["id"],
                user_id,
                data_set_id,
                datum.type,
                datum.sub_type,
                to_micros(datum.time),
                doc.get("deviceId"),
                origin_id,
                origin_time,
                hasher(datum) if hasher is not None else None,
                active,
                0,
                now,
                None,
                None,
                None,
                None,
                doc,
            ]
        )
    return rows


def serialize_docs(rows: Sequence[Row]) -> None:
    """Each row's document as JSON text, in place (a row whose document is text already is kept)."""
    dumps = orjson.dumps
    for row in rows:
        if row[DOC].__class__ is not str:
            row[DOC] = dumps(row[DOC]).decode()


def serialize(rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """Rows ready for the driver: the document serialized to JSON text."""
    serialize_docs(rows)
    return [tuple(row) for row in rows]

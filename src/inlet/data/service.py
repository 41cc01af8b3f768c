"""The ingest pipeline: create a data set, add data, close, delete, delete by selectors.

Both data paths (uploads through the API, partner syncs) call these functions. Each takes the
caller's connection and never commits: the request or sync run is the transaction boundary, so a
request with any invalid datum stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, or_, select, update

from inlet.data import deduplicators
from inlet.data.deduplicators import AddOutcome
from inlet.data.errors import DataSetClosed, DataSetNotFound, ValidationFailed
from inlet.data.queries import CLOUD_CLIENT_NAME_PREFIXES
from inlet.data.records import CLOSED, NORMAL, OPEN, DataSet
from inlet.data.rows import Row
from inlet.db.schema import data_sets, device_data
from inlet.model import errors as e
from inlet.model.data_set import DataSetInput, parse_data_set
from inlet.model.errors import Errors
from inlet.model.identity import new_id
from inlet.model.parse import Datum, parse_data
from inlet.model.timeutil import format_utc, from_micros, now_utc, parse_rfc3339, to_micros
from inlet.summaries import store as summaries

Clock = Callable[[], datetime]


def read_columns(doc: dict[str, Any], created_time: int, client_name: str | None = None) -> dict[str, Any]:
    """The ``data_sets`` columns the read path selects upload records by (see migration 0011): the
    record's time (its ``time``, else its creation), its ``deviceModel`` and whether it is a cloud
    CGM set. ``client_name`` is given only when the record is created (it never changes)."""
    text = doc.get("time")
    parsed = parse_rfc3339(text) if isinstance(text, str) else None
    model = doc.get("deviceModel")
    out: dict[str, Any] = {
        "time": to_micros(parsed) if parsed is not None else created_time,
        "device_model": model if isinstance(model, str) else None,
    }
    if client_name is not None:
        out["cloud"] = client_name.startswith(CLOUD_CLIENT_NAME_PREFIXES)
    return out


@dataclass
class DataService:
    """The pipeline, with its clock injected so tests need not sleep."""

    clock: Clock = now_utc

    def now(self) -> int:
        return to_micros(self.clock())

    # ---- data sets -------------------------------------------------------------------------

    def create_data_set(
        self, conn: Connection, user_id: str, body: Any, created_user_id: str | None = None
    ) -> DataSet:
        parsed, errors = parse_data_set(body)
        if parsed is None:
            raise ValidationFailed(errors)
        return self.create_data_set_from(conn, user_id, parsed, created_user_id)

    def create_data_set_from(
        self,
        conn: Connection,
        user_id: str,
        parsed: DataSetInput,
        created_user_id: str | None = None,
        *,
        data_set_id: str | None = None,
    ) -> DataSet:
        """Store a new, open data set. ``data_set_id`` lets the importer derive ids deterministically
        (32 lowercase hex); the API always lets the server pick one."""
        now = self.now()
        doc = dict(parsed.doc)
        data_set_id = data_set_id or new_id()
        data_set_type = parsed.data_set_type
        name = deduplicators.select_name(
            named=parsed.deduplicator_name,
            data_set_type=data_set_type,
            device_id=doc.get("deviceId"),
            manufacturers=doc.get("deviceManufacturers") or (),
        )
        deduplicator = deduplicators.get(name)
        created = format_utc(from_micros(now))
        doc.update(
            {
                "id": data_set_id,
                "uploadId": data_set_id,
                "type": "upload",
                "dataSetType": data_set_type,
                "state": OPEN,
                "dataState": OPEN,
                "deduplicator": {"name": deduplicator.name, "version": deduplicator.version},
                "createdTime": created,
                "modifiedTime": created,
            }
        )
        doc.setdefault("time", created)
        if created_user_id:
            doc["createdUserId"] = created_user_id
            doc["byUser"] = created_user_id  # as the platform does: byUser is the creating user
        client = doc.get("client")
        client_name = client.get("name") if isinstance(client, dict) else None
        record = DataSet(
            id=data_set_id,
            user_id=user_id,
            created_user_id=created_user_id,
            data_set_type=data_set_type,
            state=OPEN,
            deduplicator_name=deduplicator.name,
            deduplicator_version=deduplicator.version,
            device_id=doc.get("deviceId"),
            created_time=now,
            modified_time=now,
            deleted_time=None,
            doc=doc,
        )
        conn.execute(
            data_sets.insert().values(
                id=record.id,
                user_id=user_id,
                created_user_id=created_user_id,
                data_set_type=data_set_type,
                state=OPEN,
                deduplicator_name=record.deduplicator_name,
                deduplicator_version=record.deduplicator_version,
                device_id=record.device_id,
                client_name=client_name,
                created_time=now,
                modified_time=now,
                doc=doc,
                **read_columns(doc, now, client_name if isinstance(client_name, str) else ""),
            )
        )
        return record

    def get_data_set(self, conn: Connection, data_set_id: str, *, include_deleted: bool = False) -> DataSet:
        query = select(data_sets).where(data_sets.c.id == data_set_id)
        if not include_deleted:
            query = query.where(data_sets.c.deleted_time.is_(None))
        row = conn.execute(query).first()
        if row is None:
            raise DataSetNotFound(data_set_id)
        return DataSet.from_row(row)

    def _touch(self, conn: Connection, data_set: DataSet, now: int, **values: Any) -> None:
        data_set.doc["modifiedTime"] = format_utc(from_micros(now))
        for key, value in values.items():
            if key == "state":
                data_set.doc["state"] = data_set.doc["dataState"] = value
                data_set.state = value
        conn.execute(
            update(data_sets)
            .where(data_sets.c.id == data_set.id)
            .values(modified_time=now, doc=data_set.doc, **values)
        )

    # ---- data --------------------------------------------------------------------------------

    def add_data(self, conn: Connection, data_set: DataSet, body: Any) -> AddOutcome:
        """Validate a whole request array, then store it through the set's deduplicator."""
        if not data_set.is_open:
            raise DataSetClosed(data_set.id)
        result = parse_data(body)
        if not result.ok:
            raise ValidationFailed(result.errors)
        return self.add_datums(conn, data_set, result.datums)

    def add_bodies(self, conn: Connection, data_set: DataSet, bodies: Iterable[bytes]) -> AddOutcome:
        """:meth:`add_data` for a sequence of request bodies (JSON text) into one data set, pipelined:
        a helper thread decodes, validates and turns the next body into rows while this one stores
        the previous one (sqlite3 and psycopg release the GIL while the database works). Every body
        is checked as :meth:`add_data` checks it; the first invalid one raises
        :class:`ValidationFailed` and, as the caller's transaction rolls back, nothing is stored."""
        if not data_set.is_open:
            raise DataSetClosed(data_set.id)
        deduplicator = deduplicators.get(data_set.deduplicator_name)
        now = self.now()

        def rows_of(body: bytes) -> list[Row]:
            result = parse_data(orjson.loads(body))
            if not result.ok:
                raise ValidationFailed(result.errors)
            return deduplicator.rows(data_set, result.datums, now)

        total = AddOutcome()

        def store(rows: list[Row]) -> None:
            outcome = deduplicator.store(conn, data_set, rows, now)
            total.stored += outcome.stored
            total.replaced += outcome.replaced
            total.dropped += outcome.dropped

        if conn.dialect.name == "sqlite":
            # sqlite3 binds every row's parameters holding the GIL, so a parse thread beside it slows
            # the insert more than it saves (measured: 5.2 s pipelined, 3.9 s in turn, for a year)
            for each in bodies:
                store(rows_of(each))
            return total
        items = iter(bodies)
        with ThreadPoolExecutor(1, thread_name_prefix="inlet-ingest") as pool:
            first = next(items, None)
            pending: Future[list[Row]] | None = pool.submit(rows_of, first) if first is not None else None
            while pending is not None:
                rows = pending.result()
                body = next(items, None)
                pending = pool.submit(rows_of, body) if body is not None else None
                store(rows)
        return total

    def add_datums(
        self,
        conn: Connection,
        data_set: DataSet,
        datums: Sequence[Datum],
        *,
        current: Mapping[str, Any] | None = None,
        stage: bool = True,
    ) -> AddOutcome:
        """Store datums through the set's deduplicator. ``current``: the caller's lookup of the set's
        current rows by origin id (``storage.current_by_origin``), shared with origin deduplicators
        instead of a second one. ``stage=False`` writes an open normal set's rows straight to
        device_data (for a caller that looks them up by id before it adds more)."""
        if not data_set.is_open:
            raise DataSetClosed(data_set.id)
        deduplicator = deduplicators.get(data_set.deduplicator_name)
        now = self.now()
        outcome = deduplicator.add(conn, data_set, datums, now, current, stage=stage)
        if not self.is_normal(data_set):  # continuous data is active at once: summaries go outdated
            earliest = summaries.earliest_by_type(((d.type, to_micros(d.time)) for d in datums), now)
            if outcome.replaced:  # a replacement may have moved a datum: its old time changed too
                d = device_data.c
                replaced = summaries.earliest_in(
                    conn,
                    and_(d.user_id == data_set.user_id, d.data_set_id == data_set.id, d.archived_time == now),
                    now,
                )
                for key, value in replaced.items():
                    earliest[key] = min(value, earliest.get(key, value))
            summaries.mark_outdated(conn, data_set.user_id, earliest, summaries.DATA_ADDED, now)
        return outcome

    def close(self, conn: Connection, data_set: DataSet) -> DataSet:
        """Close the set: its deduplicator runs and its data becomes visible. Idempotent."""
        if data_set.state == CLOSED:
            return data_set
        now = self.now()
        deduplicators.get(data_set.deduplicator_name).close(conn, data_set, now)
        self._touch(conn, data_set, now, state=CLOSED)
        self._mark_changed(conn, data_set, now, summaries.UPLOAD_COMPLETED)
        return data_set

    def _mark_changed(self, conn: Connection, data_set: DataSet, now: int, reason: str) -> None:
        """Mark the person's summaries outdated from the earliest glucose the set's data, or what
        its deduplicator archived, restored or tombstoned elsewhere at ``now``, holds."""
        d = device_data.c
        touched = or_(d.data_set_id == data_set.id, d.archived_data_set_id == data_set.id)
        if "truncate" in data_set.deduplicator_name:  # it tombstones the device's other sets' data
            touched = or_(touched, d.modified_time == now)
        # the user first: on PostgreSQL device_data is partitioned by user (one partition read)
        earliest = summaries.earliest_in(conn, and_(d.user_id == data_set.user_id, touched), now)
        summaries.mark_outdated(conn, data_set.user_id, earliest, reason, now)

    def reopen(self, conn: Connection, data_set: DataSet) -> DataSet:
        """Open a closed set again so more data can be added (the importer's resume path). Its data
        stays as it is; closing again reruns the deduplicator, which is idempotent."""
        if data_set.state != OPEN:
            self._touch(conn, data_set, self.now(), state=OPEN)
        return data_set

    def update_data_set(self, conn: Connection, data_set: DataSet, values: dict[str, Any]) -> DataSet:
        """Set the platform's updatable fields (``deviceId``, ``deviceModel``, ``deviceSerialNumber``,
        ``time``, ``timezone``, ``timezoneOffset``; already validated) on a data set's record."""
        if not values:
            return data_set
        data_set.doc.update(values)
        columns: dict[str, Any] = read_columns(data_set.doc, data_set.created_time)
        if "deviceId" in values:
            data_set.device_id = values["deviceId"]
            columns["device_id"] = values["deviceId"]
        self._touch(conn, data_set, self.now(), **columns)
        return data_set

    def delete_data_set(self, conn: Connection, data_set: DataSet) -> None:
        """Tombstone the set and its data, restoring what its deduplicator archived."""
        now = self.now()
        deduplicators.get(data_set.deduplicator_name).delete(conn, data_set, now)
        self._mark_changed(conn, data_set, now, summaries.DATA_DELETED)
        data_set.doc["deletedTime"] = format_utc(from_micros(now))
        conn.execute(
            update(data_sets)
            .where(data_sets.c.id == data_set.id)
            .values(deleted_time=now, modified_time=now, doc=data_set.doc)
        )
        data_set.deleted_time = now

    def delete_data(self, conn: Connection, data_set: DataSet, body: Any) -> int:
        """Tombstone the data set's data matched by selectors (Tidepool deletes it outright)."""
        conditions = parse_selectors(body)
        if not conditions:
            return 0
        d = device_data
        now = self.now()
        deduplicators.get(data_set.deduplicator_name).unstage(conn, data_set, now)
        selected = and_(
            d.c.user_id == data_set.user_id,
            d.c.data_set_id == data_set.id,
            d.c.deleted_time.is_(None),
            or_(*conditions),
        )
        earliest = summaries.earliest_in(conn, selected, now)
        result = conn.execute(
            update(d).where(selected).values(active=False, deleted_time=now, modified_time=now)
        )
        summaries.mark_outdated(conn, data_set.user_id, earliest, summaries.DATA_DELETED, now)
        return result.rowcount or 0

    def is_normal(self, data_set: DataSet) -> bool:
        return data_set.data_set_type == NORMAL


def nul_errors(body: Any, pointer: str = "") -> list[e.ModelError]:
    """A ``value-not-valid`` error at each string (or key) of ``body`` holding a NUL character: PostgreSQL
    text and JSONB cannot store one, so Inlet refuses it on every database alike."""
    errs = Errors()
    stack: list[tuple[str, Any]] = [(pointer, body)]
    while stack:
        ptr, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                errs.add(ptr, e.not_valid("value contains a NUL character"))
        elif isinstance(value, dict):
            for key, item in value.items():
                child = e.pointer_join(ptr, key)
                if "\x00" in key:
                    errs.add(child, e.not_valid("name contains a NUL character"))
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{ptr}/{index}", item) for index, item in enumerate(value))
    return sorted(errs.items, key=lambda item: item.pointer)


def parse_selectors(body: Any) -> list[Any]:
    """Selectors for deleting data: each exactly one of ``{id, time}``, ``{deduplicator: {hash}}``,
    ``{origin: {id, time}}`` (``time`` optional). Raises ValidationFailed with every error."""
    errs = Errors()
    d = device_data
    if body.__class__ is not list:
        errs.add("", e.type_not("array", body))
        raise ValidationFailed(errs.items)
    conditions: list[Any] = []
    for index, selector in enumerate(body):
        ptr = f"/{index}"
        if selector.__class__ is not dict:
            errs.add(ptr, e.type_not("object", selector))
            continue
        kinds = [k for k in ("id", "deduplicator", "origin") if k in selector]
        unknown = [k for k in selector if k not in ("id", "time", "deduplicator", "origin")]
        for key in unknown:
            errs.add(f"{ptr}/{key}", e.not_parsed())
        if len(kinds) != 1:
            errs.add(ptr, e.values_not_exist_for_one("id", "deduplicator", "origin"))
            continue
        kind = kinds[0]
        if kind == "id":
            value = selector["id"]
            if value.__class__ is not str or not value:
                errs.add(
                    f"{ptr}/id", e.type_not("string", value) if value.__class__ is not str else e.empty()
                )
                continue
            condition = d.c.id == value
            time = selector.get("time")
            if time is not None:
                parsed = parse_rfc3339(time) if isinstance(time, str) else None
                if parsed is None:
                    errs.add(f"{ptr}/time", e.time_not_valid(str(time), "2006-01-02T15:04:05Z07:00"))
                    continue
                condition = and_(condition, d.c.time == to_micros(parsed))
            conditions.append(condition)
        elif kind == "deduplicator":
            dedup = selector["deduplicator"]
            value = dedup.get("hash") if isinstance(dedup, dict) else None
            if not isinstance(value, str) or not value:
                errs.add(f"{ptr}/deduplicator/hash", e.not_exists())
                continue
            conditions.append(d.c.dedup_hash == value)
        else:
            origin = selector["origin"]
            value = origin.get("id") if isinstance(origin, dict) else None
            if not isinstance(value, str) or not value:
                errs.add(f"{ptr}/origin/id", e.not_exists())
                continue
            conditions.append(d.c.origin_id == value)
    if errs:
        raise ValidationFailed(errs.items)
    return conditions

"""Queries and updates over device data used by the pipeline and the deduplicators.

"Current" rows are the latest version of each datum: neither superseded (``archived_time``) nor
tombstoned (``deleted_time``). "Active" rows are the ones the read API serves. A normal data set's
current rows stay inactive until it is closed; while it is open they wait in ``device_data_staged``
when its deduplicator stages them (:func:`unstage` moves them).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, select, text, update

from inlet.data.rows import Row, serialize
from inlet.db.bulk import insert_rows
from inlet.db.schema import DEVICE_DATA_INSERT_COLUMNS, data_sets, device_data, device_data_staged

d = device_data
CURRENT = and_(d.c.archived_time.is_(None), d.c.deleted_time.is_(None))
_CHUNK = 500


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def insert(conn: Connection, rows: Sequence[Row], *, staged: bool = False) -> int:
    """Store rows in device_data, or (``staged``) in device_data_staged until their set closes."""
    table = "device_data_staged" if staged else "device_data"
    insert_rows(conn, table, DEVICE_DATA_INSERT_COLUMNS, serialize(rows))
    return len(rows)


_COLUMNS = ", ".join(DEVICE_DATA_INSERT_COLUMNS)
_SET = "user_id = :user_id AND data_set_id = :data_set_id"


def _unstage_sql(dialect: str, activate: bool) -> str:
    """The move of one set's staged rows in the order they were stored (the index's order: no sort
    of whole rows); closing (``activate``) writes them active."""
    changed = {"active": "true", "modified_time": ":now"} if activate else {}
    if dialect == "postgresql":
        changed["doc"] = "CAST(doc AS jsonb)"
    selected = ", ".join(changed.get(c, c) for c in DEVICE_DATA_INSERT_COLUMNS)
    return (
        f"INSERT INTO device_data ({_COLUMNS}) SELECT {selected} FROM device_data_staged "
        f"WHERE {_SET} ORDER BY pk"
    )


# whether one identity hash was staged twice in the set (a retried batch): rare, found by one
# aggregate over the set's hashes (a join would be planned on the staging table's empty statistics)
_COPIES = text(
    f"SELECT 1 FROM device_data_staged WHERE {_SET} AND dedup_hash IS NOT NULL "
    "GROUP BY dedup_hash HAVING count(*) > 1 LIMIT 1"
)


def unstage(conn: Connection, user_id: str, data_set_id: str, now: int, *, activate: bool) -> bool:
    """Move a data set's staged rows into device_data, in the order they were stored; closing
    (``activate``) writes them active. Returns whether that placed the set's data as closing must
    leave it: False when device_data held some of its rows already (a set reopened, or open at the
    upgrade to staging) or one identity hash was staged twice; the caller then runs the in-place
    path (:func:`archive_duplicates_within`, :func:`activate_data_set`)."""
    params = {"user_id": user_id, "data_set_id": data_set_id, "now": now}
    held = conn.execute(
        select(exists().where(d.c.user_id == user_id, d.c.data_set_id == data_set_id))
    ).scalar()
    copies = activate and conn.execute(_COPIES, params).first() is not None
    conn.execute(text(_unstage_sql(conn.dialect.name, activate)), params)
    s = device_data_staged.c
    conn.execute(device_data_staged.delete().where(s.user_id == user_id, s.data_set_id == data_set_id))
    return not (held or copies)


def current_by_origin(
    conn: Connection, user_id: str, data_set_id: str, origin_ids: Sequence[str], *, doc: bool = False
) -> dict[str, Any]:
    """The current row of each origin id in the data set: {origin_id: row(pk, id, version, ...)};
    with ``doc`` the row carries the stored document too, so a partner sync can drop the records it
    fetched again unchanged and hand the same rows to the deduplicator (one lookup, not two)."""
    found: dict[str, Any] = {}
    query = _by_origin_query(doc)
    for chunk in _chunks(list(dict.fromkeys(origin_ids))):
        parameters = {"user_id": user_id, "data_set_id": data_set_id, "origin_ids": chunk}
        for row in conn.execute(query, parameters):
            found[row.origin_id] = row
    return found


@functools.cache
def _by_origin_query(doc: bool) -> Any:
    """:func:`current_by_origin`'s query, built once (a partner sync sends it with every batch)."""
    columns = [d.c.pk, d.c.id, d.c.version, d.c.origin_id, d.c.origin_time, d.c.type]
    if doc:
        columns.append(d.c.doc)
    return select(*columns).where(
        d.c.user_id == bindparam("user_id"),
        d.c.data_set_id == bindparam("data_set_id"),
        d.c.origin_id.in_(bindparam("origin_ids", expanding=True)),
        CURRENT,
    )


def existing_hashes(conn: Connection, user_id: str, data_set_id: str, hashes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(hashes))):
        query = select(d.c.dedup_hash).where(
            d.c.user_id == user_id, d.c.dedup_hash.in_(chunk), d.c.data_set_id == data_set_id, CURRENT
        )
        found.update(conn.execute(query).scalars())
    return found


def supersede(conn: Connection, user_id: str, pks: Sequence[int], now: int) -> None:
    """Mark rows as replaced by a newer version (kept for audit, never served)."""
    for chunk in _chunks(list(pks)):
        conn.execute(
            update(d)
            .where(d.c.user_id == user_id, d.c.pk.in_(chunk))
            .values(active=False, archived_time=now, modified_time=now)
        )


def activate_data_set(conn: Connection, user_id: str, data_set_id: str, now: int) -> None:
    conn.execute(
        update(d)
        .where(d.c.user_id == user_id, d.c.data_set_id == data_set_id, CURRENT, d.c.active.is_(False))
        .values(active=True, modified_time=now)
    )


def archive_duplicates_within(conn: Connection, user_id: str, data_set_id: str, now: int) -> None:
    """Within one data set, keep only the last stored copy of each identity hash current (a client
    that retried a batch must not double the data)."""
    mine = (d.c.user_id == user_id, d.c.data_set_id == data_set_id, d.c.dedup_hash.is_not(None), CURRENT)
    keep = select(func.max(d.c.pk)).where(*mine).group_by(d.c.dedup_hash)
    conn.execute(
        update(d)
        .where(*mine, d.c.pk.not_in(keep))
        .values(active=False, archived_time=now, archived_data_set_id=data_set_id, modified_time=now)
    )


def other_data_sets_of_device(conn: Connection, user_id: str, device_id: str, data_set_id: str) -> bool:
    """Whether the user has another live data set of this device (a cheap look at data_sets)."""
    query = (
        select(data_sets.c.id)
        .where(
            data_sets.c.user_id == user_id,
            data_sets.c.device_id == device_id,
            data_sets.c.id != data_set_id,
            data_sets.c.deleted_time.is_(None),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def archive_device_data_with_hashes_of(
    conn: Connection, user_id: str, device_id: str, data_set_id: str, now: int
) -> int:
    """device.deactivate.hash at close: the user's other active data of the same device with a hash
    in this set."""
    hashes = select(d.c.dedup_hash).where(
        d.c.user_id == user_id, d.c.data_set_id == data_set_id, d.c.dedup_hash.is_not(None), CURRENT
    )
    result = conn.execute(
        update(d)
        .where(
            d.c.user_id == user_id,
            d.c.active.is_(True),
            d.c.device_id == device_id,
            d.c.data_set_id != data_set_id,
            d.c.dedup_hash.in_(hashes),
        )
        .values(active=False, archived_time=now, archived_data_set_id=data_set_id, modified_time=now)
    )
    return result.rowcount or 0


def unarchive_data_archived_by(conn: Connection, user_id: str, data_set_id: str, now: int) -> int:
    """Undo :func:`archive_device_data_with_hashes_of` when the archiving data set is deleted."""
    result = conn.execute(
        update(d)
        .where(
            d.c.user_id == user_id,
            d.c.archived_data_set_id == data_set_id,
            d.c.data_set_id != data_set_id,
            d.c.deleted_time.is_(None),
        )
        .values(active=True, archived_time=None, archived_data_set_id=None, modified_time=now)
    )
    return result.rowcount or 0


def tombstone_data_set_data(conn: Connection, user_id: str, data_set_id: str, now: int) -> int:
    result = conn.execute(
        update(d)
        .where(d.c.user_id == user_id, d.c.data_set_id == data_set_id, d.c.deleted_time.is_(None))
        .values(active=False, deleted_time=now, modified_time=now)
    )
    return result.rowcount or 0


def tombstone_device_data_elsewhere(
    conn: Connection, user_id: str, device_id: str, data_set_id: str, now: int
) -> list[str]:
    """device.truncate.dataset at close: tombstone this device's data in the user's other sets and
    return the ids of those sets."""
    sets = list(
        conn.execute(
            select(d.c.data_set_id)
            .where(
                d.c.user_id == user_id,
                d.c.device_id == device_id,
                d.c.data_set_id != data_set_id,
                d.c.deleted_time.is_(None),
            )
            .distinct()
        ).scalars()
    )
    conn.execute(
        update(d)
        .where(
            d.c.user_id == user_id,
            d.c.device_id == device_id,
            d.c.data_set_id != data_set_id,
            d.c.deleted_time.is_(None),
        )
        .values(active=False, deleted_time=now, modified_time=now)
    )
    return sets


def mark_data_sets_deleted(conn: Connection, data_set_ids: Sequence[str], now: int) -> None:
    for chunk in _chunks(list(data_set_ids)):
        conn.execute(
            update(data_sets)
            .where(data_sets.c.id.in_(chunk), data_sets.c.deleted_time.is_(None))
            .values(deleted_time=now, modified_time=now)
        )

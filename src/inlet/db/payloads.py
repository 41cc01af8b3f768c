"""``partner_payloads`` by day: on PostgreSQL the table is ``PARTITION BY RANGE (fetched_time)`` with
one partition per UTC day (``partner_payloads_YYYYMMDD``) and a default partition (migration 0013), so
retention drops whole days instead of deleting rows; SQLite keeps one table and deletes.

:func:`maintain` is what the sync worker runs now and then (one run in a hundred): it creates the
partitions of the next days, drops the days past retention and deletes what older rows remain (in
the default partition, or the day the cutoff falls in). A day whose rows already went to the default
partition (no worker ran before it began) keeps them there: they are deleted, not dropped. The DDL
runs under a savepoint with a short lock timeout, so a busy table only postpones it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, text
from sqlalchemy.exc import OperationalError

from inlet.db.schema import partner_payloads

DAY_US = 86_400_000_000
DAYS_AHEAD = 3
PREFIX = "partner_payloads_"


def day_start(micros: int) -> int:
    """Microseconds of the UTC midnight at or before ``micros``."""
    return micros - micros % DAY_US


def partition_name(day: int) -> str:
    """``partner_payloads_YYYYMMDD`` for the UTC day starting at ``day`` (microseconds)."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=day)
    return f"{PREFIX}{moment:%Y%m%d}"


def day_partitions(conn: Connection) -> dict[str, int]:
    """The day partitions that exist: name -> the day's start (microseconds)."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'partner_payloads'::regclass"
        )
    ).scalars()
    out = {}
    for name in rows:
        suffix = name.removeprefix(PREFIX)
        if len(suffix) == 8 and suffix.isdigit():
            moment = datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC)
            out[name] = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000
    return out


def create_day(conn: Connection, day: int) -> bool:
    """Create the partition of one UTC day unless it exists or the default partition already holds
    rows of that day (PostgreSQL refuses such a partition). Returns whether it was created."""
    name = partition_name(day)
    if conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar() is not None:
        return False
    taken = conn.execute(
        text(
            "SELECT 1 FROM partner_payloads_default WHERE fetched_time >= :lo AND fetched_time < :hi LIMIT 1"
        ),
        {"lo": day, "hi": day + DAY_US},
    ).first()
    if taken is not None:
        return False
    conn.exec_driver_sql(
        f"CREATE TABLE {name} PARTITION OF partner_payloads FOR VALUES FROM ({day}) TO ({day + DAY_US})"
    )
    return True


def purge_before(conn: Connection, cutoff: int) -> int:
    """Remove every payload fetched before ``cutoff``: whole day partitions dropped, the rest deleted.
    Returns the number of partitions dropped."""
    dropped = 0
    if conn.dialect.name == "postgresql":
        for name, day in sorted(day_partitions(conn).items(), key=lambda item: item[1]):
            if day + DAY_US <= cutoff:
                conn.exec_driver_sql(f"DROP TABLE {name}")
                dropped += 1
    conn.execute(delete(partner_payloads).where(partner_payloads.c.fetched_time < cutoff))
    return dropped


def maintain(conn: Connection, now: int, cutoff: int | None) -> None:
    """Partitions for today and the next :data:`DAYS_AHEAD` days, and retention before ``cutoff``
    (``None``: keep everything). On PostgreSQL the DDL waits at most 2 s for the table's lock."""
    if conn.dialect.name != "postgresql":
        if cutoff is not None:
            purge_before(conn, cutoff)
        return
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        for offset in range(DAYS_AHEAD + 1):
            create_day(conn, day_start(now) + offset * DAY_US)
        if cutoff is not None:
            purge_before(conn, cutoff)
        savepoint.commit()
    except OperationalError:
        savepoint.rollback()  # the table is busy: the next maintenance does it

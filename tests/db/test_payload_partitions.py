"""``partner_payloads`` by day: on PostgreSQL retention drops whole day partitions (the rows of the
day the cutoff falls in, and of the default partition, are deleted); SQLite deletes rows. Either way
exactly the payloads fetched before the cutoff go."""

from __future__ import annotations

from sqlalchemy import Engine, func, insert, select, text

from inlet.db import payloads
from inlet.db.schema import partner_payloads

DAY = payloads.DAY_US
NOW = 1_796_000_000_000_000  # 2026-12-01T... UTC


def _payload(fetched: int) -> dict[str, object]:
    return {
        "data_source_id": "s" * 32,
        "user_id": "u" * 10,
        "provider_name": "dexcom",
        "kind": "egvs",
        "fetched_time": fetched,
        "record_count": 1,
        "body": {"records": [1]},
    }


def _partitions(engine: Engine) -> set[str]:
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return set(payloads.day_partitions(conn))


def test_retention_drops_whole_days(engine: Engine) -> None:
    today = payloads.day_start(NOW)
    with engine.begin() as conn:
        for offset in range(-10, 1):
            payloads.maintain(conn, today + offset * DAY, None)  # the worker ran on each of those days
        times = [today + offset * DAY + 3_600_000_000 for offset in range(-10, 1)]
        times.append(today - 400 * DAY)  # a day no worker prepared: the default partition takes it
        conn.execute(insert(partner_payloads), [_payload(t) for t in times])
    before = _partitions(engine)
    if engine.dialect.name == "postgresql":
        assert payloads.partition_name(today - 10 * DAY) in before
        assert payloads.partition_name(today + 3 * DAY) in before  # made ahead of time
        with engine.connect() as conn:
            where = conn.execute(text("SELECT count(*) FROM partner_payloads_default")).scalar()
        assert where == 1
    cutoff = today - 5 * DAY + 1_800_000_000  # inside day -5, before its payload at 01:00
    with engine.begin() as conn:
        payloads.maintain(conn, NOW, cutoff)
    with engine.connect() as conn:
        kept = sorted(conn.execute(select(partner_payloads.c.fetched_time)).scalars())
        assert kept == [t for t in sorted(times) if t >= cutoff]
        assert conn.execute(select(func.count()).select_from(partner_payloads)).scalar() == 6
    if engine.dialect.name == "postgresql":
        gone = before - _partitions(engine)
        assert gone == {payloads.partition_name(today + offset * DAY) for offset in range(-10, -5)}


def test_a_day_already_in_the_default_partition_is_left_there(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    later = payloads.day_start(NOW) + 30 * DAY
    with engine.begin() as conn:
        conn.execute(insert(partner_payloads), [_payload(later + 5)])
        assert payloads.create_day(conn, later) is False  # PostgreSQL would refuse the partition
        payloads.maintain(conn, later, None)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(partner_payloads)).scalar() == 1

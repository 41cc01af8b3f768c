"""Task leases on SQLite and PostgreSQL: claim, fenced completion, renew, reclaim after expiry,
database time, and concurrent claimers that never get the same task. Time is injected (``now``)."""

from __future__ import annotations

import threading
import time as wall
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, update

from inlet.db.engine import create_db_engine
from inlet.db.schema import sync_tasks
from inlet.model.timeutil import to_micros
from inlet.sync import leases
from tests.sync.conftest import T0, US, seed_tasks, task

NOW = to_micros(T0)


def claim(
    engine: Engine, owner: str, now: int = NOW, limit: int = 10, lease_seconds: float = 60
) -> list[leases.Lease]:
    with engine.begin() as conn:
        return leases.claim_due(conn, owner, limit=limit, lease_seconds=lease_seconds, now=now)


def test_claim_takes_due_free_tasks_oldest_first(engine: Engine) -> None:
    late = seed_tasks(engine, 1, due=T0 - timedelta(minutes=1))
    due = seed_tasks(engine, 2)
    seed_tasks(engine, 1, due=T0 + timedelta(seconds=1))  # not yet due
    claimed = claim(engine, "a", limit=10)
    assert next(lease.task_id for lease in claimed) == late[0]
    assert {lease.task_id for lease in claimed} == {late[0], *due}
    for lease in claimed:
        assert (lease.owner, lease.generation, lease.expires_time) == ("a", 1, NOW + 60 * US)
        row = task(engine, lease.task_id)
        assert (row.lease_owner, row.lease_generation, row.last_run_time) == ("a", 1, NOW)
    assert claim(engine, "b") == []  # all leased


def test_claim_respects_the_limit(engine: Engine) -> None:
    seed_tasks(engine, 5)
    first = claim(engine, "a", limit=2)
    second = claim(engine, "b", limit=10)
    assert len(first) == 2
    assert len(second) == 3
    assert not {lease.task_id for lease in first} & {lease.task_id for lease in second}
    with engine.begin() as conn:
        assert leases.claim_due(conn, "c", limit=0, lease_seconds=60, now=NOW) == []


def test_completion_releases_and_schedules(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)
    (lease,) = claim(engine, "a")
    later = NOW + 3600 * US
    with engine.begin() as conn:
        assert leases.complete(
            conn, lease, next_run_time=later, outcome="failure", error={"code": "x"}, now=NOW
        )
    row = task(engine, task_id)
    assert (row.lease_owner, row.lease_expires_time, row.next_run_time) == (None, None, later)
    assert (row.failure_count, row.last_error, row.last_success_time) == (1, {"code": "x"}, None)
    assert claim(engine, "a") == []  # not due any more
    (lease,) = claim(engine, "a", now=later)
    assert lease.generation == 2
    assert lease.failure_count == 1
    with engine.begin() as conn:
        assert leases.complete(conn, lease, next_run_time=later + US, outcome="success", now=later)
    row = task(engine, task_id)
    assert (row.failure_count, row.last_error, row.last_success_time) == (0, None, later)
    (lease,) = claim(engine, "a", now=later + US)
    with engine.begin() as conn:
        assert leases.complete(conn, lease, next_run_time=later + 2 * US, outcome="skipped", now=later)
    row = task(engine, task_id)
    assert (row.failure_count, row.last_success_time, row.lease_owner) == (0, later, None)
    with engine.begin() as conn, pytest.raises(ValueError, match="unknown outcome"):
        leases.complete(conn, lease, next_run_time=later, outcome="done", now=later)


def test_an_expired_lease_is_reclaimed_and_the_stale_owner_is_fenced(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)
    (stale,) = claim(engine, "a", lease_seconds=60)
    assert claim(engine, "b", now=NOW + 59 * US) == []  # still held
    (fresh,) = claim(engine, "b", now=NOW + 60 * US)  # expired: reclaimed
    assert (fresh.owner, fresh.generation) == ("b", 2)
    with engine.begin() as conn:
        assert leases.renew(conn, stale, lease_seconds=60, now=NOW + 61 * US) is None
        assert not leases.complete(conn, stale, next_run_time=NOW, outcome="success", now=NOW + 61 * US)
    row = task(engine, task_id)
    assert (row.lease_owner, row.lease_generation, row.last_success_time) == ("b", 2, None)
    with engine.begin() as conn:
        assert leases.complete(
            conn, fresh, next_run_time=NOW + 3600 * US, outcome="success", now=NOW + 62 * US
        )
    assert task(engine, task_id).lease_owner is None


def test_the_same_owner_with_an_older_generation_is_fenced(engine: Engine) -> None:
    seed_tasks(engine, 1)
    (first,) = claim(engine, "a", lease_seconds=10)
    (second,) = claim(engine, "a", now=NOW + 10 * US)  # the same worker name reclaimed it (a restart)
    with engine.begin() as conn:
        assert not leases.complete(conn, first, next_run_time=NOW, outcome="success", now=NOW + 11 * US)
        assert leases.complete(conn, second, next_run_time=NOW, outcome="success", now=NOW + 11 * US)


def test_renew_extends_the_lease(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)
    (lease,) = claim(engine, "a", lease_seconds=60)
    with engine.begin() as conn:
        renewed = leases.renew(conn, lease, lease_seconds=60, now=NOW + 50 * US)
    assert renewed is not None
    assert renewed.expires_time == NOW + 110 * US
    assert task(engine, task_id).lease_expires_time == NOW + 110 * US
    assert claim(engine, "b", now=NOW + 100 * US) == []  # the renewal kept it
    # expired but not reclaimed: still ours, renewal revives it
    with engine.begin() as conn:
        assert leases.renew(conn, renewed, lease_seconds=60, now=NOW + 200 * US) is not None
    assert claim(engine, "b", now=NOW + 250 * US) == []


def test_a_deleted_task_cannot_be_completed(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)
    (lease,) = claim(engine, "a")
    with engine.begin() as conn:
        conn.execute(delete(sync_tasks).where(sync_tasks.c.id == task_id))  # disconnected mid-run
        assert leases.renew(conn, lease, lease_seconds=60, now=NOW) is None
        assert not leases.complete(conn, lease, next_run_time=NOW, outcome="success", now=NOW)


def test_lease_expiry_uses_database_time(engine: Engine) -> None:
    with engine.connect() as conn:
        now = leases.db_now(conn)
    assert abs(now - wall.time() * US) < 5 * US  # the database's clock, in microseconds
    (task_id,) = seed_tasks(engine, 1)  # due in 2026-01: long past by the database's clock
    with engine.begin() as conn:
        (lease,) = leases.claim_due(conn, "a", limit=1, lease_seconds=300)
    assert now - US <= lease.expires_time - 300 * US <= now + 5 * US
    with engine.begin() as conn:
        assert leases.claim_due(conn, "b", limit=1, lease_seconds=300) == []
        # the holder died: its lease ran out (moved into the past rather than waiting for it)
        conn.execute(update(sync_tasks).values(lease_expires_time=now - US))
    with engine.begin() as conn:
        (reclaimed,) = leases.claim_due(conn, "b", limit=1, lease_seconds=300)
    assert (reclaimed.task_id, reclaimed.owner, reclaimed.generation) == (task_id, "b", 2)
    with engine.begin() as conn:
        assert leases.oldest_due(conn) is None  # nothing due and free
        assert leases.count_tasks(conn, "dexcom") == 1
        assert leases.count_tasks(conn, "acme") == 0


def test_oldest_due_measures_the_queue(engine: Engine) -> None:
    seed_tasks(engine, 1, due=T0 - timedelta(minutes=5))
    seed_tasks(engine, 1)
    with engine.begin() as conn:
        assert leases.oldest_due(conn, now=NOW) == NOW - 300 * US


def test_concurrent_claimers_never_share_a_task(engine: Engine) -> None:
    ids = set(seed_tasks(engine, 60))
    claimed: list[list[str]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def claimer(index: int) -> None:
        try:
            while True:
                got = claim(engine, f"w{index}", limit=3)
                if not got:
                    return
                claimed[index].extend(lease.task_id for lease in got)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    every = [task_id for part in claimed for task_id in part]
    assert len(every) == len(set(every)) == 60
    assert set(every) == ids


@pytest.mark.postgres
def test_postgres_claimers_skip_rows_locked_by_an_open_claim(pg_url: str) -> None:
    """SKIP LOCKED is PostgreSQL's (SQLite serialises claims with BEGIN IMMEDIATE)."""
    engine = create_db_engine(pg_url)
    try:
        _claimers_skip_locked_rows(engine)
    finally:
        engine.dispose()


def _claimers_skip_locked_rows(engine: Engine) -> None:
    ids = set(seed_tasks(engine, 10))
    with engine.connect() as first_conn, engine.connect() as second_conn:
        first_tx = first_conn.begin()
        first = leases.claim_due(first_conn, "a", limit=4, lease_seconds=60, now=NOW)
        # the first claim has not committed: its rows are locked, the second skips them (no wait)
        second_tx = second_conn.begin()
        second_conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        second = leases.claim_due(second_conn, "b", limit=10, lease_seconds=60, now=NOW)
        second_tx.commit()
        first_tx.commit()
    assert len(first) == 4
    assert len(second) == 6
    assert {lease.task_id for lease in first} | {lease.task_id for lease in second} == ids
    assert not {lease.task_id for lease in first} & {lease.task_id for lease in second}

"""What a run costs the worker (issue 13), checked where it can regress silently: every statement a
run sends is one SQLAlchemy compiled once (a statement it cannot cache is compiled again on every run,
which cost more CPU than the database spent running it); the claim reads its runs' sources (a run
reads nothing of its own); the run completes in its own thread; and the partner payloads the source's
update inserts as its CTE arrive whole."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine.interfaces import CacheStats

from inlet.db.schema import data_sources, partner_payloads
from inlet.partners.states import PARKED
from inlet.sync.runner import MISSING
from tests.sync.harness import SyncEnv
from tests.sync.test_dexcom_faults import Counting, synced


@contextmanager
def statements(env: SyncEnv) -> Iterator[list[tuple[str, Any]]]:
    """(SQL, SQLAlchemy's cache verdict) of every statement sent while the block runs."""
    sent: list[tuple[str, Any]] = []
    engine = env.services.engine

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, executemany: bool) -> None:
        compiled = getattr(context, "compiled", None) is not None  # not driver SQL (a COPY, an executemany)
        sent.append((sql, context.cache_hit if compiled else None))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_every_statement_of_a_run_is_compiled_once(sync_env: SyncEnv) -> None:
    """Over three more hours of runs (new data, a token refresh on the way), no statement is one
    SQLAlchemy cannot cache, and none is compiled twice."""
    account = synced(sync_env)
    sent: list[tuple[str, Any]] = []
    for _ in range(3):
        sync_env.advance(timedelta(hours=1))
        sync_env.make_due()
        with statements(sync_env) as hour:
            stats = sync_env.run_once()
        assert stats.succeeded == 1, stats.summary()
        sent += hour
    assert sync_env.stored(account.user_id, "cbg")
    compiled = [(sql, verdict) for sql, verdict in sent if verdict is not None]
    assert compiled, sent
    refused = [
        sql.split("(")[0][:80]
        for sql, verdict in compiled
        if verdict in (CacheStats.NO_CACHE_KEY, CacheStats.CACHING_DISABLED)
    ]
    assert not refused, f"statements SQLAlchemy could not cache: {refused}"
    misses = Counter(sql for sql, verdict in compiled if verdict == CacheStats.CACHE_MISS)
    again = [sql[:80] for sql, count in misses.items() if count > 1]
    assert not again, f"statements compiled more than once: {again}"


def test_a_run_reads_its_source_with_the_claim(sync_env: SyncEnv) -> None:
    synced(sync_env)
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    with statements(sync_env) as sent:
        stats = sync_env.run_once()
    assert stats.succeeded == 1, stats.summary()
    reads = [
        sql for sql, _ in sent if sql.lstrip().upper().startswith("SELECT") and "provider_sessions" in sql
    ]
    assert len(reads) == 1, reads  # the claim's transaction read it; the run did not again


def test_a_source_gone_between_claim_and_run_is_parked(sync_env: SyncEnv) -> None:
    """The claim found no source for the task (it outlived its source): the run calls no partner
    and parks the task, as a run that found no source itself does."""
    account = synced(sync_env)
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    network = Counting()
    worker = sync_env.worker(transport=network)
    worker.prepare = lambda conn, leases: {lease.task_id: MISSING for lease in leases}
    try:
        stats = asyncio.run(worker.run_once())
    finally:
        worker.close()
    assert stats.skipped == 1, stats.summary()
    task = sync_env.task(account.user_id)
    assert task.last_error is None or task.last_error.get("code") != "internal"
    assert task.next_run_time == PARKED
    assert network.count == 0


def test_payloads_inserted_with_the_source_update_arrive_whole(sync_env: SyncEnv) -> None:
    account = synced(sync_env)
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    before = len(sync_env.payloads(account.user_id))
    assert sync_env.run_once().succeeded == 1
    rows = sync_env.payloads(account.user_id)[before:]
    assert rows, "a run with new data keeps its raw answers"
    source = sync_env.source(account.user_id)
    for row in rows:
        assert row.data_source_id == source.id
        assert row.user_id == account.user_id
        assert row.provider_name == "dexcom"
        assert row.kind
        assert isinstance(row.body, dict | list)
        assert row.record_count >= 0
        assert row.skipped is None  # nothing skipped: SQL NULL, not a JSON null
    with sync_env.services.engine.connect() as conn:
        kinds = {
            kind
            for (kind,) in conn.execute(
                select(partner_payloads.c.kind).where(partner_payloads.c.data_source_id == source.id)
            )
        }
        state = conn.execute(
            select(data_sources.c.sync_state).where(data_sources.c.id == source.id)
        ).scalar_one()
    assert "egvs" in kinds
    assert state["counters"]["runs"] == 2

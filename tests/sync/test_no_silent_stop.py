"""Issue 12: a sync never stops silently.

Four internal failures in a row, or no successful run for ``INLET_SYNC_STALL_HOURS``, put the source
in ``error`` with a plain reason, email the person once and show in ``inlet_sources_stalled``; an
internal failure backs off at most an hour."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from inlet.model.timeutil import to_micros
from inlet.notify import queued
from inlet.partners.fetch import Batch, FetchContext
from inlet.partners.states import PARKED
from inlet.sync import metrics
from inlet.sync.stall import mark_stalled
from tests.sync.harness import SyncEnv
from tests.sync.test_dexcom_faults import faults

US = 1_000_000


class Broken:
    """An adapter with a bug: every run raises something no failure class foresaw."""

    def fetch(self, ctx: FetchContext) -> Iterator[Batch]:
        raise KeyError("a bug")
        yield  # pragma: no cover  (a generator, as adapters are)


def _emails(env: SyncEnv) -> list[Any]:
    with env.services.engine.connect() as conn:
        emails = queued(conn, include_sent=True, cipher=env.services.notifier.cipher)
        return [e for e in emails if e.to.startswith("person")]


def _stalled_gauge(env: SyncEnv) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.DatabaseCollector(env.services.engine))  # fresh: the served one caches 15 s
    text = generate_latest(registry).decode()
    return "\n".join(line for line in text.splitlines() if line.startswith("inlet_sources_stalled{"))


def test_four_internal_failures_in_a_row_are_an_error_with_an_email(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    for run in range(1, 5):
        sync_env.make_due()
        worker = sync_env.worker()
        worker.run_task.adapter_for = lambda _partner: Broken()  # type: ignore[attr-defined]
        try:
            stats = asyncio.run(worker.run_once())
        finally:
            worker.close()
        assert stats.failed == 1, stats.summary()
        task = sync_env.task(account.user_id)
        source = sync_env.source(account.user_id)
        if run < 4:
            assert source.state == "connected"
            assert task.last_error["code"] == "internal"
            assert "KeyError" in task.last_error["detail"]
            # backed off, at most an hour
            delay = task.next_run_time - to_micros(sync_env.now)
            assert 0 < delay <= 3600 * US + 60 * US, delay / US
            assert not _emails(sync_env)
    assert source.state == "error"
    assert source.error["code"] == "internal"
    assert "4 run(s) in a row" in source.error["detail"]
    assert task.next_run_time == PARKED
    emails = _emails(sync_env)
    assert len(emails) == 1
    assert "Reconnect" in emails[0].body
    assert 'inlet_sources_stalled{partner="dexcom"} 1.0' in _stalled_gauge(sync_env)


def test_a_source_without_a_successful_run_for_a_day_goes_to_error_once(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    assert sync_env.run_once().succeeded == 1
    faults(sync_env, error_rate=1.0)
    for _ in range(3):
        sync_env.advance(timedelta(hours=6))
        sync_env.make_due()
        assert sync_env.run_once().failed == 1
    assert sync_env.source(account.user_id).state == "connected"
    # 23 hours after the last success: not yet
    success = sync_env.task(account.user_id).last_success_time
    assert mark_stalled(sync_env.services, now=success + 23 * 3600 * US) == 0
    assert sync_env.source(account.user_id).state == "connected"
    assert _stalled_gauge(sync_env) == ""
    # 25 hours: error, in plain words with the last failure, one email, the gauge
    assert mark_stalled(sync_env.services, now=success + 25 * 3600 * US) == 1
    source = sync_env.source(account.user_id)
    assert source.state == "error"
    assert source.error["code"] == "stalled"
    assert "no sync has succeeded for 24 hours" in source.error["detail"]
    assert "HTTP 503" in source.error["detail"]
    assert len(_emails(sync_env)) == 1
    assert 'inlet_sources_stalled{partner="dexcom"} 1.0' in _stalled_gauge(sync_env)
    # told once: a second check changes nothing
    assert mark_stalled(sync_env.services, now=success + 26 * 3600 * US) == 0
    assert len(_emails(sync_env)) == 1
    # the next run parks the task (nothing more is asked of the partner until a reconnect)
    sync_env.make_due()
    sync_env.run_once()
    assert sync_env.task(account.user_id).next_run_time == PARKED

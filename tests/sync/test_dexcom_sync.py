"""The Dexcom sync end to end: a person connects through OAuth, the worker fetches, and what is stored
equals what the simulated partner holds, record by record."""

from __future__ import annotations

from datetime import timedelta

from tests.sync.harness import SyncEnv, same_records


def test_the_first_sync_back_fills_everything(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    stats = sync_env.run_once()
    assert stats.succeeded == 1, stats.summary()
    same_records(sync_env.stored(account.user_id, "cbg"), sync_env.dexcom_expected("egv"))
    source = sync_env.source(account.user_id)
    assert source.state == "connected"
    assert source.last_import_time is not None
    assert source.data_set_id is not None


def test_an_incremental_run_fetches_only_new_data(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    sync_env.run_once()
    calls_before = sync_env.source(account.user_id).sync_state["counters"]["calls"]
    sync_env.make_due()
    stats = sync_env.run_once()
    assert stats.succeeded == 1
    counters = sync_env.source(account.user_id).sync_state["counters"]
    assert counters["calls"] - calls_before == 1, "nothing new must cost one dataRange call"
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    sync_env.run_once()
    same_records(sync_env.stored(account.user_id, "cbg"), sync_env.dexcom_expected("egv"))

"""Issue 12, defect 7: a token pair the partner issued is never discarded, even when the refresh lock
was lost while the request ran; a refresh over its overall deadline fails the run as transient but
its late pair is still stored."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import update

from inlet.db.schema import provider_sessions
from inlet.partners.fetch import Transient
from inlet.sync.tokens import TokenKeeper
from tests.sync.harness import SyncEnv
from tests.sync.test_dexcom_faults import faults


def _stale(env: SyncEnv) -> tuple[TokenKeeper, object, str]:
    account = env.connect()
    session_id = env.inlet.sessions(account.user_id)[0].id
    keeper = TokenKeeper(env.services.engine, env.services.partners, "worker-a")
    return keeper, keeper.load(session_id), session_id


def test_a_pair_received_after_the_lock_was_lost_is_stored(sync_env: SyncEnv) -> None:
    keeper, stale, session_id = _stale(sync_env)
    partner = sync_env.services.partners.registry.get("dexcom")
    faults(sync_env, latency_ms=800, targets=["token"])

    def steal() -> None:  # the lock expires and another worker takes it while the partner answers
        time.sleep(0.3)
        with sync_env.services.engine.begin() as conn:
            conn.execute(
                update(provider_sessions)
                .where(provider_sessions.c.id == session_id)
                .values(refresh_owner="worker-b", refresh_until=2**62)
            )

    thief = threading.Thread(target=steal)
    thief.start()
    fresh = keeper.refresh(partner, stale, lambda: 0)  # type: ignore[arg-type]
    thief.join()
    assert fresh.access != stale.access  # type: ignore[attr-defined]
    stored = keeper.load(session_id)
    assert stored.access == fresh.access
    assert stored.token["refresh_token"] == fresh.token["refresh_token"]


def test_a_refresh_over_its_deadline_is_transient_and_its_late_pair_kept(sync_env: SyncEnv) -> None:
    keeper, stale, session_id = _stale(sync_env)
    keeper.deadline_seconds = 0.3
    partner = sync_env.services.partners.registry.get("dexcom")
    faults(sync_env, latency_ms=1000, targets=["token"])
    started = time.monotonic()
    with pytest.raises(Transient, match="in time"):
        keeper.refresh(partner, stale, lambda: 0)  # type: ignore[arg-type]
    assert time.monotonic() - started < 0.9
    for _ in range(50):  # the request goes on; its pair arrives and is stored
        if keeper.load(session_id).access != stale.access:  # type: ignore[attr-defined]
            break
        time.sleep(0.1)
    stored = keeper.load(session_id)
    assert stored.access != stale.access  # type: ignore[attr-defined]
    # and it works: the next run uses it without another refresh
    sync_env.dexcom.simulator.faults.reset()
    assert sync_env.run_once().succeeded == 1

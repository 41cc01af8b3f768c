"""Issue 12: a sync that is interrupted, or meets a record it cannot store, loses nothing.

Defect 9: a first sync stopped after the readings were stored must not start the alerts stream from
the readings' watermark next time (every earlier alert would never be fetched)."""

from __future__ import annotations

from datetime import timedelta

import httpx2

from inlet.partners.dexcom.mapping import map_records as dexcom_map
from tests.sync.harness import DEXCOM_USER, SyncEnv, _normalized, same_records
from tests.sync.test_dexcom_faults import Counting


def _alerts_expected(env: SyncEnv) -> dict[str, dict[str, object]]:
    sim = env.dexcom.simulator
    now = env.now.timestamp()
    records = sim.alerts(DEXCOM_USER, (env.now - timedelta(days=400)).timestamp(), now, now)
    return _normalized(dexcom_map("alert", records).datums)


def test_an_interrupted_first_sync_fetches_every_alert_later(sync_env: SyncEnv) -> None:
    def alerts_down(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/alerts"):
            return httpx2.Response(503, json={"error": "unavailable"})
        return None

    account = sync_env.connect()
    first = sync_env.run_once(transport=Counting(alerts_down))
    assert first.failed == 1, first.summary()
    assert sync_env.stored(account.user_id, "cbg"), "the readings were stored before the failure"
    assert not sync_env.stored(account.user_id, "alert")
    expected = _alerts_expected(sync_env)
    assert len(expected) >= 3  # the account has alerts from its whole history
    # the partner heals a few hours later: the next run fetches every alert, the oldest too
    sync_env.advance(timedelta(hours=3))
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    same_records(sync_env.stored(account.user_id, "alert"), _alerts_expected(sync_env))

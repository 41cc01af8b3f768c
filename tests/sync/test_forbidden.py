"""Issue 12, defect 7: a 403 on one endpoint (a scope the grant lacks) is handled for that endpoint:
the other streams are fetched, and it never counts toward ``error``."""

from __future__ import annotations

import httpx2

from inlet.partners.lifecycle import SyncState
from tests.sync.harness import SyncEnv, same_records
from tests.sync.test_dexcom_faults import Counting


def test_a_403_on_one_endpoint_skips_only_that_stream(sync_env: SyncEnv) -> None:
    def no_alerts(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/alerts"):
            return httpx2.Response(403, json={"error": "insufficient_scope"})
        return None

    account = sync_env.connect()
    for _ in range(5):
        sync_env.make_due()
        stats = sync_env.run_once(transport=Counting(no_alerts))
        assert stats.succeeded == 1, stats.summary()
    source = sync_env.source(account.user_id)
    assert source.state == "connected"
    state = SyncState.load(source.sync_state)
    assert state.auth_failures == 0
    assert "alerts" not in state.streams
    same_records(sync_env.stored(account.user_id, "cbg"), sync_env.dexcom_expected("egv"))
    assert not sync_env.stored(account.user_id, "alert")

"""Issue 12: one owner of a data source's state.

Defect 3: a run that outlived a reconnect never marks the newer connection ``error``.
Defect 4: reconnecting to a different partner account fetches that account's whole history (the
stream watermarks of the old account are reset with everything else)."""

from __future__ import annotations

import httpx2

from inlet.partners.lifecycle import SYNC_STATE_VERSION, SyncState
from tests.partners.conftest import Browser
from tests.sync.harness import DEXCOM_USER, SyncEnv, same_records
from tests.sync.test_dexcom_faults import Counting


def test_a_run_that_outlived_a_reconnect_never_marks_the_new_connection_error(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    assert sync_env.run_once().succeeded == 1
    old_session = sync_env.source(account.user_id).provider_session_id
    sync_env.make_due()  # (the clocks stay: the person's Inlet session must not expire)
    reconnected: list[str] = []

    def reconnect_then_refuse(request: httpx2.Request) -> httpx2.Response | None:
        if "/v3/users/self/" in request.url.path and not reconnected:
            # the person reconnects while this run is between two partner calls
            page = Browser(sync_env.inlet.http).connect(sync_env.inlet, account, "dexcom", DEXCOM_USER)
            reconnected.append(page)
            return httpx2.Response(401, json={"error": "invalid_token"})
        return None

    stats = sync_env.run_once(transport=Counting(reconnect_then_refuse))
    assert reconnected
    assert reconnected[0].endswith("/authorized")
    # the old run's completion is refused (the reconnect took its lease); the new connection's
    # run may already have run in the same pass
    assert stats.lost == 1, stats.summary()
    source = sync_env.source(account.user_id)
    assert source.provider_session_id != old_session
    assert source.state == "connected", source.error
    assert source.error is None
    # the new connection's task is due (not parked) and its next run succeeds
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    assert sync_env.source(account.user_id).state == "connected"


def test_a_different_partner_account_is_fetched_from_its_start(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    assert sync_env.run_once().succeeded == 1
    before = sync_env.source(account.user_id)
    assert SyncState.load(before.sync_state).streams.get("egvs")
    page = Browser(sync_env.inlet.http).connect(sync_env.inlet, account, "dexcom", "SandboxUser2")
    assert page.endswith("/authorized")
    after = sync_env.source(account.user_id)
    assert after.provider_external_id != before.provider_external_id
    state = after.sync_state
    assert state["version"] == SYNC_STATE_VERSION
    assert state["streams"] == {}
    assert state["counters"] == {}
    assert after.data_set_id is None
    assert sync_env.run_once().succeeded == 1
    data_set = sync_env.source(account.user_id).data_set_id
    stored = {
        origin: doc
        for origin, doc in sync_env.stored(account.user_id, "cbg").items()
        if doc["uploadId"] == data_set
    }
    same_records(stored, sync_env.dexcom_expected("egv", username="SandboxUser2"))

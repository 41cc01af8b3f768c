"""Every partner fault meets its failure class and outcome: transient faults back off and keep the
source connected, 429 opens the partner's breaker, a revoked grant puts the source in ``error``, emails
the person and stops every call; any success resets the failure count; a long outage is caught up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from inlet.db.schema import partner_budgets
from inlet.notify import queued
from inlet.partners.states import PARKED
from inlet.simulator.faults import FaultUpdate
from tests.sync.harness import DEXCOM_USER, SyncEnv, same_records


class Counting(httpx2.BaseTransport):
    """The real network, counting requests (and optionally answering some itself)."""

    def __init__(self, answer: Any = None) -> None:
        self.inner = httpx2.HTTPTransport()
        self.count = 0
        self.answer = answer

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.count += 1
        if self.answer is not None:
            response = self.answer(request)
            if response is not None:
                return response
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def faults(env: SyncEnv, **update: Any) -> None:
    env.dexcom.simulator.faults.update(FaultUpdate(**update))


def synced(env: SyncEnv) -> Any:
    account = env.connect()
    stats = env.run_once()
    assert stats.succeeded == 1, stats.summary()
    return account


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        ({"error_rate": 1.0}, "HTTP 503"),
        ({"malformed_rate": 1.0}, "not valid JSON"),
        ({"truncated_rate": 1.0, "truncate_mode": "close"}, "failed"),
        ({"truncated_rate": 1.0, "truncate_mode": "short"}, "not valid JSON"),
        ({"timeout_rate": 1.0, "hang_seconds": 5.0}, "in time"),
    ],
)
def test_transient_faults_back_off_and_stay_connected(
    sync_env: SyncEnv, fault: dict[str, Any], detail: str
) -> None:
    account = synced(sync_env)
    faults(sync_env, **fault)
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    stats = sync_env.run_once(http_timeout=1.0)
    assert stats.failed == 1
    task = sync_env.task(account.user_id)
    assert task.failure_count == 1
    assert task.last_error["code"] == "partner-unavailable"
    assert detail in task.last_error["detail"]
    assert task.next_run_time > sync_env.services.partners.now() or task.next_run_time < PARKED
    source = sync_env.source(account.user_id)
    assert source.state == "connected"
    # the partner heals: the next run succeeds, resets the count and misses nothing
    sync_env.dexcom.simulator.faults.reset()
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    assert sync_env.task(account.user_id).failure_count == 0
    same_records(sync_env.stored(account.user_id, "cbg"), sync_env.dexcom_expected("egv"))


def test_backoff_grows_with_each_failure(sync_env: SyncEnv) -> None:
    account = synced(sync_env)
    faults(sync_env, error_rate=1.0)
    delays = []
    for _ in range(3):
        sync_env.make_due()
        sync_env.run_once()
        task = sync_env.task(account.user_id)
        delays.append(task.next_run_time - task.last_run_time)
    assert sync_env.task(account.user_id).failure_count == 3
    assert delays[0] < delays[2]


def test_a_429_opens_the_partner_breaker_for_everyone(sync_env: SyncEnv) -> None:
    first = synced(sync_env)
    second = synced(sync_env)
    faults(sync_env, burst_429=1, retry_after=600)
    sync_env.make_due()
    stats = sync_env.run_once(concurrency=1)
    assert stats.claimed == 2
    tasks = [sync_env.task(first.user_id), sync_env.task(second.user_id)]
    codes = sorted(t.last_error["code"] if t.last_error else "none" for t in tasks)
    # one met the 429; the other never called (the breaker was open): skipped, rescheduled after it
    assert codes == ["none", "rate-limited"]
    with sync_env.services.engine.connect() as conn:
        blocked = conn.execute(select(partner_budgets.c.blocked_until)).scalar_one()
    assert blocked is not None
    for task in tasks:
        assert task.next_run_time >= blocked - 1_000_000


def test_a_revoked_grant_is_an_error_with_an_email_and_no_more_calls(sync_env: SyncEnv) -> None:
    account = synced(sync_env)
    simulator = sync_env.dexcom.simulator
    store = simulator.oauth.store
    grants = store.select_grants(username=DEXCOM_USER)
    store.revoke([g.id for g in grants], simulator.now(), "test")
    store.expire_access_tokens(simulator.now())
    counting = Counting()
    sync_env.services.partners.transport = counting
    sync_env.make_due()
    stats = sync_env.run_once(transport=counting)
    assert stats.failed == 1
    source = sync_env.source(account.user_id)
    assert source.state == "error"
    assert source.error["code"] == "authorization-revoked"
    task = sync_env.task(account.user_id)
    assert task.next_run_time == PARKED
    with sync_env.services.engine.connect() as conn:
        emails = list(queued(conn, include_sent=True, cipher=sync_env.services.partners.vault))
    mine = [e for e in emails if e.to.startswith("person")]
    assert len(mine) == 1
    assert "Reconnect" in mine[0].body
    # nothing more is asked of the partner, however much time passes
    before = counting.count
    sync_env.advance(timedelta(days=2))
    assert sync_env.run_once(transport=counting).claimed == 0
    assert counting.count == before
    # the data source says why and what to do (as the API shows it)
    with sync_env.services.engine.connect() as conn:
        found = sync_env.services.partners.find_source(conn, account.user_id, "dexcom")
    public = found.public()
    assert public["state"] == "error"
    assert "nextRunTime" not in public


def test_a_401_refreshes_once_and_a_refused_fresh_token_errs_after_four_runs(sync_env: SyncEnv) -> None:
    account = synced(sync_env)

    def refuse(request: httpx2.Request) -> httpx2.Response | None:
        if "/v3/users/self/" in request.url.path:
            return httpx2.Response(401, json={"error": "invalid_token"})
        return None

    counting = Counting(refuse)
    sync_env.services.partners.transport = Counting()
    for run in range(1, 5):
        sync_env.make_due()
        sync_env.run_once(transport=counting)
        source = sync_env.source(account.user_id)
        if run < 4:
            assert source.state == "connected", run
            assert sync_env.task(account.user_id).last_error["code"] == "authentication"
    assert source.state == "error"
    assert source.error["code"] == "authentication"
    assert counting.count == 8  # each run: the call, one refresh (not counted here), the call again
    assert sync_env.task(account.user_id).next_run_time == PARKED


def test_an_expired_access_token_is_refreshed_and_the_new_pair_stored(sync_env: SyncEnv) -> None:
    account = synced(sync_env)
    sessions_before = sync_env.inlet.sessions(account.user_id)[0].token
    simulator = sync_env.dexcom.simulator
    simulator.oauth.store.expire_access_tokens(simulator.now())
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    assert sync_env.inlet.sessions(account.user_id)[0].token != sessions_before
    # the rotated refresh token works again later (the old one was never reused)
    simulator.oauth.store.expire_access_tokens(simulator.now())
    sync_env.advance(timedelta(hours=1))
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    assert sync_env.source(account.user_id).state == "connected"


def test_a_ten_day_outage_is_caught_up_in_full(sync_env: SyncEnv) -> None:
    account = synced(sync_env)
    faults(sync_env, error_rate=1.0)
    for _ in range(10):
        sync_env.advance(timedelta(days=1))
        sync_env.make_due()
        sync_env.run_once()
    sync_env.dexcom.simulator.faults.reset()
    simulator = sync_env.dexcom.simulator
    simulator.oauth.store.expire_access_tokens(simulator.now())
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1
    for kind, datum_type in (("egv", "cbg"), ("calibration", "deviceEvent")):
        same_records(sync_env.stored(account.user_id, datum_type), sync_env.dexcom_expected(kind))


def test_unknown_enums_never_stop_a_sync(sync_env: SyncEnv) -> None:
    faults(sync_env, unknown_enums=True)
    account = synced(sync_env)
    counters = sync_env.source(account.user_id).sync_state["counters"]
    assert counters["records"] > 1000
    payloads = sync_env.payloads(account.user_id)
    assert payloads, "raw payloads are kept"


def test_a_failing_token_endpoint_is_transient_and_keeps_the_grant(sync_env: SyncEnv) -> None:
    account = synced(sync_env)
    simulator = sync_env.dexcom.simulator
    simulator.oauth.store.expire_access_tokens(simulator.now())
    faults(sync_env, error_rate=1.0, targets=["token"])
    sync_env.make_due()
    assert sync_env.run_once().failed == 1
    task = sync_env.task(account.user_id)
    assert task.last_error["code"] == "partner-unavailable"
    assert "token endpoint" in task.last_error["detail"]
    assert sync_env.source(account.user_id).state == "connected"
    simulator.faults.reset()
    sync_env.make_due()
    assert sync_env.run_once().succeeded == 1  # the same refresh token still works: it was never spent
    assert sync_env.source(account.user_id).state == "connected"

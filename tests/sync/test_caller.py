"""The partner caller on its own, against the Dexcom simulator on loopback: the run's ``httpx.Auth``
flow (bearer, one refresh on a 401, the lease checked before each request) and the worker's
transport wrapper (the shared budget, the breaker a 429 opens for every worker)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from inlet.db.schema import partner_budgets, provider_sessions
from inlet.model.timeutil import to_micros
from inlet.partners.contract import Partner
from inlet.partners.fetch import AuthFailed, BudgetExhausted, RateLimited
from inlet.sync.budget import BudgetGate
from inlet.sync.caller import CallInfo, LeaseLost, PartnerCaller, RunAuth
from inlet.sync.tokens import TokenKeeper
from tests.sync.harness import SyncEnv
from tests.sync.test_dexcom_faults import Counting, faults

DATA_RANGE = "/v3/users/self/dataRange"


def dexcom(env: SyncEnv, **policy: Any) -> Partner:
    partner = env.services.partners.registry.get("dexcom")
    assert partner is not None
    return replace(partner, policy=replace(partner.policy, **policy)) if policy else partner


def gate(env: SyncEnv) -> BudgetGate:
    return BudgetGate(env.services.engine, lambda: to_micros(env.now))


def run_auth(env: SyncEnv, partner: Partner, lost: threading.Event | None = None) -> RunAuth:
    """A connected person's run: their stored tokens, the run's clock, its lease flag."""
    account = env.connect()
    session = env.inlet.sessions(account.user_id)[0]
    keeper = TokenKeeper(env.services.engine, env.services.partners, "test-worker")
    tokens = keeper.load(session.id)
    return RunAuth(partner, keeper, tokens, lambda: to_micros(env.now), lost or threading.Event())


def stored_token(env: SyncEnv, session_id: str) -> str:
    with env.services.engine.connect() as conn:
        return str(
            conn.execute(
                select(provider_sessions.c.token).where(provider_sessions.c.id == session_id)
            ).scalar_one()
        )


@pytest.fixture
def callers(sync_env: SyncEnv) -> Iterator[Callable[..., PartnerCaller]]:
    """Partner callers (each a worker's client over a gated ``inner`` transport), closed after."""
    made: list[PartnerCaller] = []

    def make(inner: httpx2.BaseTransport, budget: BudgetGate | None = None) -> PartnerCaller:
        made.append(PartnerCaller(inner, budget or gate(sync_env), timeout=10))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_a_401_refreshes_once_and_the_request_is_sent_again(
    sync_env: SyncEnv, callers: Callable[..., PartnerCaller]
) -> None:
    auth = run_auth(sync_env, dexcom(sync_env))
    before = auth.tokens
    simulator = sync_env.dexcom.simulator
    simulator.oauth.store.expire_access_tokens(simulator.now())  # the partner now answers 401
    inner = Counting()
    call = CallInfo(auth.partner)
    answer = callers(inner).get(auth, call, DATA_RANGE, None)
    assert "egvs" in answer
    assert call.sent == inner.count == 2  # the refused request and the same one with the new token
    assert auth.tokens.access != before.access
    assert stored_token(sync_env, before.session_id) == auth.tokens.ciphertext  # the new pair is kept


def test_a_second_401_is_a_failed_authentication_and_the_new_pair_is_kept(
    sync_env: SyncEnv, callers: Callable[..., PartnerCaller]
) -> None:
    auth = run_auth(sync_env, dexcom(sync_env))
    before = auth.tokens

    def refuse(request: httpx2.Request) -> httpx2.Response | None:
        return (
            httpx2.Response(401, json={"error": "invalid_token"})
            if "/v3/users/self/" in request.url.path
            else None
        )

    inner = Counting(refuse)
    call = CallInfo(auth.partner)
    with pytest.raises(AuthFailed) as failure:
        callers(inner).get(auth, call, DATA_RANGE, None)
    assert not failure.value.final  # counted towards the source's error, not a revoked grant
    assert "fresh token" in str(failure.value)
    assert call.sent == inner.count == 2  # one refresh, never a second
    assert stored_token(sync_env, before.session_id) == auth.tokens.ciphertext != before.ciphertext


def test_a_lost_lease_stops_the_flow_before_the_refresh(
    sync_env: SyncEnv, callers: Callable[..., PartnerCaller]
) -> None:
    lost = threading.Event()
    auth = run_auth(sync_env, dexcom(sync_env), lost)
    before = auth.tokens

    def reclaimed_then_refused(request: httpx2.Request) -> httpx2.Response:
        lost.set()  # another worker took the task over while this request was out
        return httpx2.Response(401, json={"error": "invalid_token"})

    inner = Counting(reclaimed_then_refused)
    with pytest.raises(LeaseLost):
        callers(inner).get(auth, CallInfo(auth.partner), DATA_RANGE, None)
    assert inner.count == 1
    assert stored_token(sync_env, before.session_id) == before.ciphertext  # no refresh was asked for


def test_the_transport_spends_the_hourly_budget_and_refuses_past_it(
    sync_env: SyncEnv, callers: Callable[..., PartnerCaller]
) -> None:
    auth = run_auth(sync_env, dexcom(sync_env, requests_per_hour=2))
    inner = Counting()
    partner_caller = callers(inner)
    for _ in range(2):
        partner_caller.get(auth, CallInfo(auth.partner), DATA_RANGE, None)
    refused = CallInfo(auth.partner)
    with pytest.raises(BudgetExhausted) as failure:
        partner_caller.get(auth, refused, DATA_RANGE, None)
    assert "budget is spent" in str(failure.value)
    assert refused.sent == 0
    assert inner.count == 2  # the refused request never reached the partner
    with sync_env.services.engine.connect() as conn:
        assert conn.execute(select(partner_budgets.c.used)).scalar_one() == 2


def test_a_429_opens_the_breaker_for_every_worker(
    sync_env: SyncEnv, callers: Callable[..., PartnerCaller]
) -> None:
    auth = run_auth(sync_env, dexcom(sync_env))
    faults(sync_env, burst_429=1, retry_after=600)
    inner = Counting()
    with pytest.raises(RateLimited) as failure:
        callers(inner).get(auth, CallInfo(auth.partner), DATA_RANGE, None)
    assert failure.value.retry_after == 600
    with sync_env.services.engine.connect() as conn:
        blocked = conn.execute(select(partner_budgets.c.blocked_until)).scalar_one()
    assert blocked >= to_micros(sync_env.now) + 600 * 1_000_000
    # another worker (its own gate and transport) does not call the partner until then
    other = CallInfo(auth.partner)
    with pytest.raises(BudgetExhausted) as paused:
        callers(inner, gate(sync_env)).get(auth, other, DATA_RANGE, None)
    assert "paused" in str(paused.value)
    assert other.sent == 0
    assert inner.count == 1

"""What holds across worker processes because it lives in the database: the partner's hourly budget
and its breaker, and the one-refresher-at-a-time rule for rotating refresh tokens."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine

from inlet.sync.budget import HOUR_US, BudgetGate, Refusal
from inlet.sync.tokens import TokenKeeper
from tests.sync.harness import DEXCOM_USER, SyncEnv

NOW = 1_800_000_000 * 1_000_000


def test_two_gates_share_one_hourly_budget(engine: Engine) -> None:
    clock = [NOW]
    gates = [BudgetGate(engine, lambda: clock[0]) for _ in range(2)]
    granted = [0, 0]
    for _ in range(3000):
        for index, gate in enumerate(gates):
            if gate.take("dexcom", 1200) is None:
                granted[index] += 1
    assert sum(granted) == 1200  # never more than the budget, whoever asks
    assert min(granted) > 0
    refusal = gates[0].take("dexcom", 1200)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == "budget"
    assert refusal.until == NOW - NOW % HOUR_US + HOUR_US
    clock[0] = refusal.until  # the next hour brings a new budget
    assert gates[1].take("dexcom", 1200) is None


def test_the_breaker_stops_every_gate(engine: Engine) -> None:
    clock = [NOW]
    first, second = BudgetGate(engine, lambda: clock[0]), BudgetGate(engine, lambda: clock[0])
    first.trip("acme", NOW + 60_000_000, "429")
    refusal = second.take("acme", 1000)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == "blocked"
    assert refusal.until == NOW + 60_000_000
    clock[0] = NOW + 61_000_000
    assert second.take("acme", 1000) is None


def test_workers_refreshing_at_once_refresh_once_and_keep_the_grant(sync_env: SyncEnv) -> None:
    account = sync_env.connect()
    services = sync_env.services
    session_id = sync_env.inlet.sessions(account.user_id)[0].id
    partner = services.partners.registry.get("dexcom")
    keepers = [TokenKeeper(services.engine, services.partners, f"worker-{i}") for i in range(4)]
    stale = keepers[0].load(session_id)
    simulator = sync_env.dexcom.simulator
    simulator.oauth.store.expire_access_tokens(simulator.now())
    results: list[str] = []
    errors: list[BaseException] = []
    micros = int(sync_env.now.timestamp() * 1_000_000)

    def refresh(keeper: TokenKeeper) -> None:
        try:
            results.append(keeper.refresh(partner, stale, lambda: micros).access)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=refresh, args=(k,)) for k in keepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(results) == 4
    assert len(set(results)) == 1, "all use the one new token"
    assert results[0] != stale.access
    grants = simulator.oauth.store.select_grants(username=DEXCOM_USER)
    assert all(g.revoked is None for g in grants), "no refresh token was used twice"
    # and the stored pair keeps working
    sync_env.advance(timedelta(minutes=5))
    assert sync_env.run_once().succeeded == 1


def test_sync_logs_carry_no_tokens(sync_env: SyncEnv, caplog: object) -> None:
    import logging

    assert hasattr(caplog, "set_level")
    caplog.set_level(logging.DEBUG)  # type: ignore[attr-defined]
    account = sync_env.connect()
    sync_env.run_once()
    simulator = sync_env.dexcom.simulator
    simulator.oauth.store.expire_access_tokens(simulator.now())
    sync_env.make_due()
    sync_env.run_once()
    keeper = TokenKeeper(sync_env.services.engine, sync_env.services.partners, "reader")
    token = keeper.load(sync_env.inlet.sessions(account.user_id)[0].id).token
    records = caplog.records  # type: ignore[attr-defined]
    # Inlet's own logs at every level, and everything at INFO and above (the simulator's OAuth server
    # logs its tokens at DEBUG: that is the partner's side, not ours)
    ours = [r for r in records if r.name.startswith("inlet") or r.levelno >= logging.INFO]
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    assert any(r.getMessage() == "sync run" and r.__dict__.get("outcome") == "success" for r in ours)
    assert token["access_token"] not in text
    assert token["refresh_token"] not in text

"""Issue 12, defect 5: a partner's pause runs from when it answered 429 (not from the run's start),
and the budget's hour windows are the database's, whatever a worker's own clock says."""

from __future__ import annotations

import time

import httpx2
from sqlalchemy import Engine, select

from inlet.db.schema import partner_budgets
from inlet.model.timeutil import to_micros
from inlet.sync.budget import HOUR_US, BudgetGate
from inlet.sync.leases import db_now
from tests.sync.harness import SyncEnv
from tests.sync.test_dexcom_faults import Counting

US = 1_000_000


def test_a_429_late_in_a_run_pauses_the_partner_from_then(sync_env: SyncEnv) -> None:
    sync_env.connect()
    slow = 2.0

    def slow_then_429(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path.endswith("/dataRange"):
            time.sleep(slow)  # a long run: the 429 comes well after its start
            return None
        if request.url.path.endswith("/egvs"):
            return httpx2.Response(429, headers={"Retry-After": "1"}, json={"error": "slow down"})
        return None

    started = to_micros(sync_env.now)
    assert sync_env.run_once(transport=Counting(slow_then_429)).failed == 1
    with sync_env.services.engine.connect() as conn:
        blocked = conn.execute(select(partner_budgets.c.blocked_until)).scalar_one()
    assert blocked >= started + int((slow + 1) * US), (blocked - started) / US


def test_budget_windows_are_the_databases_whatever_the_local_clock(engine: Engine) -> None:
    skewed = [int(time.time() * US) + 2 * HOUR_US]  # this worker's clock is two hours ahead
    gate = BudgetGate(engine, lambda: skewed[0], db_now)
    assert gate.take("dexcom", 60_000) is None
    with engine.connect() as conn:
        now = db_now(conn)
        window = conn.execute(select(partner_budgets.c.window_start)).scalar_one()
    assert window == now - now % HOUR_US
    assert abs(gate.now() - now) < 60 * US  # the gate judges on the database's time

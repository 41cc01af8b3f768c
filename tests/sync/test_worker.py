"""The worker with an injected database clock and random: every due task runs once, concurrency is
bounded, the next run follows the partner's policy (blackouts, budget stretching, backoff), a lost
lease's completion is refused, and two workers never run a task twice."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import Engine

from inlet.model.timeutil import from_micros, to_micros
from inlet.partners.contract import Blackout
from inlet.partners.registry import PartnerRegistry, load_registry
from inlet.sync import leases
from inlet.sync.worker import RunResult, TaskRun, Worker, reschedule_only
from tests.sync.conftest import T0, US, fixed_clock, seed_tasks, task


def registry() -> PartnerRegistry:
    return load_registry({})


def worker(engine: Engine, run_task=reschedule_only, now: datetime = T0, **options) -> Worker:  # type: ignore[no-untyped-def]
    options.setdefault("rng", random.Random(1))
    return Worker(
        engine, options.pop("partners", None) or registry(), run_task, clock=fixed_clock(now), **options
    )


class Recorder:
    """A run_task that records what ran and how many ran at once."""

    def __init__(self, result: RunResult | None = None) -> None:
        self.ran: list[str] = []
        self.active = 0
        self.peak = 0
        self.result = result or RunResult("success")

    async def __call__(self, run: TaskRun) -> RunResult:
        self.active += 1
        self.peak = max(self.peak, self.active)
        for _ in range(5):
            await asyncio.sleep(0)  # yield to the loop only, so others can start
        self.ran.append(run.lease.task_id)
        self.active -= 1
        return self.result


def minutes_after(micros: int, start: datetime = T0) -> float:
    return (from_micros(micros) - start).total_seconds() / 60


def test_run_once_runs_every_due_task_once_within_the_concurrency(engine: Engine) -> None:
    due = seed_tasks(engine, 7)
    later = seed_tasks(engine, 1, due=T0 + timedelta(minutes=1))
    recorder = Recorder()
    stats = asyncio.run(worker(engine, recorder, concurrency=3).run_once())
    assert sorted(recorder.ran) == sorted(due)
    assert recorder.peak == 3
    assert (stats.claimed, stats.succeeded, stats.lost) == (7, 7, 0)
    for task_id in due:
        row = task(engine, task_id)
        assert row.lease_owner is None
        assert row.lease_expires_time is None
        assert 45 <= minutes_after(row.next_run_time) <= 75
        assert row.last_success_time == to_micros(T0)
        assert row.failure_count == 0
    assert task(engine, later[0]).lease_generation == 0


def test_run_once_never_runs_a_task_twice_even_if_it_is_due_again(engine: Engine) -> None:
    ids = seed_tasks(engine, 4)
    recorder = Recorder(RunResult("success", next_run_time=T0))  # asks to run again right away
    asyncio.run(worker(engine, recorder, concurrency=2).run_once())
    assert sorted(recorder.ran) == sorted(ids)


def test_the_placeholder_only_reschedules(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)
    stats = asyncio.run(worker(engine).run_once())
    assert (stats.skipped, stats.succeeded) == (1, 0)
    row = task(engine, task_id)
    assert row.last_success_time is None
    assert row.failure_count == 0
    assert row.last_error is None
    assert 45 <= minutes_after(row.next_run_time) <= 75


def test_no_run_starts_inside_a_blackout(engine: Engine) -> None:
    inside = datetime(2026, 3, 8, 10, 20, tzinfo=UTC)  # 03:20 PDT, the spring-forward day
    ids = seed_tasks(engine, 20, due=inside - timedelta(minutes=1))
    recorder = Recorder()
    stats = asyncio.run(worker(engine, recorder, now=inside).run_once())
    assert recorder.ran == []
    assert stats.skipped == 20
    window_end = datetime(2026, 3, 8, 10, 45, tzinfo=UTC)  # 03:45 PDT
    delays = [minutes_after(task(engine, task_id).next_run_time, window_end) for task_id in ids]
    assert all(0 <= delay <= 60 for delay in delays)
    assert max(delays) - min(delays) > 10  # jittered, not a thundering herd at 03:45


def test_the_interval_is_stretched_when_the_budget_is_short(engine: Engine) -> None:
    partners = registry()
    dexcom = partners.get("dexcom")
    assert dexcom is not None
    # 30 people at 5 calls every hour = 150 calls/h; a 50 calls/h budget stretches everyone x3
    # (share 0.9: x 3.33)
    partners.add(replace(dexcom, policy=replace(dexcom.policy, requests_per_hour=50, blackouts=())))
    ids = seed_tasks(engine, 30)
    asyncio.run(worker(engine, Recorder(), partners=partners, calls_per_run=5, concurrency=8).run_once())
    stretch = 30 * 5 / (0.9 * 50)
    delays = [minutes_after(task(engine, task_id).next_run_time) for task_id in ids]
    assert all(45 * stretch - 1e-6 <= delay <= 75 * stretch + 1e-6 for delay in delays)


def test_failures_back_off_and_are_recorded(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)

    async def boom(run: TaskRun) -> RunResult:
        raise RuntimeError("a bug in a runner")

    stats = asyncio.run(worker(engine, boom).run_once())
    assert stats.failed == 1
    row = task(engine, task_id)
    assert row.failure_count == 1
    assert row.last_error == {"code": "internal", "detail": "RuntimeError"}
    assert 2.5 <= minutes_after(row.next_run_time) <= 5
    # the second failure in a row waits longer
    later = from_micros(row.next_run_time)
    asyncio.run(worker(engine, boom, now=later).run_once())
    row = task(engine, task_id)
    assert row.failure_count == 2
    assert 5 <= minutes_after(row.next_run_time, later) <= 10


def test_an_unknown_partner_is_a_recorded_failure(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1, provider="gone")
    recorder = Recorder()
    asyncio.run(worker(engine, recorder).run_once())
    row = task(engine, task_id)
    assert recorder.ran == []
    assert row.failure_count == 1
    assert row.last_error["code"] == "unknown-partner"
    assert minutes_after(row.next_run_time) == 60


def test_a_retry_after_is_honoured_outside_blackouts(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)
    wanted = T0 + timedelta(minutes=7)
    asyncio.run(worker(engine, Recorder(RunResult("failure", {"code": "rate-limited"}, wanted))).run_once())
    assert task(engine, task_id).next_run_time == to_micros(wanted)


def test_a_run_that_lost_its_lease_cannot_complete(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)
    seen: list[bool] = []

    async def slow(run: TaskRun) -> RunResult:
        assert await run.renew()  # still ours
        # meanwhile the lease expired and another worker reclaimed the task
        with engine.begin() as conn:
            leases.claim_due(conn, "other", limit=1, lease_seconds=60, now=to_micros(T0) + 10_000 * US)
        seen.append(await run.renew())
        return RunResult("success")

    stats = asyncio.run(worker(engine, slow).run_once())
    assert seen == [False]
    assert stats.lost == 1
    assert stats.succeeded == 0
    row = task(engine, task_id)
    assert (row.lease_owner, row.lease_generation, row.last_success_time) == ("other", 2, None)


def test_the_heartbeat_cancels_a_run_whose_lease_is_lost(engine: Engine) -> None:
    (task_id,) = seed_tasks(engine, 1)

    async def scenario() -> Worker:
        started = asyncio.Event()
        ticks: asyncio.Queue[None] = asyncio.Queue()

        async def timer(_seconds: float) -> None:
            await ticks.get()  # the heartbeat fires only when the test says so

        async def forever(run: TaskRun) -> RunResult:
            started.set()
            await asyncio.Event().wait()  # never finishes on its own
            raise AssertionError("unreachable")

        sync = worker(engine, forever, sleep=timer)
        running = asyncio.ensure_future(sync.run_once())
        await started.wait()
        with engine.begin() as conn:
            leases.claim_due(conn, "other", limit=1, lease_seconds=60, now=to_micros(T0) + 10_000 * US)
        ticks.put_nowait(None)  # the renewal finds the lease gone and cancels the run
        await running
        return sync

    sync = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert sync.stats.lost == 1
    row = task(engine, task_id)
    assert (row.lease_owner, row.last_error, row.failure_count) == ("other", None, 0)


def test_two_workers_never_run_a_task_twice(engine: Engine) -> None:
    ids = seed_tasks(engine, 40)
    running: set[str] = set()
    ran: list[str] = []

    async def exclusive(run: TaskRun) -> RunResult:
        assert run.lease.task_id not in running
        running.add(run.lease.task_id)
        await asyncio.sleep(0)
        ran.append(run.lease.task_id)
        running.discard(run.lease.task_id)
        return RunResult("success")

    async def both() -> None:
        first = worker(engine, exclusive, concurrency=4, owner="one")
        second = worker(engine, exclusive, concurrency=4, owner="two")
        await asyncio.gather(first.run_once(), second.run_once())

    asyncio.run(both())
    assert sorted(ran) == sorted(ids)


def test_run_forever_stops_when_asked(engine: Engine) -> None:
    ids = seed_tasks(engine, 3)
    ran: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()

        async def record(run: TaskRun) -> RunResult:
            ran.append(run.lease.task_id)
            if len(ran) == 3:
                stop.set()
            return RunResult("success")

        await worker(engine, record).run_forever(stop)

    asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert sorted(ran) == sorted(ids)
    assert all(task(engine, task_id).lease_owner is None for task_id in ids)


def test_blackout_window_objects_are_the_manifest_ones() -> None:
    dexcom = registry().get("dexcom")
    assert dexcom is not None
    assert dexcom.policy.blackouts == (Blackout(time(2, 45), time(3, 45), "America/Los_Angeles"),)

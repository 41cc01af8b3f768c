"""Sync benchmark: N connected Dexcom users, one worker process, every task due once.

Setup (PostgreSQL, a fresh database): N accounts seeded directly (no browser flow), each with a provider
session whose token is vault-encrypted and a data source + due sync task, through
``PartnerService.connect``; the source's stream state is set one hour back, so one cycle fetches about
one hour of new data per user (dataRange + egvs + alerts). The Dexcom simulator runs in a child process
on 127.0.0.1 on a frozen clock (deterministic data, no rate limit); a grant and a long-lived access token
per user are minted in its OAuth store directly (the simulator has three accounts: many users share
one, which is fine). The partner's hourly budget is raised for the run.

Measured: ``build_worker(services, concurrency=C)`` then ``asyncio.run(worker.run_once())`` with the
worker's clock injected to match the simulator's: user-syncs per second, for each C of
``--concurrency`` (each on a new simulated hour). A warm-up cycle first (the first sync after connecting:
it also creates each source's data set); it is printed, not a row.
Floor, same run: the very requests the measured cycle made (recorded at the runner's HTTP client: same
URLs, same count per user, same client settings), replayed at the same concurrency from a thread pool,
each user's requests in order, reading the bodies and doing nothing else (no database).
Calls per run: ``data_sources.sync_state.counters.calls`` summed over runs, for a cycle with new data and
for a second cycle right after it with nothing new (which has its own floor: its requests replayed).

Rows also give, for the best concurrency, the statements (COPY counted), commits and worker-process
CPU per run, with new data and with nothing new; and, with ``--processes N`` (default 2), one more
hour of new data run by N forked worker processes together (each ``build_worker`` with its own engine,
as ``inlet worker --processes N``), against the floor of the previous new-data cycle's requests
replayed at N times the concurrency.

Usage: python bench/sync.py [--json PATH] [--users N] [--concurrency 8,16] [--threads T] [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import Engine, event, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result, Timer, fresh_database, postgres_url, write_json

TARGET_RATE = 200.0  # user-syncs per second, one worker process
TARGET_IDLE_RATE = 600.0  # user-syncs per second with nothing new at the partner
RATIO_TARGET = 3.0
T0 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # 05:00 in Los Angeles: outside Dexcom's blackout
HOUR = timedelta(hours=1)
CLIENT_ID, CLIENT_SECRET = "inlet", "inlet-simulator-secret"  # the simulator's registered app
TOKEN_LIFETIME = 10 * 365 * 86_400  # no refresh during the run
SEED = 1


# ---- the simulator, in a child process ------------------------------------------------------------


def _simulator_main(pipe: Pipe, sock: socket.socket, start: datetime, grants: list[tuple[str, str]]) -> None:
    """Serve the Dexcom simulator on ``sock`` with a frozen clock; mint ``grants`` (access token,
    account) in its OAuth store; then obey ``("set", instant)`` and ``("stop",)`` from the parent."""
    import uvicorn

    from inlet.simulator import FrozenClock, create_dexcom_app, default_dexcom_config
    from inlet.simulator.core import simulator_of
    from inlet.simulator.oauth import Grant, Token

    clock = FrozenClock(start)
    app = create_dexcom_app(default_dexcom_config(SEED, clock=clock, requests_per_hour=None))
    simulator = simulator_of(app)
    now = simulator.now()
    store = simulator.oauth.store
    with store.lock:
        for access, username in grants:
            grant = Grant(secrets.token_hex(8), CLIENT_ID, username, "offline_access", now)
            store.grants[grant.id] = grant
            store.by_access[access] = Token(
                access_token=access,
                refresh_token=None,
                grant_id=grant.id,
                client_id=CLIENT_ID,
                scope="offline_access",
                issued_at=now,
                expires_in=TOKEN_LIFETIME,
                access_expires_at=now + TOKEN_LIFETIME,
                refresh_expires_at=None,
            )
    config = uvicorn.Config(
        app, log_config=None, log_level="warning", access_log=False, lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    pipe.send("ready")
    while True:
        message = pipe.recv()
        if message[0] == "set":
            clock.set(message[1])
            pipe.send("ok")
        else:
            server.should_exit = True
            thread.join(timeout=10)
            pipe.send("stopped")
            return


class Simulator:
    """The child process serving the Dexcom simulator (forked before any database connection)."""

    def __init__(self, start: datetime, grants: list[tuple[str, str]]) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        context = multiprocessing.get_context("fork")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=_simulator_main, args=(child, sock, start, grants), daemon=True)
        self.process.start()
        sock.close()
        if not self.pipe.poll(120) or self.pipe.recv() != "ready":
            raise RuntimeError("the simulator did not start")

    def set(self, instant: datetime) -> None:
        self.pipe.send(("set", instant))
        assert self.pipe.recv() == "ok"

    def stop(self) -> None:
        if self.process.is_alive():
            self.pipe.send(("stop",))
            self.pipe.poll(15)
            self.process.join(timeout=15)
            if self.process.is_alive():
                self.process.kill()


# ---- seeding ---------------------------------------------------------------------------------------


def stream_state(username: str, now: datetime) -> dict[str, Any]:
    """The Dexcom adapter's stream state of a source last synced an hour before ``now``: every stream's
    watermark and lastSyncTime an hour back, alerts and devices fetched an hour ago (so not again until
    a day has passed) and the account's transmitters known with their current settings."""
    from inlet.model.timeutil import format_utc
    from inlet.partners.dexcom.mapping import map_records
    from inlet.partners.dexcom.sync import DEVICE_LOOKBACK, settings_hash
    from inlet.simulator import FrozenClock
    from inlet.simulator.dexcom import DexcomSimulator, default_dexcom_config

    simulator = DexcomSimulator(default_dexcom_config(SEED, clock=FrozenClock(now)))
    end = now.timestamp()
    records = simulator.devices(username, end - DEVICE_LOOKBACK.total_seconds(), end)
    devices = {
        str(d.get("transmitterId") or d.get("deviceId")): settings_hash(d)
        for d in map_records("device", records, validate=False).datums
    }
    back = format_utc(now - HOUR)
    streams = dict.fromkeys(("egvs", "calibrations", "events", "alerts", "lastSyncTime", "auxTime"), back)
    return {"streams": {**streams, "devices": devices}}


def seed(services: Any, tokens: list[tuple[str, str]], now: datetime) -> list[str]:
    """An account, a connected Dexcom source (vault-encrypted token) and a due task per token."""
    from inlet.accounts.tokens import new_user_id
    from inlet.db.schema import data_sources, users
    from inlet.model.timeutil import to_micros

    partner = services.partners.registry.get("dexcom")
    states = {username: stream_state(username, now) for username in {u for _, u in tokens}}
    expires_at = int(now.timestamp()) + TOKEN_LIFETIME
    micros = to_micros(now)
    user_ids = []
    for offset in range(0, len(tokens), 1000):
        chunk = tokens[offset : offset + 1000]
        ids = [new_user_id() for _ in chunk]
        with services.engine.begin() as conn:
            conn.execute(
                insert(users),
                [
                    {
                        "id": user_id,
                        "username": f"sync-{offset + i}@bench.example",
                        "password_hash": None,
                        "emails": [f"sync-{offset + i}@bench.example"],
                        "roles": [],
                        "email_verified": True,
                        "custodial": False,
                        "created_time": micros,
                    }
                    for i, user_id in enumerate(ids)
                ],
            )
            for user_id, (access, username) in zip(ids, chunk, strict=True):
                token = {
                    "access_token": access,
                    "token_type": "Bearer",
                    "refresh_token": secrets.token_urlsafe(16),
                    "expires_at": expires_at,
                    "scope": "offline_access",
                }
                source = services.partners.connect(conn, partner, user_id, token, None)
                conn.execute(
                    update(data_sources)
                    .where(data_sources.c.id == source.id)
                    .values(sync_state=states[username])
                )
        user_ids += ids
    return user_ids


# ---- measuring -------------------------------------------------------------------------------------


class Recorder:
    """Wraps the network under the runner's partner caller (``GatedTransport.inner``): every request
    as it went out (the URL with its query, no params apart, and the bearer its run's auth flow set)
    grouped per user (the bearer token), in order."""

    def __init__(self, transport: Any) -> None:
        self.requests: dict[str, list[tuple[str, dict[str, str], dict[str, str]]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._handle = transport.inner.handle_request
        transport.inner.handle_request = self.handle_request

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        # as little as possible here: this runs inside the measured cycle
        bearer = request.headers["Authorization"]
        with self._lock:
            self.requests[bearer].append((str(request.url), {}, {"Authorization": bearer}))
        response: httpx2.Response = self._handle(request)
        return response

    def take(self) -> list[list[tuple[str, dict[str, str], dict[str, str]]]]:
        out = list(self.requests.values())
        self.requests.clear()
        return out


def counters(engine: Engine) -> tuple[int, int]:
    """(runs, calls) summed over every source's sync_state counters."""
    from inlet.db.schema import data_sources

    runs = calls = 0
    with engine.connect() as conn:
        for (state,) in conn.execute(select(data_sources.c.sync_state)):
            block = (state or {}).get("counters") or {}
            runs += int(block.get("runs", 0))
            calls += int(block.get("calls", 0))
    return runs, calls


class Statements:
    """Counts, on the engine, what a cycle sends to the database: statements (cursor executes, and
    the COPYs the driver runs outside SQLAlchemy's events), commits, and pool checkouts (a ping each
    when the engine pre-pings; the worker's does not)."""

    def __init__(self, engine: Engine) -> None:
        from inlet.data import storage
        from inlet.db import bulk

        self.statements = self.commits = self.checkouts = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine.pool, "checkout", self._checkout)
        insert_rows = storage.insert_rows

        def counted(conn: Any, table: str, columns: Any, rows: Any) -> None:
            if conn.dialect.name == "postgresql" and len(rows) >= bulk.COPY_FROM:
                self.statements += 1  # a COPY: invisible to before_cursor_execute
            insert_rows(conn, table, columns, rows)

        storage.insert_rows = counted  # type: ignore[assignment]

    def _statement(self, *args: Any) -> None:
        self.statements += 1

    def _commit(self, *args: Any) -> None:
        self.commits += 1

    def _checkout(self, *args: Any) -> None:
        self.checkouts += 1

    def snapshot(self) -> tuple[int, int, int]:
        return self.statements, self.commits, self.checkouts


def busy_cpu() -> tuple[float, float]:
    """(this process's CPU seconds, the machine's busy CPU seconds) so far."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    own = os.times()
    return own.user + own.system, (sum(fields[:8]) - idle) / ticks


@dataclass
class Usage:
    """What one cycle cost per run: statements, commits, pool checkouts, the worker process's CPU."""

    statements: float
    commits: float
    checkouts: float
    cpu_ms: float
    process_share: float  # of a core, over the cycle
    machine_share: float

    def line(self) -> str:
        return (
            f"       per run: {self.statements:.1f} statements, {self.commits:.1f} commits, "
            f"{self.checkouts:.1f} pool checkouts, {self.cpu_ms:.2f} ms CPU of the worker process; "
            f"worker process {self.process_share:.0%} of a core, machine {self.machine_share:.0%} "
            f"of a core ({os.cpu_count()} cores)"
        )


def usage(
    sql0: tuple[int, ...],
    sql1: tuple[int, ...],
    cpu0: tuple[float, float],
    cpu1: tuple[float, float],
    runs: int,
    seconds: float,
) -> Usage:
    per_run = [(b - a) / runs for a, b in zip(sql0, sql1, strict=True)]
    own = cpu1[0] - cpu0[0]
    return Usage(
        per_run[0], per_run[1], per_run[2], own / runs * 1000, own / seconds, (cpu1[1] - cpu0[1]) / seconds
    )


def failures(engine: Engine, since: int) -> dict[str, int]:
    """The errors the tasks run since ``since`` recorded (code: detail), counted."""
    from inlet.db.schema import sync_tasks

    t = sync_tasks.c
    out: dict[str, int] = defaultdict(int)
    with engine.connect() as conn:
        query = select(t.last_error).where(t.last_run_time >= since, t.last_error.is_not(None))
        for (error,) in conn.execute(query):
            if error:
                out[f"{error.get('code')}: {error.get('detail')}"] += 1
    return dict(out)


def make_due(engine: Engine, micros: int) -> None:
    from inlet.db.schema import sync_tasks

    with engine.begin() as conn:
        conn.execute(update(sync_tasks).values(next_run_time=micros))


def stored_rows(engine: Engine) -> int:
    from inlet.db.schema import device_data

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(device_data)).scalar_one())


def cycle(
    services: Any,
    simulator: Simulator,
    now: datetime,
    concurrency: int,
    threads: int | None = None,
) -> tuple[float, Any, Recorder]:
    """Every task due at ``now``, run once by one worker: (seconds, worker stats, the recorded requests)."""
    from inlet.model.timeutil import to_micros
    from inlet.sync.service import build_worker

    micros = to_micros(now)
    simulator.set(now)
    make_due(services.engine, micros)
    worker = build_worker(services, concurrency=concurrency, clock=lambda _conn: micros, poll_seconds=0.05)
    recorder = Recorder(worker.run_task.caller.transport)  # type: ignore[attr-defined]
    try:

        async def once() -> None:
            if threads:  # the runs execute in the loop's default executor (min(32, cores + 4) threads)
                asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads))
            await worker.run_once()

        with Timer() as timer:
            asyncio.run(once())
        stats = worker.stats
    finally:
        worker.close()
    return timer.seconds, stats, recorder


def floor(requests: list[list[tuple[str, dict[str, str], dict[str, str]]]], concurrency: int) -> float:
    """The same requests, same client settings and concurrency, bodies read and dropped: seconds."""
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    with httpx2.Client(timeout=15.0, trust_env=False, limits=limits) as client:

        def one(calls: list[tuple[str, dict[str, str], dict[str, str]]]) -> None:
            for url, params, headers in calls:
                response = client.get(url, params=params or None, headers=headers)
                assert response.status_code == 200, response.status_code
                _ = response.content

        with ThreadPoolExecutor(concurrency) as pool, Timer() as timer:
            list(pool.map(one, requests))
    return timer.seconds


def _process_main(settings: Any, micros: int, concurrency: int, pipe: Pipe) -> None:
    """One forked worker process: its own engine and services, one pass when told to go."""
    from inlet.db.engine import create_db_engine
    from inlet.services import create_services
    from inlet.sync.service import build_worker

    engine = create_db_engine(settings.database_url, pool_size=concurrency + 2, pre_ping=False)
    services = create_services(settings, engine)
    worker = build_worker(services, concurrency=concurrency, clock=lambda _conn: micros, poll_seconds=0.05)
    pipe.send("ready")
    pipe.recv()
    asyncio.run(worker.run_once())
    worker.close()
    engine.dispose()
    pipe.send((worker.stats.succeeded, worker.stats.summary()))


def run_processes(settings: Any, now: datetime, concurrency: int, processes: int) -> float:
    """Every due task run once by ``processes`` worker processes together: seconds."""
    from inlet.model.timeutil import to_micros

    context = multiprocessing.get_context("fork")
    pipes, children = [], []
    for _ in range(processes):
        parent, child = context.Pipe()
        process = context.Process(target=_process_main, args=(settings, to_micros(now), concurrency, child))
        process.start()
        pipes.append(parent)
        children.append(process)
    for pipe in pipes:
        if not pipe.poll(120) or pipe.recv() != "ready":
            raise RuntimeError("a worker process did not start")
    with Timer() as timer:
        for pipe in pipes:
            pipe.send("go")
        answers = [pipe.recv() for pipe in pipes]
    for process in children:
        process.join(timeout=30)
    succeeded = sum(count for count, _ in answers)
    print(f"       {processes} processes: {succeeded:,} runs succeeded ({'; '.join(s for _, s in answers)})")
    return timer.seconds


def run(pg: str, users: int, levels: list[int], threads: int | None, processes: int = 1) -> list[Result]:
    from inlet.db.engine import create_db_engine
    from inlet.model.timeutil import to_micros
    from inlet.services import create_services
    from inlet.settings import Settings

    accounts = ("SandboxUser1", "SandboxUser2", "SandboxUser7")
    tokens = [(secrets.token_urlsafe(32), accounts[i % len(accounts)]) for i in range(users)]
    simulator = Simulator(T0, tokens)  # forked first: the child holds no database connection
    results: list[Result] = []
    try:
        os.environ.update(
            {
                "INLET_PARTNER_DEXCOM_API_URL": simulator.url,
                "INLET_PARTNER_DEXCOM_TOKEN_URL": simulator.url + "/v2/oauth2/token",
                "INLET_PARTNER_DEXCOM_AUTHORIZE_URL": simulator.url + "/v2/oauth2/login",
                "INLET_PARTNER_DEXCOM_CLIENT_ID": CLIENT_ID,
                "INLET_PARTNER_DEXCOM_CLIENT_SECRET": CLIENT_SECRET,
                "INLET_PARTNER_DEXCOM_REQUESTS_PER_HOUR": "100000000",
            }
        )
        with (
            fresh_database("postgresql", pg) as engine,
            tempfile.TemporaryDirectory() as tmp,
            contextlib.ExitStack() as stack,
        ):
            settings = Settings(
                data_dir=Path(tmp),
                database_url=engine.url.render_as_string(hide_password=False),
                password_hashing="fast-insecure-for-tests",
            )
            # the worker's engine as `inlet worker` builds it: a pool for its concurrency, no pre-ping
            worker_engine = create_db_engine(
                engine.url.render_as_string(hide_password=False), pool_size=max(levels) + 2, pre_ping=False
            )
            stack.callback(worker_engine.dispose)
            services = create_services(settings, worker_engine)
            now = T0
            services.partners.clock = lambda: now
            with Timer() as t:
                seed(services, tokens, now)
            print(f"seeded {users:,} connected Dexcom users in {t.seconds:.1f} s")

            seconds, stats, recorder = cycle(services, simulator, now, max(levels), threads)
            recorder.take()
            print(
                f"warm-up (first sync after connecting, C={max(levels)}): "
                f"{users / seconds:,.1f} user-syncs/s; "
                f"{stats.summary()}; {stored_rows(engine):,} rows stored"
            )
            counter = Statements(services.engine)
            best: tuple[float, float, int, Usage] | None = None
            runs0, calls0 = counters(engine)
            new_runs = new_calls = 0
            replay: list[list[tuple[str, dict[str, str], dict[str, str]]]] = []
            for level in levels:
                now = now + HOUR
                before_rows = stored_rows(engine)
                sql0, cpu0 = counter.snapshot(), busy_cpu()
                seconds, stats, recorder = cycle(services, simulator, now, level, threads)
                sql1, cpu1 = counter.snapshot(), busy_cpu()
                assert stats.succeeded == users, stats.summary()
                requests = recorder.take()
                replay = requests
                calls = sum(len(r) for r in requests)
                floor_seconds = floor(requests, level)
                rate, floor_rate = users / seconds, users / floor_seconds
                runs1, calls1 = counters(engine)
                new_runs += runs1 - runs0
                new_calls += calls1 - calls0
                runs0, calls0 = runs1, calls1
                print(
                    f"C={level:>3}: {rate:,.1f} user-syncs/s ({seconds:.1f} s), floor {floor_rate:,.1f}/s "
                    f"({floor_seconds:.1f} s), ratio {floor_rate / rate:.2f}; {calls:,} partner calls; "
                    f"{stored_rows(engine) - before_rows:,} rows stored"
                )
                cost = usage(sql0, sql1, cpu0, cpu1, users, seconds)
                print(cost.line())
                if best is None or rate > best[0]:
                    best = (rate, floor_rate, level, cost)
            assert best is not None
            rate, floor_rate, level, cost = best
            results += [
                Result(
                    f"sync.postgresql.user_syncs_c{level}",
                    rate,
                    "syncs/s",
                    floor_rate,
                    floor_rate / rate,
                    TARGET_RATE,
                ),
                Result(
                    "sync.postgresql.calls_per_run_new_data", new_calls / new_runs, "calls", None, None, None
                ),
                Result(
                    "sync.postgresql.statements_per_run_new_data",
                    cost.statements,
                    "statements",
                    None,
                    None,
                    8,
                ),
                Result("sync.postgresql.commits_per_run_new_data", cost.commits, "commits", None, None, 2),
                Result("sync.postgresql.cpu_per_run_new_data", cost.cpu_ms, "ms", None, None, None),
            ]
            # Immediately again: nothing new at the partner (the clock has not moved).
            sql0, cpu0 = counter.snapshot(), busy_cpu()
            seconds, stats, recorder = cycle(services, simulator, now, level, threads)
            sql1, cpu1 = counter.snapshot(), busy_cpu()
            runs1, calls1 = counters(engine)
            idle_floor = users / floor(recorder.take(), level)
            print(
                f"no new data, C={level}: {users / seconds:,.1f} user-syncs/s ({seconds:.1f} s), "
                f"floor {idle_floor:,.1f}/s, ratio {idle_floor * seconds / users:.2f}"
            )
            idle = usage(sql0, sql1, cpu0, cpu1, users, seconds)
            print(idle.line())
            results += [
                Result(
                    "sync.postgresql.calls_per_run_no_new_data",
                    (calls1 - calls0) / (runs1 - runs0),
                    "calls",
                    None,
                    None,
                    1,
                ),
                Result(
                    f"sync.postgresql.user_syncs_no_new_data_c{level}",
                    users / seconds,
                    "syncs/s",
                    idle_floor,
                    idle_floor * seconds / users,
                    TARGET_IDLE_RATE,
                ),
                Result(
                    "sync.postgresql.statements_per_run_no_new_data",
                    idle.statements,
                    "statements",
                    None,
                    None,
                    None,
                ),
                Result("sync.postgresql.cpu_per_run_no_new_data", idle.cpu_ms, "ms", None, None, None),
            ]
            if processes > 1:
                # One more hour of new data, run by `processes` worker processes at once (forked,
                # each with its own engine, as `inlet worker --processes N` runs them).
                now = now + HOUR
                simulator.set(now)
                make_due(engine, to_micros(now))
                seconds = run_processes(settings, now, level, processes)
                unfinished = failures(engine, to_micros(now))
                if unfinished:
                    print(f"       runs that did not succeed, by error: {unfinished}")
                floor_seconds = floor(replay, level * processes)
                rate, floor_rate = users / seconds, users / floor_seconds
                print(
                    f"--processes {processes}, C={level} each: {rate:,.1f} user-syncs/s ({seconds:.1f} s), "
                    f"floor {floor_rate:,.1f}/s at C={level * processes} (the previous new-data cycle's "
                    f"requests), ratio {floor_rate / rate:.2f}"
                )
                results.append(
                    Result(
                        f"sync.postgresql.user_syncs_p{processes}_c{level}",
                        rate,
                        "syncs/s",
                        floor_rate,
                        floor_rate / rate,
                        TARGET_RATE * processes,
                    )
                )
            engine.dispose()
    finally:
        simulator.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument(
        "--concurrency", default="8,16", help="worker concurrencies to measure (comma-separated)"
    )
    parser.add_argument(
        "--threads", type=int, help="size of the event loop's default executor (default: Python's)"
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="also measure this many worker processes together (1: not)"
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    results: list[Result] = []
    pg = postgres_url()
    if pg is None:
        print("sync rows omitted: the benchmark needs PostgreSQL")
    else:
        results = run(pg, args.users, levels, args.threads, args.processes)
    for result in results:
        print(result.line())
    write_json(args.json, results)


if __name__ == "__main__":
    main()

"""An Inlet server and both partner simulators on loopback, people connected through the real OAuth
flow, and sync workers run in-process with the simulators' clock injected (no sleeping).

``tests/sync/conftest.py`` makes the ``sync_env`` fixture available to every sync test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from inlet.db.schema import data_sources, device_data, partner_payloads, sync_tasks
from inlet.model.parse import parse_data
from inlet.model.timeutil import to_micros
from inlet.partners.dexcom.mapping import map_records as dexcom_map
from inlet.partners.registry import load_registry
from inlet.simulator import (
    BackgroundSimulator,
    FrozenClock,
    create_acme_app,
    create_dexcom_app,
    default_acme_config,
    default_dexcom_config,
    start_simulator,
)
from inlet.sync.service import build_worker
from inlet.sync.worker import Worker, WorkerStats
from tests.live import start_live_server
from tests.partners.conftest import Account, Browser, Clock, Inlet, partner_env

T0 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # 05:00 in Los Angeles: outside Dexcom's window
HISTORY_START = T0 - timedelta(days=12)
DEXCOM_USER = "SandboxUser1"
ACME_USER = "acme-user-1"
US = 1_000_000


@dataclass
class SyncEnv:
    inlet: Inlet
    dexcom: BackgroundSimulator
    acme: BackgroundSimulator
    dexcom_clock: FrozenClock
    acme_clock: FrozenClock

    @property
    def services(self) -> Any:
        return self.inlet.services

    @property
    def now(self) -> datetime:
        return self.dexcom_clock()

    def advance(self, delta: timedelta) -> None:
        self.dexcom_clock.advance(delta)
        self.acme_clock.advance(delta)
        self.inlet.clock.now = self.now

    def connect(self, slug: str = "dexcom", username: str = DEXCOM_USER) -> Account:
        account = self.inlet.signup()
        page = Browser(self.inlet.http).connect(self.inlet, account, slug, username)
        assert page.endswith("/authorized"), page
        return account

    def worker(self, **options: Any) -> Worker:
        micros = to_micros(self.now)
        options.setdefault("clock", lambda _conn: micros)
        return build_worker(self.services, poll_seconds=0.05, **options)

    def run_once(self, **options: Any) -> WorkerStats:
        worker = self.worker(**options)
        try:
            return asyncio.run(worker.run_once())
        finally:
            worker.close()

    def make_due(self, user_id: str | None = None) -> None:
        """Every task (or the user's) due now: what the passage of an interval would do."""
        from sqlalchemy import update

        query = update(sync_tasks).values(next_run_time=to_micros(self.now))
        if user_id is not None:
            query = query.where(sync_tasks.c.user_id == user_id)
        with self.services.engine.begin() as conn:
            conn.execute(query)

    # ---- what is stored -----------------------------------------------------------------------

    def source(self, user_id: str, slug: str = "dexcom") -> Any:
        with self.services.engine.connect() as conn:
            return conn.execute(
                select(data_sources).where(
                    data_sources.c.user_id == user_id, data_sources.c.provider_name == slug
                )
            ).one()

    def task(self, user_id: str, slug: str = "dexcom") -> Any:
        with self.services.engine.connect() as conn:
            return conn.execute(
                select(sync_tasks).where(sync_tasks.c.user_id == user_id, sync_tasks.c.provider_name == slug)
            ).first()

    def stored(self, user_id: str, datum_type: str | None = None) -> dict[str, dict[str, Any]]:
        """Current stored docs by origin id (asserting no origin id is current twice)."""
        d = device_data.c
        query = select(d.origin_id, d.doc).where(
            d.user_id == user_id, d.archived_time.is_(None), d.deleted_time.is_(None)
        )
        if datum_type is not None:
            query = query.where(d.type == datum_type)
        out: dict[str, dict[str, Any]] = {}
        with self.services.engine.connect() as conn:
            for origin_id, doc in conn.execute(query):
                assert origin_id not in out, f"origin id {origin_id} is stored twice"
                out[origin_id] = doc
        return out

    def payloads(self, user_id: str) -> list[Any]:
        with self.services.engine.connect() as conn:
            return list(conn.execute(select(partner_payloads).where(partner_payloads.c.user_id == user_id)))

    # ---- what the partner holds ---------------------------------------------------------------

    def dexcom_expected(self, kind: str = "egv", username: str = DEXCOM_USER) -> dict[str, dict[str, Any]]:
        """The simulator's records of ``kind`` visible now, mapped and normalized as Inlet stores them."""
        sim = self.dexcom.simulator
        start = (self.now - timedelta(days=400)).timestamp()
        end = self.now.timestamp()
        select_records = {"egv": sim.egvs, "calibration": sim.calibrations, "event": sim.events}[kind]
        mapped = dexcom_map(kind, select_records(username, start, end, self.now.timestamp()))
        return _normalized(mapped.datums)

    def acme_expected(self, kind: str = "basal", username: str = ACME_USER) -> dict[str, dict[str, Any]]:
        """The simulator's ``basal`` or ``bolus`` records visible now (ended plus the upload delay),
        mapped with the device's id and normalized as Inlet stores them, by origin id."""
        from inlet.partners.acme.mapping import map_records as acme_map
        from inlet.simulator.acme import AcmeSimulator

        sim = self.acme.simulator
        assert isinstance(sim, AcmeSimulator)
        start = (self.now - timedelta(days=400)).timestamp()
        now = self.now.timestamp()
        select_records = {"basal": sim.basals, "bolus": sim.boluses}[kind]
        device_id = sim.users[username].device_id
        mapped = acme_map(kind, select_records(username, start, now, now), device_id)
        assert not mapped.problems, mapped.problems[:3]
        return _normalized(mapped.datums)


def _normalized(datums: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    parsed = parse_data(datums)
    assert parsed.ok, parsed.errors[:3]
    return {d.doc["origin"]["id"]: d.doc for d in parsed.datums}


def same_records(stored: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    """Record by record: the same origin ids, and each stored document equal to the expected one."""
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    assert not missing, f"{len(missing)} record(s) missing, e.g. {missing[:3]}"
    assert not extra, f"{len(extra)} unexpected record(s), e.g. {extra[:3]}"
    for origin_id, doc in expected.items():
        have = {k: v for k, v in stored[origin_id].items() if k not in ("id", "uploadId")}
        want = {k: v for k, v in doc.items() if k not in ("id", "uploadId")}
        assert have == want, origin_id


@contextlib.contextmanager
def open_env(
    db_url: str, tmp_path: Path, t0: datetime = T0, history: timedelta = T0 - HISTORY_START
) -> Iterator[SyncEnv]:
    """Both simulators frozen at ``t0`` with ``history`` of data, and a live Inlet pointed at them."""
    dexcom_clock, acme_clock = FrozenClock(t0), FrozenClock(t0)
    config = default_dexcom_config(1, clock=dexcom_clock)
    accounts = tuple(replace(a, history_start=t0 - history) for a in config.accounts)
    acme_config = default_acme_config(1, clock=acme_clock)
    acme_accounts = tuple(replace(a, history_start=t0 - history) for a in acme_config.accounts)
    with (
        start_simulator(create_dexcom_app(replace(config, accounts=accounts))) as dexcom,
        start_simulator(create_acme_app(replace(acme_config, accounts=acme_accounts))) as acme,
    ):
        clock = Clock()
        clock.now = t0

        def configure(services: Any) -> None:
            services.partners.registry = load_registry(partner_env(dexcom, acme))
            services.partners.clock = clock
            services.accounts.clock = clock

        server = start_live_server(tmp_path, database_url=db_url, configure=configure)
        with httpx.Client(follow_redirects=False, timeout=20) as http:
            try:
                yield SyncEnv(Inlet(server, tmp_path, http, clock), dexcom, acme, dexcom_clock, acme_clock)
            finally:
                server.stop()


@pytest.fixture
def sync_env(db_url: str, tmp_path: Path) -> Iterator[SyncEnv]:
    with open_env(db_url, tmp_path) as env:
        yield env

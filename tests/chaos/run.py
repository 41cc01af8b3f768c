"""The chaos run (issue 12): people syncing through two real worker processes while faults are
injected at random, then a quiet phase, then an exact comparison.

Set-up: both partner simulators and both workers on one *compressed* clock (``factor`` simulated
seconds per real second, :mod:`tests.chaos.clock`): the workers are ``inlet worker`` with that clock
injected (:mod:`tests.chaos.worker`), so a run asks for what is new in simulated time. Each person is
an Inlet account connected through the real OAuth flow to their own simulator account (Dexcom or
ACME), a few spare accounts for switching. Every ``tick`` the driver makes every task due (what the
passage of the polling interval would do) and, at random, injects one fault:

- on a simulator's data API: 5xx, 429 bursts (``Retry-After``), timeouts, malformed and truncated
  bodies (both modes); on its token endpoint: 5xx. (Not unknown enum values: the simulator applies
  them to a record only while the fault is on, so the same record changes its content when read
  again, which no real partner does. See docs/reliability.md.)
- unstorable characters (a NUL and a lone surrogate, which PostgreSQL refuses, in a free-text string
  of about one record in five from the moment it is injected on: Dexcom's transmitterId, ACME's
  scheduleName); injected at both partners in the first two ticks of every run, and it stays on;
- access-token expiry (all of a simulator's), a revoked grant, an expired refresh token (one person);
- a reconnect during runs, a person switching to another partner account;
- ``kill -9`` of a worker process (a new one is started), and, when asked, one PostgreSQL restart
  (:func:`restart_postgresql`: the private cluster serving the database URL's port).

Every few ticks, and at the end: no source is ``connected`` without a successful run (or a connect)
in the last simulated day (the workers' stall limit is 22 simulated hours).

Quiet phase: faults off (the unstorable characters stay), every revoked person reconnected, the
clock frozen for the simulators and the workers alike; two rounds of "everything due" until every
connected source has completed a successful run claimed after the round began. Then, for every
person: the records stored in their source's current data set equal the simulator's records of their
current account exactly (origin ids and normalized documents: no gap, no duplicate), with what
PostgreSQL refuses replaced by U+FFFD (the product's promise); every stream: Dexcom's egv,
calibration, event and alert records and its devices' settings (cgmSettings, as of the last devices
fetch), ACME's basal and bolus. A source may be in ``error`` only with a reason matching what was
injected; and no token, authorization code or client secret appears in any file the run wrote: both
workers' logs, this process's log (the in-process Inlet server and simulators, written with the
production formatter) and the data directory.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from inlet.db.schema import data_sources, device_data, sync_tasks
from inlet.logs import log_formatter
from inlet.model.parse import parse_data
from inlet.model.timeutil import US, to_micros
from inlet.partners.registry import load_registry
from inlet.partners.states import PARKED
from inlet.simulator import (
    create_acme_app,
    create_dexcom_app,
    default_acme_config,
    default_dexcom_config,
    start_simulator,
)
from inlet.simulator.acme import AcmeAccount
from inlet.simulator.dexcom import DexcomAccount
from inlet.simulator.faults import FaultUpdate
from inlet.sync.policy import in_blackout
from inlet.sync.runner import storable
from tests.chaos.clock import CompressedClock
from tests.live import start_live_server
from tests.partners.conftest import CLIENT_SECRET, Account, Browser, Clock, Inlet, partner_env

REPO = Path(__file__).resolve().parents[2]
DAY_US = 86_400 * US
HISTORY = timedelta(days=2)
# What the source's error code may be for each injected fault that can end a grant.
ENDING = {"revoked": "authorization-revoked", "refresh-expired": "authorization-revoked"}


@dataclass
class Person:
    account: Account
    slug: str
    username: str
    injected: list[str] = field(default_factory=list)  # faults that may end the grant


@dataclass
class Report:
    people: int = 0
    minutes: float = 0.0
    factor: float = 0.0
    runs: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    records_compared: int = 0
    unstorable_compared: int = 0  # of them, records that held characters PostgreSQL refuses
    people_compared: int = 0
    in_error: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    simulated_days: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "minutes": round(self.minutes, 2),
            "factor": self.factor,
            "simulatedDays": round(self.simulated_days, 2),
            "runs": self.runs,
            "faults": dict(sorted(self.faults.items())),
            "recordsCompared": self.records_compared,
            "unstorableRecordsCompared": self.unstorable_compared,
            "peopleCompared": self.people_compared,
            "inError": self.in_error,
            "problems": self.problems[:50],
            "outcome": "pass" if self.ok else "fail",
        }


def _dexcom_accounts(count: int, start: datetime) -> tuple[DexcomAccount, ...]:
    zones = ("America/Los_Angeles", "America/Chicago", "Europe/London", "Asia/Tokyo")
    return tuple(
        DexcomAccount(
            f"chaos-dx-{i}",
            1000 + i,
            "g7" if i % 3 == 2 else "g6",
            ("receiver", "iOS", "android")[i % 3],  # type: ignore[arg-type]
            zones[i % len(zones)],
            None,
            history_start=start - HISTORY,
        )
        for i in range(count)
    )


def _acme_accounts(count: int, start: datetime) -> tuple[AcmeAccount, ...]:
    zones = ("America/Los_Angeles", "Europe/Paris", "America/New_York")
    return tuple(
        AcmeAccount(f"chaos-acme-{i}", 2000 + i, zones[i % len(zones)], history_start=start - HISTORY)
        for i in range(count)
    )


def _normalized(datums: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    parsed = parse_data(datums)
    assert parsed.ok, parsed.errors[:3]
    return {d.doc["origin"]["id"]: d.doc for d in parsed.datums}


def run_chaos(
    database_url: str,
    directory: Path,
    *,
    minutes: float,
    people: int,
    factor: float,
    seed: int = 12,
    pg_restart: bool = False,
    workers: int = 2,
    echo: Any = print,
) -> Report:
    rng = random.Random(seed)
    report = Report(people=people, minutes=minutes, factor=factor)
    start = datetime.now(UTC).replace(microsecond=0)
    directory.mkdir(parents=True, exist_ok=True)
    clock = CompressedClock.starting_now(start, factor, directory / "clock-frozen")
    dexcom_people = people // 2
    acme_people = people - dexcom_people
    spares = 3
    # codes and refresh tokens live in simulated time: long enough for a compressed clock
    lifetimes = {"code_lifetime": 30 * 86_400, "refresh_token_lifetime": 365 * 86_400}
    dx_config = default_dexcom_config(seed, clock=clock, **lifetimes)
    dx_config = replace(dx_config, accounts=_dexcom_accounts(dexcom_people + spares, start))
    acme_config = default_acme_config(seed, clock=clock, **lifetimes)
    acme_config = replace(
        acme_config, accounts=_acme_accounts(acme_people + spares, start), requests_per_hour=None
    )
    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    # This process's log lines (the in-process Inlet server and both simulators), written as
    # production writes them (the same formatter and levels), so the secret scan reads them too.
    driver_log = logging.FileHandler(logs / "driver.log")
    driver_log.setFormatter(log_formatter("json"))
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", "httpx2", "httpcore", "hpack")}
    root.addHandler(driver_log)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpx2", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with (
        start_simulator(create_dexcom_app(dx_config)) as dexcom,
        start_simulator(create_acme_app(acme_config)) as acme,
    ):
        partners = {
            **partner_env(dexcom, acme),
            "INLET_PARTNER_DEXCOM_REQUESTS_PER_HOUR": "10000000",
            "INLET_PARTNER_ACME_REQUESTS_PER_HOUR": "10000000",
            # Inlet looks further back than the accounts' history (a pump's history starts a day
            # early): everything an account holds is fetched, so everything can be compared.
            "INLET_PARTNER_ACME_HISTORY_START": (start - HISTORY - timedelta(days=3)).date().isoformat(),
            "INLET_PARTNER_DEXCOM_HISTORY_START": (start - HISTORY - timedelta(days=3)).date().isoformat(),
        }
        inlet_clock = Clock()

        def configure(services: Any) -> None:
            services.partners.registry = load_registry(partners)
            # The server decides on the workers' clock too: a connect is recorded at the simulated
            # time the workers judge it by (on real time, days behind, the stall check took every
            # source reconnected in the quiet phase for one not synced for days: run 2). The OAuth
            # state's lifetime keeps its real length.
            services.partners.clock = clock
            services.partners.state_ttl_seconds = int(services.partners.state_ttl_seconds * factor)

        data_dir = directory / "inlet"
        data_dir.mkdir(exist_ok=True)
        server = start_live_server(data_dir, database_url=database_url, configure=configure)
        http = httpx.Client(follow_redirects=False, timeout=30)
        inlet = Inlet(server, data_dir, http, inlet_clock)
        engine = server.services.engine
        sims = {"dexcom": dexcom, "acme": acme}
        procs: list[subprocess.Popen[bytes]] = []
        try:
            crowd: list[Person] = []
            for index in range(people):
                slug = "dexcom" if index < dexcom_people else "acme"
                number = index if slug == "dexcom" else index - dexcom_people
                username = f"chaos-dx-{number}" if slug == "dexcom" else f"chaos-acme-{number}"
                inlet_clock.now = datetime.now(UTC)
                account = inlet.signup()
                page = Browser(http).connect(inlet, account, slug, username)
                assert page.endswith("/authorized"), page
                crowd.append(Person(account, slug, username))
            spare = {"dexcom": dexcom_people, "acme": acme_people}
            echo(f"chaos: {people} people connected; starting {workers} workers")

            child_env = {
                **os.environ,
                **partners,
                "INLET_DATABASE_URL": database_url,
                "INLET_DATA_DIR": str(data_dir),
                "INLET_SYNC_LEASE_SECONDS": "10",  # real seconds (tests/chaos/worker.py scales it)
                # stalled sources go to error before a simulated day without a success (housekeeping
                # runs every simulated hour), so "connected" always means "synced in the last day"
                "INLET_SYNC_STALL_HOURS": "22",
                "INLET_LOG_FORMAT": "json",
                **clock.env(),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            }

            def start_worker(number: int) -> subprocess.Popen[bytes]:
                out = (logs / f"worker-{number}.log").open("ab")
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tests.chaos.worker", "--concurrency", "4"],
                    cwd=REPO,
                    env=child_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                out.close()
                return proc

            procs.extend(start_worker(n) for n in range(workers))
            started_workers = workers

            def make_due(only: list[str] | None = None) -> None:
                """Every task due now (``only``: those tasks; the quiet phase makes due the ones
                still waiting for their run, so the others, done, do not take the workers' turns)."""
                try:
                    with engine.begin() as conn:
                        now = clock.db(conn)
                        chosen = (
                            sync_tasks.c.id.in_(only) if only is not None else sync_tasks.c.id.is_not(None)
                        )
                        conn.execute(
                            update(sync_tasks)
                            .where(
                                chosen,
                                sync_tasks.c.next_run_time < PARKED,
                                sync_tasks.c.next_run_time > now,
                            )
                            .values(next_run_time=now)
                        )
                except (OperationalError, InterfaceError):
                    pass  # the database restarting: the next tick tries again

            connected_at = {person.account.user_id: clock.micros() for person in crowd}

            def reconnect(person: Person, username: str | None = None) -> bool:
                """The person connects again (a faulted token endpoint may refuse: they retry)."""
                for _ in range(5):
                    person.account = _fresh_session(inlet, person.account)
                    page = Browser(http).connect(
                        inlet, person.account, person.slug, username or person.username
                    )
                    if page.endswith("/authorized"):
                        if username is not None:
                            person.username = username
                        person.injected.clear()
                        connected_at[person.account.user_id] = clock.micros()
                        return True
                    time.sleep(0.5)
                report.faults["reconnect-refused"] += 1
                return False

            # The unstorable-characters fault stays on once injected (it marks records by their
            # time, so a record never changes its content): a reset puts it back.
            unstorable_since: dict[str, float] = {}

            def reset_faults(slug: str) -> None:
                faults = sims[slug].simulator.faults
                faults.reset()
                if slug in unstorable_since:
                    faults.update(FaultUpdate(unstorable_since=unstorable_since[slug]))

            chaos_began = time.monotonic()  # the chaos' times count from here, after the connects
            chaos_until = chaos_began + minutes * 60 * 0.6
            killed = restarted = False
            faulted: dict[str, float] = {}
            ticks = 0
            said = chaos_began
            while time.monotonic() < chaos_until:
                make_due()
                ticks += 1
                if time.monotonic() - said > 60:
                    said = time.monotonic()
                    echo(f"chaos: {(said - chaos_began) / 60:.0f} min, {sum(report.faults.values())} faults")
                if ticks % 5 == 0:
                    _check_recent_success(report, engine, clock, connected_at)
                for slug, until in list(faulted.items()):
                    if time.monotonic() > until:
                        reset_faults(slug)
                        del faulted[slug]
                kind = rng.choice(
                    [
                        "5xx",
                        "429",
                        "timeout",
                        "malformed",
                        "truncated",
                        "token-5xx",
                        "access-expiry",
                        "revoked",
                        "refresh-expired",
                        "unstorable",
                        "reconnect",
                        "switch",
                        "none",
                        "none",
                    ]
                )
                slug = rng.choice(["dexcom", "acme"])
                if ticks <= 2:  # every run covers unstorable characters at both partners
                    kind, slug = "unstorable", ("dexcom", "acme")[ticks - 1]
                faults = sims[slug].simulator.faults
                update_: FaultUpdate | None = {
                    "5xx": FaultUpdate(error_rate=0.3),
                    "429": FaultUpdate(burst_429=rng.randint(2, 8), retry_after=1),
                    "timeout": FaultUpdate(timeout_rate=0.1, hang_seconds=3.0),
                    "malformed": FaultUpdate(malformed_rate=0.2),
                    "truncated": FaultUpdate(
                        truncated_rate=0.2, truncate_mode=rng.choice(["close", "short"])
                    ),
                    "token-5xx": FaultUpdate(error_rate=0.5, targets=["token"]),
                }.get(kind)
                if update_ is not None and slug not in faulted:
                    faults.update(update_)
                    faulted[slug] = time.monotonic() + rng.uniform(1.0, 4.0)
                    report.faults[f"{slug}:{kind}"] += 1
                elif kind == "unstorable":
                    if slug not in unstorable_since:
                        unstorable_since[slug] = sims[slug].simulator.now()
                        faults.update(FaultUpdate(unstorable_since=unstorable_since[slug]))
                        report.faults[f"{slug}:{kind}"] += 1
                elif kind == "access-expiry":
                    store = sims[slug].simulator.oauth.store
                    store.expire_access_tokens(sims[slug].simulator.now())
                    report.faults[f"{slug}:{kind}"] += 1
                elif kind in ("revoked", "refresh-expired"):
                    person = rng.choice([p for p in crowd if p.slug == slug])
                    sim = sims[slug].simulator
                    store = sim.oauth.store
                    grants = store.select_grants(username=person.username)
                    now_s = sim.now()
                    if kind == "revoked":
                        store.revoke([g.id for g in grants], now_s, "chaos")
                    else:
                        ids = {g.id for g in grants}
                        with store.lock:
                            for token in store.by_refresh.values():
                                if token.grant_id in ids:
                                    token.refresh_expires_at = now_s
                        store.expire_access_tokens(now_s)
                    person.injected.append(kind)
                    report.faults[f"{slug}:{kind}"] += 1
                elif kind == "reconnect":
                    person = rng.choice(crowd)
                    reconnect(person)
                    report.faults[f"{person.slug}:reconnect"] += 1
                elif (
                    kind == "switch"
                    and spare[slug] < (dexcom_people if slug == "dexcom" else acme_people) + spares
                ):
                    person = rng.choice([p for p in crowd if p.slug == slug])
                    number = spare[slug]
                    spare[slug] += 1
                    reconnect(person, f"chaos-dx-{number}" if slug == "dexcom" else f"chaos-acme-{number}")
                    report.faults[f"{slug}:switch-account"] += 1
                if not killed and time.monotonic() > chaos_began + minutes * 60 * 0.25:
                    os.kill(procs[0].pid, signal.SIGKILL)
                    procs[0].wait(timeout=10)
                    procs[0] = start_worker(started_workers)
                    started_workers += 1
                    killed = True
                    report.faults["worker:kill-9"] += 1
                if pg_restart and not restarted and time.monotonic() > chaos_began + minutes * 60 * 0.4:
                    restart_postgresql(database_url)
                    restarted = True
                    report.faults["postgresql:restart"] += 1
                time.sleep(rng.uniform(0.5, 1.5))

            # ---- quiet phase -------------------------------------------------------------------
            echo("chaos: quiet phase")
            for slug in sims:
                reset_faults(slug)
            for person in crowd:
                if person.injected:
                    reconnect(person)
            # The simulators' and the workers' time stop together, outside every partner's blackout
            # window (frozen inside one, every run would be put off to a window end that never
            # comes: run 2's quiet phase, frozen at 03:00 Pacific inside Dexcom's 02:45-03:45).
            registry = load_registry(partners)
            windows = [p.policy.blackouts for p in (registry.get(slug) for slug in sims) if p is not None]
            frozen = clock.freeze(lambda at: not any(in_blackout(at, w) for w in windows))
            frozen_us = to_micros(frozen)
            report.simulated_days = (frozen - start).total_seconds() / 86_400
            quiet_deadline = time.monotonic() + max(90.0, minutes * 60 * 0.4)
            t, s_ = sync_tasks.c, data_sources.c
            for _ in range(2):
                if report.problems and "quiet run" in report.problems[-1]:
                    break
                # done: a run claimed after this point (a higher lease generation) completed and
                # succeeded (on the frozen clock every success is recorded at the frozen instant)
                with engine.connect() as conn:
                    generations = {
                        row.id: row.lease_generation for row in conn.execute(select(t.id, t.lease_generation))
                    }
                pending: list[str] | None = None
                while True:
                    make_due(pending)
                    with engine.connect() as conn:
                        rows = conn.execute(
                            select(
                                t.id, t.lease_generation, t.lease_owner, t.failure_count, t.last_success_time
                            )
                            .select_from(sync_tasks.join(data_sources, s_.id == t.data_source_id))
                            .where(s_.state == "connected")
                        ).all()
                    pending = [
                        row.id
                        for row in rows
                        if not (
                            row.lease_owner is None
                            and row.lease_generation > generations.get(row.id, -1)
                            and row.failure_count == 0
                            and row.last_success_time is not None
                            and row.last_success_time >= frozen_us
                        )
                    ]
                    if not pending:
                        break
                    if time.monotonic() > quiet_deadline:
                        with engine.connect() as conn:
                            late = conn.execute(
                                select(t.provider_name, t.failure_count, t.last_error, t.lease_owner).where(
                                    t.id.in_(pending[:5])
                                )
                            ).all()
                        report.problems.append(
                            f"{len(pending)} source(s) never completed a quiet run, e.g. "
                            + "; ".join(
                                f"{row.provider_name} failures {row.failure_count} "
                                f"{(row.last_error or {}).get('code')} leased {row.lease_owner is not None}"
                                for row in late
                            )
                        )
                        break
                    time.sleep(0.5)
            _check_recent_success(report, engine, clock, connected_at)
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            procs.clear()

            # ---- the comparison ----------------------------------------------------------------
            _compare(report, engine, crowd, sims, frozen)
            report.minutes = (time.monotonic() - began) / 60
            with engine.connect() as conn:
                for (state,) in conn.execute(select(data_sources.c.sync_state)):
                    report.runs += int(((state or {}).get("counters") or {}).get("runs", 0))
            secrets = _secrets(sims)
        finally:
            for proc in procs:
                proc.kill()
                proc.wait(timeout=10)
            http.close()
            server.stop()
            root.removeHandler(driver_log)
            driver_log.close()
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
    _secrets_absent(report, directory, secrets)
    return report


def _fresh_session(inlet: Inlet, account: Account) -> Account:
    """A new session token for ``account`` (the old one may have expired during a long run)."""
    row = inlet.http.post(
        f"{inlet.url}/auth/login",
        auth=(f"person{_number(inlet, account)}@example.org", "a-long-password"),
    )
    if row.status_code != 200:
        return account
    return Account(account.user_id, row.headers["x-tidepool-session-token"])


def _number(inlet: Inlet, account: Account) -> int:
    with inlet.services.engine.connect() as conn:
        from inlet.db.schema import users

        username = conn.execute(select(users.c.username).where(users.c.id == account.user_id)).scalar_one()
    return int(str(username).removeprefix("person").split("@", 1)[0])


def _check_recent_success(
    report: Report, engine: Any, clock: CompressedClock, connected_at: dict[str, int]
) -> None:
    """No source is ``connected`` without a successful run in the last simulated day (or a connect in
    it): a source that stopped syncing must have gone to ``error`` (the stall check) by then. Checked
    during the chaos and at the end; skipped while the database restarts."""
    t, s = sync_tasks.c, data_sources.c
    try:
        with engine.connect() as conn:
            now = clock.db(conn)
            rows = conn.execute(
                select(s.user_id, s.provider_name, t.last_success_time)
                .select_from(data_sources.join(sync_tasks, t.data_source_id == s.id))
                .where(s.state == "connected")
            ).all()
    except (OperationalError, InterfaceError):
        return
    for row in rows:
        recent = max(row.last_success_time or 0, connected_at.get(row.user_id, 0))
        if recent < now - DAY_US:
            report.problems.append(
                f"{row.provider_name} person {row.user_id}: connected without a successful run for "
                f"{(now - recent) / 3600 / US:.1f} simulated hours"
            )


def _compare(
    report: Report, engine: Any, crowd: list[Person], sims: dict[str, Any], frozen: datetime
) -> None:
    now = frozen.timestamp()
    begin = (frozen - timedelta(days=400)).timestamp()
    from inlet.partners.acme.mapping import map_records as acme_map
    from inlet.partners.dexcom.mapping import map_records as dexcom_map

    for person in crowd:
        with engine.connect() as conn:
            source = conn.execute(
                select(data_sources).where(
                    data_sources.c.user_id == person.account.user_id,
                    data_sources.c.provider_name == person.slug,
                )
            ).one()
        if source.state != "connected":
            code = (source.error or {}).get("code")
            report.in_error[person.account.user_id] = f"{source.state}:{code}"
            allowed = {ENDING[k] for k in person.injected if k in ENDING}
            if code not in allowed:
                report.problems.append(
                    f"{person.slug} person {person.account.user_id} ({person.username}): {source.state} "
                    f"({code}: {(source.error or {}).get('detail')}) not explained by "
                    f"{person.injected or 'no injected fault'}"
                )
            continue
        sim = sims[person.slug].simulator
        expected: dict[str, dict[str, Any]] = {}
        if person.slug == "dexcom":
            for kind, select_records in (
                ("egv", sim.egvs),
                ("calibration", sim.calibrations),
                ("event", sim.events),
                ("alert", sim.alerts),
            ):
                # what the partner sent, with what PostgreSQL refuses replaced (the product's promise)
                records = storable(select_records(person.username, begin, now, now))
                expected.update(_normalized(dexcom_map(kind, records).datums))
            types: tuple[str, ...] = (
                "alert",
                "cbg",
                "deviceEvent",
                "food",
                "insulin",
                "physicalActivity",
                "reportedState",
                "smbg",
            )
            _compare_devices(report, engine, person, sim, source)
        else:
            user = sim.users[person.username]
            device = user.device_id
            # What the partner declares uploaded: records starting before the device's
            # lastUploadTime (a bolus after the last basal upload is listed by the API but not yet
            # declared; Inlet fetches it once lastUploadTime passes it).
            uploaded = user.device(now)["lastUploadTime"]
            end = (
                datetime.fromisoformat(uploaded.replace("Z", "+00:00")).timestamp() + 1 if uploaded else begin
            )
            for kind, select_records in (("basal", sim.basals), ("bolus", sim.boluses)):
                mapped = acme_map(kind, storable(select_records(person.username, begin, end, now)), device)
                expected.update(_normalized(mapped.datums))
            types = ("basal", "bolus")
        d = device_data.c
        stored: dict[str, dict[str, Any]] = {}
        duplicates = 0
        with engine.connect() as conn:
            rows = conn.execute(
                select(d.origin_id, d.doc).where(
                    d.data_set_id == source.data_set_id,
                    d.archived_time.is_(None),
                    d.deleted_time.is_(None),
                    d.type.in_(types),
                )
            )
            for origin_id, doc in rows:
                if origin_id in stored:
                    duplicates += 1
                stored[origin_id] = doc
        missing = set(expected) - set(stored)
        extra = set(stored) - set(expected)
        changed = [
            k for k in set(expected) & set(stored) if _comparable(expected[k]) != _comparable(stored[k])
        ]
        if missing or extra or changed or duplicates:
            report.problems.append(
                f"{person.slug} person {person.account.user_id} ({person.username}): {len(missing)} missing, "
                f"{len(extra)} extra, {len(changed)} different, {duplicates} duplicated "
                f"of {len(expected)}; e.g. "
                + ", ".join(
                    f"{expected[k]['type']} {expected[k].get('deliveryType', '')}{expected[k]['time']}"
                    for k in sorted(missing)[:3]
                )
                + f"; streams {json.dumps((source.sync_state or {}).get('streams'))[:300]}"
            )
        report.records_compared += len(expected)
        report.unstorable_compared += sum(
            "\ufffd" in json.dumps(doc, ensure_ascii=False) for doc in expected.values()
        )
        report.people_compared += 1


def _compare_devices(report: Report, engine: Any, person: Person, sim: Any, source: Any) -> None:
    """Dexcom's devices (cgmSettings): fetched once a simulated day or when a transmitter is new, a
    datum only when a transmitter's settings changed. At the last fetch (the sync state's
    ``auxTime``), the simulator's devices give, for each transmitter, the settings Inlet must hold:
    its sync state's hash of them, and its latest stored cgmSettings of that transmitter."""
    from inlet.partners.dexcom.mapping import map_records as dexcom_map
    from inlet.partners.dexcom.sync import _SETTINGS_IGNORED, DEVICE_LOOKBACK, settings_hash

    streams = (source.sync_state or {}).get("streams") or {}
    aux, hashes = streams.get("auxTime"), streams.get("devices") or {}
    who = f"dexcom person {person.account.user_id} ({person.username})"
    if aux is None:
        report.problems.append(f"{who}: devices never fetched")
        return
    at = datetime.fromisoformat(aux.replace("Z", "+00:00"))
    records = storable(
        sim.devices(person.username, (at - DEVICE_LOOKBACK).timestamp(), at.timestamp(), at.timestamp())
    )
    mapped = dexcom_map("device", records, validate=False)
    ignored = _SETTINGS_IGNORED | {"id", "uploadId"}
    d = device_data.c
    with engine.connect() as conn:
        stored = [
            doc
            for (doc,) in conn.execute(
                select(d.doc)
                .where(
                    d.data_set_id == source.data_set_id,
                    d.type == "cgmSettings",
                    d.archived_time.is_(None),
                    d.deleted_time.is_(None),
                )
                .order_by(d.time)
            )
        ]
    latest = {str(doc.get("transmitterId") or doc.get("deviceId")): doc for doc in stored}
    for datum in mapped.datums:
        key = str(datum.get("transmitterId") or datum.get("deviceId"))
        expected = _normalized([datum])
        wanted = {k: v for k, v in next(iter(expected.values())).items() if k not in ignored}
        have = latest.get(key)
        if hashes.get(key) != settings_hash(datum) or have is None:
            report.problems.append(f"{who}: transmitter {key[:12]}'s settings not fetched as of {aux}")
        elif {k: v for k, v in have.items() if k not in ignored} != wanted:
            report.problems.append(f"{who}: transmitter {key[:12]}'s stored settings differ as of {aux}")
        report.records_compared += 1
    known = {str(d.get("transmitterId") or d.get("deviceId")) for d in mapped.datums}
    if set(latest) - known:
        report.problems.append(f"{who}: settings of a transmitter the account does not have")


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("id", "uploadId")}


def _secrets(sims: dict[str, Any]) -> set[str]:
    """Every access and refresh token and authorization code the simulators issued, and the client
    secret."""
    secrets: set[str] = {CLIENT_SECRET}
    for sim in sims.values():
        store = sim.simulator.oauth.store
        with store.lock:
            secrets.update(store.by_access)
            secrets.update(store.by_refresh)
            secrets.update(store.codes)
    return {s for s in secrets if s and len(s) >= 8}


def _secrets_absent(report: Report, directory: Path, secrets: set[str]) -> None:
    """No access or refresh token, authorization code or client secret in any file the run wrote:
    both workers' logs, this process's log (the in-process Inlet server and simulators), the data
    dir. Read after every process stopped and every log was closed."""
    files = [path for path in directory.rglob("*") if path.is_file()]
    names = {path.name for path in files}
    assert "driver.log" in names, names
    assert any(name.startswith("worker-") for name in names), names
    # every run of token characters in a file, looked up in the set (not every secret searched in
    # every file: a long run issues tens of thousands of tokens)
    words = re.compile(rb"[A-Za-z0-9_-]{8,}")  # token_urlsafe's alphabet, codes and the client secret
    encoded = {s.encode() for s in secrets}
    for path in files:
        data = path.read_bytes()
        if any(word in encoded for word in words.findall(data)):
            report.problems.append(f"a secret appears in {path.name}")
            return


def restart_postgresql(database_url: str) -> None:
    """Restart the local PostgreSQL cluster that serves ``database_url``'s port (found with
    ``pg_lsclusters``): a private cluster made for restart tests (docs/reliability.md), e.g.
    ``pg_createcluster 15 chaos -p 5433 --start -- --auth=trust``. Never the shared ``main`` cluster
    unless ``INLET_TEST_PG_RESTART_MAIN=1`` says so: other test runs and benchmarks use it."""
    port = make_url(database_url).port or 5432
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    for line in listing.splitlines():
        version, cluster, cluster_port, *_ = line.split()
        if int(cluster_port) == port:
            break
    else:
        raise RuntimeError(f"no local PostgreSQL cluster listens on port {port} (pg_lsclusters)")
    if cluster == "main" and os.environ.get("INLET_TEST_PG_RESTART_MAIN") != "1":
        raise RuntimeError(
            f"refusing to restart the shared cluster {version}/main on port {port}: point "
            "INLET_TEST_POSTGRES_URL at a private cluster (docs/reliability.md)"
        )
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--factor", type=float, default=288.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--pg-restart", action="store_true", help="restart PostgreSQL once (shared server!)")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    url = os.environ.get("INLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    from tests.chaos.database import fresh_database

    with tempfile.TemporaryDirectory(prefix="inlet-chaos-") as tmp, fresh_database(url) as database_url:
        report = run_chaos(
            database_url,
            Path(tmp),
            minutes=args.minutes,
            people=args.people,
            factor=args.factor,
            seed=args.seed,
            pg_restart=args.pg_restart,
            echo=lambda line: print(line, flush=True),
        )
    text = json.dumps(report.to_json(), indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if report.ok else 1

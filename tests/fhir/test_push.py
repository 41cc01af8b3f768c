"""FHIR push on SQLite and PostgreSQL: a stub FHIR server on loopback records what it was sent and
answers as scripted (200, 429 with Retry-After, 500); Inlet's own receiver in a live server gets the
same readings; leases fence a pusher whose lease expired; the endpoint token is encrypted at rest."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import fhir_endpoint_tokens, fhir_push_tasks
from inlet.fhir.push import FhirPusher, parse_endpoints, set_token, subscribe
from inlet.model.timeutil import to_micros
from inlet.services import Services
from tests.api.conftest import Account
from tests.api.test_data_sets import read, upload, user
from tests.live import start_live_server

from .helpers import assert_valid_bundle

NOW = datetime(2026, 10, 2, 0, 0, tzinfo=UTC)
TOKEN = "clinic-bearer-token-0123456789"


@dataclass
class Stub:
    """A minimal FHIR server: records each request, answers the next scripted (status, headers)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(
                {"path": self.path, "headers": dict(self.headers), "body": orjson.loads(body)}
            )
            status, headers = state.script.pop(0) if state.script else (200, {})
            answer = orjson.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": []})
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pat(client: TestClient) -> Account:
    person = user(client, "pat")
    readings = [
        {
            "type": "cbg",
            "units": "mg/dL",
            "value": 90 + step,
            "time": (NOW - timedelta(hours=2) + timedelta(minutes=5 * step)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deviceId": "DexG6_1",
            "timezoneOffset": 60,
        }
        for step in range(12)
    ]
    upload(client, person, readings, dataSetType="continuous", deviceId="DexG6_1")
    return person


def pusher(services: Services, endpoints: str, clock: Clock, **extra: Any) -> FhirPusher:
    return FhirPusher(
        services.engine, services.partners.vault, parse_endpoints(endpoints), clock=clock, **extra
    )


def task(services: Services) -> Any:
    with services.engine.connect() as conn:
        return conn.execute(select(fhir_push_tasks)).one()


def test_push_sends_a_valid_bundle_with_the_token_and_schedules_the_next(
    services: Services, pat: Account, stub: Stub
) -> None:
    clock = Clock(NOW)
    set_token(services.engine, services.partners.vault, "clinic", TOKEN, NOW)
    subscribe(services.engine, "clinic", pat.user_id, NOW)
    outcomes = pusher(services, f"clinic={stub.url}", clock).run_once()
    assert [(o.status, o.completed) for o in outcomes] == [(200, True)]
    (sent,) = stub.received
    assert sent["path"] == "/fhir/$submit-cgm-bundle"
    assert sent["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert sent["headers"]["Content-Type"] == "application/fhir+json"
    assert_valid_bundle(sent["body"])
    readings = [e for e in sent["body"]["entry"] if "effectiveDateTime" in e["resource"]]
    assert len(readings) == 12
    row = task(services)
    assert row.pushed_until == to_micros(NOW)
    assert row.next_run_time == to_micros(NOW + timedelta(minutes=60))
    assert row.lease_owner is None
    # nothing is due until the interval has passed; then only the new window goes out
    assert pusher(services, f"clinic={stub.url}", clock).run_once() == []
    clock.now = NOW + timedelta(minutes=61)
    pusher(services, f"clinic={stub.url}", clock).run_once()
    later = stub.received[1]["body"]
    assert [e for e in later["entry"] if "effectiveDateTime" in e["resource"]] == []
    # the token is stored encrypted, and nowhere in clear
    with services.engine.connect() as conn:
        ciphertext = conn.execute(select(fhir_endpoint_tokens.c.token_ciphertext)).scalar_one()
    assert TOKEN not in ciphertext


def test_429_waits_for_retry_after_and_5xx_backs_off(services: Services, pat: Account, stub: Stub) -> None:
    clock = Clock(NOW)
    subscribe(services.engine, "clinic", pat.user_id, NOW)
    stub.script = [(429, {"Retry-After": "120"}), (500, {}), (503, {})]
    endpoints = f"clinic={stub.url}"
    (limited,) = pusher(services, endpoints, clock).run_once()
    assert limited.status == 429
    row = task(services)
    assert row.next_run_time == to_micros(NOW + timedelta(seconds=120))
    assert (row.failure_count, row.pushed_until, row.last_status) == (0, None, 429)
    clock.now = NOW + timedelta(seconds=120)
    (failed,) = pusher(services, endpoints, clock).run_once()
    assert failed.status == 500
    row = task(services)
    assert row.failure_count == 1
    assert clock.now + timedelta(seconds=48) <= failed.next_run <= clock.now + timedelta(seconds=72)
    clock.now = failed.next_run
    (again,) = pusher(services, endpoints, clock).run_once()
    assert task(services).failure_count == 2
    assert clock.now + timedelta(seconds=96) <= again.next_run <= clock.now + timedelta(seconds=144)
    assert task(services).last_error == "HTTP 503"
    clock.now = again.next_run
    (ok,) = pusher(services, endpoints, clock).run_once()
    assert ok.status == 200
    assert task(services).failure_count == 0
    assert len(stub.received) == 4


def test_an_expired_lease_can_not_record_its_push(services: Services, pat: Account, stub: Stub) -> None:
    clock = Clock(NOW)
    subscribe(services.engine, "clinic", pat.user_id, NOW)
    first = pusher(services, f"clinic={stub.url}", clock)
    second = pusher(services, f"clinic={stub.url}", clock)
    (lease,) = first.claim()
    assert second.claim() == []  # held
    clock.now = NOW + timedelta(minutes=6)  # the lease (5 min) has expired: another pusher takes it
    (taken,) = second.claim()
    assert taken.generation == lease.generation + 1
    stale = first.push(lease)
    assert stale.completed is False
    assert task(services).lease_owner == second.owner
    assert second.push(taken).completed is True


def test_inlet_receives_what_inlet_pushes(
    client: TestClient, services: Services, pat: Account, tmp_path: Path
) -> None:
    """Inlet's own receiver, a live server on loopback; the endpoint's token is a session token of
    the receiving account, sent as ``Authorization: Bearer``."""
    server = start_live_server(tmp_path / "receiver")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            made = http.post(
                "/auth/user", json={"username": "inbox@example.org", "password": "correct-horse"}
            )
            inbox = {"x-tidepool-session-token": made.headers["x-tidepool-session-token"]}
            inbox_id = made.json()["userid"]
            set_token(
                services.engine, services.partners.vault, "inlet", inbox["x-tidepool-session-token"], NOW
            )
            subscribe(services.engine, "inlet", pat.user_id, NOW)
            (outcome,) = pusher(services, f"inlet={server.url}/v1/fhir", Clock(NOW)).run_once()
            assert outcome.status == 200
            received = http.get(f"/data/{inbox_id}", params={"type": "cbg"}, headers=inbox).json()
        sent = read(client, pat.headers, pat.user_id, type="cbg")
        assert len(sent) == 12
        assert [(d["time"], d["value"], d["deviceId"], d["timezoneOffset"]) for d in received] == [
            (d["time"], d["value"], d["deviceId"], d["timezoneOffset"]) for d in sent
        ]
    finally:
        server.stop()


def test_endpoints_are_read_strictly() -> None:
    assert parse_endpoints("a=https://x.example/fhir/, https://y.example/r4") == {
        "a": parse_endpoints("a=https://x.example/fhir")["a"],
        "y.example": parse_endpoints("y.example=https://y.example/r4")["y.example"],
    }
    with pytest.raises(ValueError, match="INLET_FHIR_ENDPOINTS"):
        parse_endpoints("clinic=ftp://x")

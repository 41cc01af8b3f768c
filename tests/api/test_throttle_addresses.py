"""The login throttle against guessers who change addresses, hide behind a proxy or race: over real
sockets, with the client side bound to chosen loopback addresses (127.0.0.2 ...), on both databases.

- per account across addresses: 20 addresses guessing one account are stopped after 10 failures;
- behind a proxy listed in INLET_TRUSTED_PROXIES the forwarded client is counted, so a guesser does not
  lock out another client of the same proxy, and a peer that is not listed cannot pick its address;
- ``inlet serve`` itself (not only the app) ignores X-Forwarded-For from an untrusted peer;
- parallel guesses never get more password checks than the limit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from inlet.services import Services
from tests.api.conftest import basic
from tests.live import LiveServer, start_live_server

PASSWORD = "correct-horse"


def client_from(address: str, **headers: str) -> httpx.Client:
    """An HTTP client whose TCP connections come from ``address`` (a loopback alias)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), headers=headers, timeout=30)


def login(base: str, address: str, username: str, password: str, **headers: str) -> httpx.Response:
    with client_from(address, **headers) as http:
        return http.post(f"{base}/auth/login", headers=basic(username, password))


def signup(base: str, username: str) -> None:
    with client_from("127.0.0.1") as http:
        response = http.post(f"{base}/auth/user", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201, response.text


def trusting(proxies: str):  # type: ignore[no-untyped-def]
    def configure(services: Services) -> None:
        services.settings = services.settings.model_copy(update={"trusted_proxies": proxies})

    return configure


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path, db_url)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def proxied(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server that believes X-Forwarded-For from 127.0.0.9 (a reverse proxy) only."""
    live = start_live_server(tmp_path, db_url, configure=trusting("127.0.0.9, 10.0.0.0/8"))
    try:
        yield live
    finally:
        live.stop()


def test_guessing_one_account_from_20_addresses_is_throttled_per_account(server: LiveServer) -> None:
    signup(server.url, "pat@example.org")
    signup(server.url, "sam@example.org")
    statuses = [
        login(server.url, f"127.0.0.{n}", "pat@example.org", f"guess-{n}").status_code for n in range(2, 22)
    ]
    assert statuses == [401] * 10 + [429] * 10  # no address failed more than once
    locked = login(server.url, "127.0.0.30", "pat@example.org", PASSWORD)
    assert locked.status_code == 429  # locked for every address, the right password too
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert locked.json()["errors"][0]["code"] == "too-many-requests"
    # the addresses themselves are not locked out of other accounts
    assert login(server.url, "127.0.0.2", "sam@example.org", PASSWORD).status_code == 200


def test_guessing_many_accounts_from_one_address_is_throttled_per_address(
    db_url: str, tmp_path: Path
) -> None:
    def configure(services: Services) -> None:
        services.accounts.failures_per_address = 6  # the rule, not its default of 50

    live = start_live_server(tmp_path, db_url, configure=configure)
    try:
        signup(live.url, "pat@example.org")
        statuses = [
            login(live.url, "127.0.0.5", f"user{n}@example.org", "guess").status_code for n in range(8)
        ]
        assert statuses == [401] * 6 + [429] * 2
        assert login(live.url, "127.0.0.5", "pat@example.org", PASSWORD).status_code == 429
        assert login(live.url, "127.0.0.6", "pat@example.org", PASSWORD).status_code == 200
    finally:
        live.stop()


def test_a_trusted_proxy_forwarding_two_clients_throttles_only_the_guesser(proxied: LiveServer) -> None:
    signup(proxied.url, "pat@example.org")
    for n in range(5):
        # the guesser puts an address of its choice in front; the proxy appends what it saw
        forwarded = f"203.0.113.{n}, 198.51.100.7"
        response = login(
            proxied.url, "127.0.0.9", "pat@example.org", "guess", **{"X-Forwarded-For": forwarded}
        )
        assert response.status_code == 401
    guesser = login(
        proxied.url,
        "127.0.0.9",
        "pat@example.org",
        PASSWORD,
        **{"X-Forwarded-For": "203.0.113.77, 198.51.100.7"},
    )
    assert guesser.status_code == 429
    # a chain of trusted proxies (10.0.0.0/8) in front of the listed one: still the real client
    chained = login(
        proxied.url, "127.0.0.9", "pat@example.org", PASSWORD, **{"X-Forwarded-For": "198.51.100.7, 10.1.2.3"}
    )
    assert chained.status_code == 429
    other = login(
        proxied.url, "127.0.0.9", "pat@example.org", PASSWORD, **{"X-Forwarded-For": "198.51.100.8"}
    )
    assert other.status_code == 200, other.text


def test_x_forwarded_for_from_a_peer_not_listed_is_ignored(proxied: LiveServer) -> None:
    signup(proxied.url, "sam@example.org")
    for n in range(5):
        spoofed = {"X-Forwarded-For": f"198.51.100.{n}"}
        assert login(proxied.url, "127.0.0.4", "sam@example.org", "guess", **spoofed).status_code == 401
    again = login(
        proxied.url, "127.0.0.4", "sam@example.org", PASSWORD, **{"X-Forwarded-For": "198.51.100.200"}
    )
    assert again.status_code == 429  # counted as 127.0.0.4 every time
    assert login(proxied.url, "127.0.0.5", "sam@example.org", PASSWORD).status_code == 200


STARTED = re.compile(r"http://127\.0\.0\.1:(\d+)")


def test_inlet_serve_ignores_x_forwarded_for_from_loopback(db_url: str, tmp_path: Path) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default; ``inlet serve`` must not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env.update(
        INLET_DATA_DIR=str(tmp_path / "state"),
        INLET_DATABASE_URL=db_url,
        INLET_PASSWORD_HASHING="fast-insecure-for-tests",
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "inlet.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and process.poll() is None:
            match = STARTED.search(log.read_text(errors="replace"))
            port = match.group(1) if match else None
            time.sleep(0.05)
        assert port is not None, log.read_text(errors="replace")
        base = f"http://127.0.0.1:{port}"
        signup(base, "pat@example.org")
        for n in range(5):
            spoofed = {"X-Forwarded-For": f"198.51.100.{n}"}
            assert login(base, "127.0.0.1", "pat@example.org", "guess", **spoofed).status_code == 401
        last = login(base, "127.0.0.1", "pat@example.org", PASSWORD, **{"X-Forwarded-For": "198.51.100.99"})
        assert last.status_code == 429
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_parallel_guesses_never_exceed_the_limit(server: LiveServer) -> None:
    signup(server.url, "pat@example.org")
    attempts = 24
    barrier = threading.Barrier(attempts)

    def guess(n: int) -> int:
        with client_from("127.0.0.7") as http:
            http.get(f"{server.url}/v1/time")  # connected before the race starts
            barrier.wait()
            return http.post(
                f"{server.url}/auth/login", headers=basic("pat@example.org", f"guess-{n}")
            ).status_code

    with ThreadPoolExecutor(attempts) as pool:
        statuses = list(pool.map(guess, range(attempts)))
    assert set(statuses) <= {401, 429}
    checked = statuses.count(401)
    assert checked <= 5, statuses  # at most the pair limit of password checks
    # A race may refuse more than it must (each attempt counts the others in flight), never fewer:
    # guessing on, one at a time, gets exactly the rest of the five checks.
    more = [login(server.url, "127.0.0.7", "pat@example.org", "guess").status_code for _ in range(6)]
    assert more == [401] * (5 - checked) + [429] * (1 + checked)

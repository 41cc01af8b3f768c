"""Simulators served on loopback (port 0) with a frozen clock, and the OAuth dance as a browser and a
client do it.

Histories are 16 days long (the DST change of 2026-03-08 in the US zones falls inside), so a test that
reads data pays for 16 simulated days, not the 30+ of the defaults. Servers that no test changes are
shared per module; a test that moves the clock or sets faults takes its own.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from inlet.simulator import (
    AcmeConfig,
    BackgroundSimulator,
    DexcomConfig,
    FrozenClock,
    create_acme_app,
    create_dexcom_app,
    default_acme_config,
    default_dexcom_config,
    start_simulator,
)

T0 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
HISTORY_START = T0 - timedelta(days=16)
ADMIN = "admin-token-for-tests"
CLIENT_ID = "inlet"
CLIENT_SECRET = "inlet-simulator-secret"
DEXCOM_REDIRECT = "http://127.0.0.1:8000/v1/oauth/dexcom/redirect"
ACME_REDIRECT = "http://127.0.0.1:8000/v1/oauth/acme/redirect"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def dexcom_config(clock: FrozenClock, seed: int = 1, **overrides: Any) -> DexcomConfig:
    config = default_dexcom_config(seed, **{"clock": clock, "admin_token": ADMIN, **overrides})
    accounts = tuple(replace(a, history_start=HISTORY_START) for a in config.accounts)
    return replace(config, accounts=accounts)


def acme_config(clock: FrozenClock, seed: int = 1, **overrides: Any) -> AcmeConfig:
    config = default_acme_config(seed, **{"clock": clock, "admin_token": ADMIN, **overrides})
    accounts = tuple(replace(a, history_start=HISTORY_START) for a in config.accounts)
    return replace(config, accounts=accounts)


@pytest.fixture(scope="module")
def module_clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def clock(module_clock: FrozenClock) -> Iterator[FrozenClock]:
    """The frozen clock of this module's simulators, at T0 when the test starts and again after it."""
    module_clock.set(T0)
    yield module_clock
    module_clock.set(T0)


@pytest.fixture(scope="module")
def dexcom_server(module_clock: FrozenClock) -> Iterator[BackgroundSimulator]:
    with start_simulator(create_dexcom_app(dexcom_config(module_clock))) as server:
        yield server


@pytest.fixture
def dexcom(dexcom_server: BackgroundSimulator, clock: FrozenClock) -> Iterator[BackgroundSimulator]:
    """A Dexcom simulator the test may change (clock, faults, grants): reset before and after it."""
    dexcom_server.simulator.reset()
    yield dexcom_server
    dexcom_server.simulator.reset()


@pytest.fixture
def make_dexcom(clock: FrozenClock) -> Iterator[Callable[..., BackgroundSimulator]]:
    """Dexcom simulators with config overrides, stopped at the end of the test."""
    started: list[BackgroundSimulator] = []

    def make(**overrides: Any) -> BackgroundSimulator:
        server = start_simulator(create_dexcom_app(dexcom_config(clock, **overrides)))
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def shared_dexcom() -> Iterator[BackgroundSimulator]:
    """One Dexcom simulator per module that no test changes (clock frozen at T0, no faults)."""
    with start_simulator(create_dexcom_app(dexcom_config(FrozenClock(T0)))) as server:
        yield server


@pytest.fixture(scope="module")
def acme_server(module_clock: FrozenClock) -> Iterator[BackgroundSimulator]:
    with start_simulator(create_acme_app(acme_config(module_clock))) as server:
        yield server


@pytest.fixture
def acme(acme_server: BackgroundSimulator, clock: FrozenClock) -> Iterator[BackgroundSimulator]:
    acme_server.simulator.reset()
    yield acme_server
    acme_server.simulator.reset()


@pytest.fixture(scope="module")
def shared_acme() -> Iterator[BackgroundSimulator]:
    with start_simulator(create_acme_app(acme_config(FrozenClock(T0)))) as server:
        yield server


@pytest.fixture
def http(request: pytest.FixtureRequest) -> Iterator[Callable[[BackgroundSimulator], httpx.Client]]:
    """``http(server)``: an httpx client on the server's base URL (no redirects followed), closed after."""
    clients: list[httpx.Client] = []

    def make(server: BackgroundSimulator, **options: Any) -> httpx.Client:
        client = httpx.Client(
            base_url=server.url, follow_redirects=False, timeout=options.pop("timeout", 10.0), **options
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- the OAuth dance --------------------------------------------------------------------------------
def login_params(redirect_uri: str = DEXCOM_REDIRECT, state: str = "state-1", **extra: str) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "offline_access",
        "state": state,
        **extra,
    }


def consent(
    http: httpx.Client,
    username: str = "SandboxUser1",
    decision: str = "allow",
    path: str = "/v2/oauth2/login",
    params: dict[str, str] | None = None,
    password: str = "",
) -> httpx.Response:
    """What the browser does: open the login page, then submit the form with Allow or Deny."""
    params = params or login_params()
    page = http.get(path, params=params)
    assert page.status_code == 200, page.text
    return http.post(
        path, params=params, data={"username": username, "password": password, "decision": decision}
    )


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def exchange(
    http: httpx.Client, code: str, redirect_uri: str = DEXCOM_REDIRECT, **extra: str
) -> httpx.Response:
    return http.post(
        "/v2/oauth2/token",
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            **extra,
        },
    )


def refresh(http: httpx.Client, refresh_token: str, path: str = "/v2/oauth2/token") -> httpx.Response:
    return http.post(
        path,
        data={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
    )


def connect(http: httpx.Client, username: str = "SandboxUser1") -> dict[str, Any]:
    """The whole Dexcom connect flow: consent, code, tokens."""
    code = redirect_query(consent(http, username))["code"]
    response = exchange(http, code)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def window(start: datetime, end: datetime) -> dict[str, str]:
    return {"startDate": start.strftime("%Y-%m-%dT%H:%M:%S"), "endDate": end.strftime("%Y-%m-%dT%H:%M:%S")}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def acme_connect(http: httpx.Client, username: str = "acme-user-1") -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    params = login_params(
        ACME_REDIRECT,
        scope="pump:read offline_access",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    code = redirect_query(consent(http, username, path="/oauth/authorize", params=params))["code"]
    response = http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": ACME_REDIRECT,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens

"""Inlet and the partner simulators, both served on loopback, and a browser that walks the connect
flow between them one redirect at a time.

``inlet`` is a real uvicorn server per test over the test's database (SQLite and PostgreSQL), its
data directory the test's ``tmp_path``; its partners point at the module's simulators (a Dexcom-like
one and the ACME pump, clocks frozen). ``Browser`` follows nothing by itself: each test sees every
hop (307 to the partner, the consent form, 302 back, 303 to a result page).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from inlet.db.schema import data_sources, provider_sessions, sync_tasks
from inlet.model.timeutil import now_utc
from inlet.partners.registry import load_registry
from inlet.services import Services
from inlet.simulator import (
    BackgroundSimulator,
    FrozenClock,
    create_acme_app,
    create_dexcom_app,
    default_acme_config,
    default_dexcom_config,
    start_simulator,
)
from tests.live import LiveServer, start_live_server

T0 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
HISTORY_START = T0 - timedelta(days=16)
CLIENT_ID = "inlet"
CLIENT_SECRET = "inlet-simulator-secret"


@pytest.fixture(scope="module")
def dexcom_sim() -> Iterator[BackgroundSimulator]:
    config = default_dexcom_config(1, clock=FrozenClock(T0))
    accounts = tuple(replace(a, history_start=HISTORY_START) for a in config.accounts)
    with start_simulator(create_dexcom_app(replace(config, accounts=accounts))) as server:
        yield server


@pytest.fixture(scope="module")
def acme_sim() -> Iterator[BackgroundSimulator]:
    config = default_acme_config(1, clock=FrozenClock(T0))
    accounts = tuple(replace(a, history_start=HISTORY_START) for a in config.accounts)
    with start_simulator(create_acme_app(replace(config, accounts=accounts))) as server:
        yield server


def partner_env(dexcom: BackgroundSimulator, acme: BackgroundSimulator) -> dict[str, str]:
    """``INLET_PARTNER_*`` pointing both partners at the simulators, as an operator would."""
    env: dict[str, str] = {}
    for slug, server, paths in (
        ("DEXCOM", dexcom, ("/v2/oauth2/login", "/v2/oauth2/token", "/v2/oauth2/revoke")),
        ("ACME", acme, ("/oauth/authorize", "/oauth/token", "/oauth/revoke")),
    ):
        env.update(
            {
                f"INLET_PARTNER_{slug}_AUTHORIZE_URL": server.url + paths[0],
                f"INLET_PARTNER_{slug}_TOKEN_URL": server.url + paths[1],
                f"INLET_PARTNER_{slug}_REVOKE_URL": server.url + paths[2],
                f"INLET_PARTNER_{slug}_API_URL": server.url,
                f"INLET_PARTNER_{slug}_CLIENT_ID": CLIENT_ID,
                f"INLET_PARTNER_{slug}_CLIENT_SECRET": CLIENT_SECRET,
            }
        )
    return env


@dataclass
class Account:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-tidepool-session-token": self.token}


class Clock:
    """A clock a test moves (``services.partners.clock``, ``services.accounts.clock``)."""

    def __init__(self) -> None:
        self.now = now_utc()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Inlet:
    """A live Inlet server and the calls tests make to it."""

    server: LiveServer
    data_dir: Path
    http: httpx.Client
    clock: Clock
    counter: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def services(self) -> Services:
        return self.server.services

    def signup(self) -> Account:
        self.counter += 1
        response = self.http.post(
            f"{self.url}/auth/user",
            json={"username": f"person{self.counter}@example.org", "password": "a-long-password"},
        )
        assert response.status_code == 201, response.text
        return Account(response.json()["userid"], response.headers["x-tidepool-session-token"])

    def restricted_token(self, account: Account, paths: list[str] | None = None) -> str:
        body: dict[str, Any] = {} if paths is None else {"paths": paths}
        response = self.http.post(
            f"{self.url}/v1/users/{account.user_id}/restricted_tokens", json=body, headers=account.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def data_sources(self, account: Account) -> list[dict[str, Any]]:
        response = self.http.get(
            f"{self.url}/v1/users/{account.user_id}/data_sources", headers=account.headers
        )
        assert response.status_code == 200, response.text
        return list(response.json())

    def rows(self, table: Any, user_id: str) -> list[Any]:
        with self.services.engine.connect() as conn:
            return list(conn.execute(select(table).where(table.c.user_id == user_id)).all())

    def sessions(self, user_id: str) -> list[Any]:
        return self.rows(provider_sessions, user_id)

    def sources(self, user_id: str) -> list[Any]:
        return self.rows(data_sources, user_id)

    def tasks(self, user_id: str) -> list[Any]:
        return self.rows(sync_tasks, user_id)


@pytest.fixture
def inlet(
    db_url: str, tmp_path: Path, dexcom_sim: BackgroundSimulator, acme_sim: BackgroundSimulator
) -> Iterator[Inlet]:
    clock = Clock()

    def configure(services: Services) -> None:
        services.partners.registry = load_registry(partner_env(dexcom_sim, acme_sim))
        services.partners.clock = clock
        services.accounts.clock = clock

    server = start_live_server(tmp_path, database_url=db_url, configure=configure)
    with httpx.Client(follow_redirects=False, timeout=20) as http:
        try:
            yield Inlet(server, tmp_path, http, clock)
        finally:
            server.stop()
    dexcom_sim.simulator.reset()
    acme_sim.simulator.reset()


# ---- the browser ----------------------------------------------------------------------------------


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


class Browser:
    """One hop at a time, as a person's browser goes; asserts the status of each hop."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def authorize(self, inlet_url: str, slug: str, restricted_token: str) -> str:
        """Inlet's authorize URL -> 307: the partner's authorize URL."""
        response = self.http.get(
            f"{inlet_url}/v1/oauth/{slug}/authorize", params={"restricted_token": restricted_token}
        )
        assert response.status_code == 307, response.text
        assert response.headers["cache-control"] == "no-store"
        return response.headers["location"]

    def consent(self, partner_url: str, username: str, decision: str = "allow") -> str:
        """The partner's login page, then its form submitted -> 302: Inlet's redirect URI."""
        page = self.http.get(partner_url)
        assert page.status_code == 200, page.text
        assert "<form" in page.text
        response = self.http.post(
            partner_url, data={"username": username, "password": "", "decision": decision}
        )
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def finish(self, redirect_url: str) -> str:
        """Inlet's redirect URI -> 303: the result page, which must answer 200 HTML."""
        response = self.http.get(redirect_url)
        assert response.status_code == 303, response.text
        page_url = response.headers["location"]
        page = self.http.get(page_url)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        return page_url

    def connect(
        self, inlet: Inlet, account: Account, slug: str, username: str, decision: str = "allow"
    ) -> str:
        """The whole dance from a fresh restricted token; the result page's URL."""
        token = inlet.restricted_token(account, [f"/v1/oauth/{slug}"])
        partner_url = self.authorize(inlet.url, slug, token)
        return self.finish(self.consent(partner_url, username, decision))


@pytest.fixture
def browser(inlet: Inlet) -> Browser:
    return Browser(inlet.http)


def outcome(page_url: str) -> str:
    """``authorized``, ``declined`` or ``error`` (with ``?reason=`` when there is one)."""
    parts = urlsplit(page_url)
    reason = query(page_url).get("reason")
    name = parts.path.rsplit("/", 1)[-1]
    return f"{name}:{reason}" if reason else name

"""Web sessions slide (a person who keeps using the pages stays logged in; a session left idle for its
lifetime expires), and "Log out everywhere" on the profile ends every session of the account: other
browsers, API clients and restricted tokens included."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import sessions
from inlet.model.timeutil import now_utc, to_micros
from inlet.services import Services
from inlet.web.session import SESSION_COOKIE
from tests.web.conftest import PASSWORD, Web, account, csrf_of


class Clock:
    def __init__(self) -> None:
        self.now = now_utc()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(services: Services) -> Clock:
    clock = Clock()
    services.accounts.clock = clock
    return clock


def expiry(services: Services, token: str) -> int:
    from inlet.accounts import tokens

    with services.engine.connect() as conn:
        return int(
            conn.execute(
                select(sessions.c.expires_time).where(sessions.c.token_hash == tokens.digest(token))
            ).scalar_one()
        )


def session_cookie_set(response: object) -> str | None:
    for header in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        if header.startswith(SESSION_COOKIE + "="):
            return str(header)
    return None


def test_an_active_web_session_slides_and_an_idle_one_expires(
    web: Web, client: TestClient, services: Services, clock: Clock
) -> None:
    account(client, "pat")
    web.login("pat@example.org")
    token = web.client.cookies.get(SESSION_COOKIE)
    assert token is not None
    ttl = services.accounts.session_ttl_seconds

    early = web.get("/profile")  # more than half the lifetime left: nothing written
    assert early.status_code == 200
    assert session_cookie_set(early) is None

    for _ in range(4):  # used every 3/4 of the lifetime: three lifetimes in all, still logged in
        clock.advance(ttl * 0.75)
        page = web.get("/profile")
        assert page.status_code == 200, page.headers.get("location")
        assert expiry(services, token) == to_micros(clock.now) + ttl * 1_000_000
        renewed = session_cookie_set(page)
        assert renewed is not None
        assert f"Max-Age={ttl}" in renewed
        assert "HttpOnly" in renewed

    clock.advance(ttl + 1)  # idle for a whole lifetime
    assert web.get("/profile").headers["location"] == "/login?next=/profile"
    clock.advance(1)
    assert web.get("/profile").headers["location"] == "/login?next=/profile"  # never brought back


def test_api_sessions_do_not_slide(client: TestClient, services: Services, clock: Clock) -> None:
    pat = account(client, "pat")
    ttl = services.accounts.session_ttl_seconds
    clock.advance(ttl * 0.75)
    assert client.get("/auth/user", headers=pat.headers).status_code == 200
    clock.advance(ttl * 0.3)
    assert client.get("/auth/user", headers=pat.headers).status_code == 401


def test_log_out_everywhere_ends_every_session_of_the_account(
    web: Web, client: TestClient, services: Services
) -> None:
    pat = account(client, "pat")  # an API session (as an app holds)
    sam = account(client, "sam")
    restricted = client.post(f"/v1/users/{pat.user_id}/restricted_tokens", json={}, headers=pat.headers)
    assert restricted.status_code == 201
    web.login("pat@example.org")
    with TestClient(client.app) as other_client:  # another browser
        other = Web(other_client)
        other.login("pat@example.org")
        assert other.get("/profile").status_code == 200

        profile = web.get("/profile")
        assert "Log out everywhere" in profile.text
        refused = web.client.post("/logout/everywhere", data={}, follow_redirects=False)
        assert refused.status_code == 403  # no CSRF token: nothing ended
        assert client.get("/auth/user", headers=pat.headers).status_code == 200

        done = web.client.post(
            "/logout/everywhere", data={"csrf_token": csrf_of(profile)}, follow_redirects=False
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/"
        assert web.get("/profile").headers["location"] == "/login?next=/profile"
        assert other.get("/profile").headers["location"] == "/login?next=/profile"
    assert client.get("/auth/user", headers=pat.headers).status_code == 401
    token = restricted.json()["id"]
    assert client.get("/v1/oauth/dexcom/authorize", params={"restricted_token": token}).status_code == 401
    assert client.get("/auth/user", headers=sam.headers).status_code == 200  # other accounts untouched
    with services.engine.connect() as conn:
        left = conn.execute(select(sessions.c.user_id).where(sessions.c.user_id == pat.user_id)).all()
    assert left == []
    web.login("pat@example.org", PASSWORD)  # and logging in again works

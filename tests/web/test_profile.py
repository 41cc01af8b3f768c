"""The profile page's partner cards: the state words, the one button for each state, Connect (a
restricted token and the browser leg) and Disconnect, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import provider_sessions, restricted_tokens
from inlet.partners.states import CONNECTED, DISCONNECTED, ERROR
from inlet.services import Services

from .conftest import Account, Web, account, csrf_of

CARD = re.compile(r'<section class="card" data-partner="([a-z0-9_-]+)".*?</section>', re.DOTALL)


def cards(html: str) -> dict[str, str]:
    return {match.group(1): match.group(0) for match in CARD.finditer(html)}


def state_of(card: str) -> str:
    found = re.search(r'data-state="([a-z]+)">([a-z]+)<', card)
    assert found, card
    assert found.group(1) == found.group(2)  # the attribute and the word shown agree
    return found.group(1)


def buttons(card: str) -> list[str]:
    return re.findall(r"<button[^>]*>([^<]+)</button>", card)


def set_state(services: Services, user_id: str, slug: str, state: str, **changes: Any) -> None:
    """Put the person's data source for ``slug`` in ``state`` directly through the partner service."""
    partners = services.partners
    partner = partners.registry.get(slug)
    assert partner is not None
    with services.engine.begin() as conn:
        partners.connect(conn, partner, user_id, {"access_token": "a", "refresh_token": "r"}, "ext-1")
        if state != CONNECTED:
            source = partners.find_source(conn, user_id, slug)
            assert source is not None
            partners.update_source(conn, source, {"state": state, **changes})


@pytest.fixture
def pat(client: TestClient, web: Web) -> Account:
    person = account(client, "pat")
    web.login("pat@example.org")
    return person


def test_every_offered_partner_has_a_card_and_starts_disconnected(web: Web, pat: Account) -> None:
    page = web.get("/profile")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    found = cards(page.text)
    assert set(found) == {"dexcom", "acme"}
    for card in found.values():
        assert state_of(card) == DISCONNECTED
        assert buttons(card) == ["Connect"]


def test_each_state_shows_its_word_and_its_button(web: Web, pat: Account, services: Services) -> None:
    set_state(services, pat.user_id, "dexcom", CONNECTED)
    set_state(
        services,
        pat.user_id,
        "acme",
        ERROR,
        error={
            "code": "authentication-failed",
            "title": "access was revoked",
            "detail": "refresh token refused",
        },
    )
    page = web.get("/profile")
    found = cards(page.text)
    assert state_of(found["dexcom"]) == CONNECTED
    assert buttons(found["dexcom"]) == ["Disconnect"]
    assert "Last import" in found["dexcom"]
    assert "Next sync" in found["dexcom"]
    assert state_of(found["acme"]) == ERROR
    assert buttons(found["acme"]) == ["Reconnect"]
    assert "What went wrong:" in found["acme"]
    assert "Access was revoked." in found["acme"]
    assert "refresh token refused" in found["acme"]
    assert "What to do:" in found["acme"]
    assert "Reconnect" in found["acme"].split("What to do:")[1]


def test_a_connected_card_shows_the_sync_times(web: Web, pat: Account, services: Services) -> None:
    set_state(services, pat.user_id, "dexcom", CONNECTED)
    with services.engine.begin() as conn:
        source = services.partners.find_source(conn, pat.user_id, "dexcom")
        assert source is not None
        services.partners.update_source(conn, source, {"last_import_time": 1_774_008_000_000_000})
    profile = web.get("/profile").text
    assert "20 Mar 2026, 12:00 (UTC)" in cards(profile)["dexcom"]  # no data, no setting: UTC, labelled
    assert 'id="time-zone"' in profile
    assert '<option value="" selected>Automatic (UTC)</option>' in profile
    saved = web.post("/profile/timezone", {"timezone": "Asia/Tokyo"}, from_page="/profile")
    assert saved.status_code == 303
    assert saved.headers["location"] == "/profile#time-zone"
    profile = web.get("/profile").text
    assert "20 Mar 2026, 21:00 (Asia/Tokyo)" in cards(profile)["dexcom"]
    assert '<option value="Asia/Tokyo" selected>' in profile
    refused = web.post("/profile/timezone", {"timezone": "Mars/Olympus"}, from_page="/profile")
    assert refused.status_code == 400
    assert "Time zone not saved" in refused.text
    back = web.post("/profile/timezone", {"timezone": ""}, from_page="/profile")  # automatic again
    assert back.status_code == 303
    assert "20 Mar 2026, 12:00 (UTC)" in cards(web.get("/profile").text)["dexcom"]


def test_connect_sends_the_browser_to_the_authorize_leg_with_a_restricted_token(
    web: Web, pat: Account, services: Services
) -> None:
    page = web.get("/profile")
    response = web.post("/profile/partners/dexcom/connect", {"csrf_token": csrf_of(page)})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    parts = urlsplit(location)
    assert parts.path == "/v1/oauth/dexcom/authorize"
    [token] = parse_qs(parts.query)["restricted_token"]
    with services.engine.connect() as conn:
        grant = services.accounts.resolve_restricted_token(conn, unquote(token))
    assert grant is not None
    assert grant.user_id == pat.user_id
    assert grant.paths == ["/v1/oauth/dexcom/authorize"]
    assert grant.allows("/v1/oauth/dexcom/authorize", "GET")
    assert not grant.allows("/v1/oauth/dexcom/authorize", "DELETE")
    assert not grant.allows("/v1/oauth/acme/authorize", "GET")
    # the browser follows: the ordinary browser leg answers 307 to the partner
    web.logout()
    leg = web.get(location)
    assert leg.status_code == 307, leg.text
    assert "state=" in leg.headers["location"]


def test_reconnect_is_a_connect(web: Web, pat: Account, services: Services) -> None:
    set_state(services, pat.user_id, "acme", ERROR, error={"code": "x", "title": "t", "detail": "d"})
    page = web.get("/profile")
    response = web.post("/profile/partners/acme/connect", {"csrf_token": csrf_of(page)})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/v1/oauth/acme/authorize?restricted_token=")


def test_connect_needs_the_csrf_token_and_an_offered_partner(
    web: Web, pat: Account, services: Services
) -> None:
    refused = web.post("/profile/partners/dexcom/connect", {"csrf_token": "nope"})
    assert refused.status_code == 403
    with services.engine.connect() as conn:
        assert conn.execute(select(restricted_tokens)).first() is None
    unknown = web.post("/profile/partners/nosuch/connect", from_page="/profile")
    assert unknown.status_code == 404
    assert "does not offer" in unknown.text


def test_disconnect(web: Web, pat: Account, services: Services) -> None:
    set_state(services, pat.user_id, "dexcom", CONNECTED)
    response = web.post("/profile/partners/dexcom/disconnect", from_page="/profile")
    assert response.status_code == 303
    assert response.headers["location"] == "/profile"
    with services.engine.connect() as conn:
        source = services.partners.find_source(conn, pat.user_id, "dexcom")
        assert source is not None
        assert source.state == DISCONNECTED
        assert conn.execute(select(provider_sessions)).first() is None
    card = cards(web.get("/profile").text)["dexcom"]
    assert state_of(card) == DISCONNECTED
    assert buttons(card) == ["Connect"]


def test_the_forms_of_a_logged_out_person_go_to_login(web: Web, client: TestClient) -> None:
    response = web.client.post("/profile/partners/dexcom/connect", data={}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/profile"


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        ("authorized", "Dexcom is connected"),
        ("declined", "not connected"),
        ("error?reason=state-used", "works once"),
    ],
)
def test_the_oauth_result_pages_use_the_layout_and_lead_back_to_the_profile(
    web: Web, outcome: str, words: str
) -> None:
    page = web.get(f"/oauth/dexcom/{outcome}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert '<html lang="en">' in page.text
    assert 'href="/static/inlet.css"' in page.text
    assert words in page.text
    assert '<a href="/profile">Back to your profile</a>' in page.text


def test_the_sync_engine_fields_are_shown_when_present() -> None:
    """The card reads the sync engine's data source keys with ``.get()``: shown when there."""
    from inlet.web.profile_routes import PartnerCard

    card = PartnerCard(
        "dexcom",
        "Dexcom",
        CONNECTED,
        {
            "lastImportTime": "2026-03-20T12:00:00Z",
            "nextRunTime": "2026-03-20T12:30:00Z",
            "failureCount": 2,
            "lastError": {"code": "partner-unavailable", "title": "Dexcom is down", "detail": "HTTP 503"},
            "effectiveInterval": {"minMinutes": 30, "maxMinutes": 60},
        },
    )
    assert card.action == "Disconnect"
    assert card.next_sync == "2026-03-20T12:30:00Z"
    assert card.interval == "every 30 to 60 minutes"
    assert card.last_error["title"] == "Dexcom is down"
    error = PartnerCard("dexcom", "Dexcom", ERROR, {"error": {"code": "partner-unavailable", "title": "t"}})
    assert error.action == "Reconnect"
    assert "contact whoever runs" in error.advice
    revoked = PartnerCard("dexcom", "Dexcom", ERROR, {"error": {"code": "authentication-failed"}})
    assert "sign in at Dexcom again" in revoked.advice

"""The Dexcom OAuth2 flow over real HTTP: consent page, codes, rotating refresh tokens, revocation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from inlet.simulator import BackgroundSimulator, FrozenClock

from .conftest import (
    ADMIN_HEADERS,
    CLIENT_ID,
    CLIENT_SECRET,
    DEXCOM_REDIRECT,
    T0,
    bearer,
    connect,
    consent,
    exchange,
    login_params,
    redirect_query,
    refresh,
    window,
)

Http = Callable[[BackgroundSimulator], httpx.Client]
DATA_WINDOW = window(T0 - timedelta(hours=3), T0)


def test_the_login_page_is_a_plain_form_with_allow_and_deny(dexcom: BackgroundSimulator, http: Http) -> None:
    page = http(dexcom).get("/v2/oauth2/login", params=login_params())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<form method="post"' in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert ">Allow</button>" in html
    assert ">Deny</button>" in html
    assert "<script" not in html
    assert "SandboxUser1" in html


def test_allow_redirects_with_a_code_and_the_state(dexcom: BackgroundSimulator, http: Http) -> None:
    response = consent(http(dexcom), "SandboxUser7")
    assert response.headers["location"].startswith(DEXCOM_REDIRECT + "?")
    query = redirect_query(response)
    assert query["state"] == "state-1"
    assert len(query["code"]) >= 32


def test_deny_redirects_with_access_denied_and_the_state(dexcom: BackgroundSimulator, http: Http) -> None:
    query = redirect_query(consent(http(dexcom), decision="deny"))
    assert query["error"] == "access_denied"
    assert query["state"] == "state-1"
    assert "code" not in query


def test_an_unknown_account_gets_the_form_again(dexcom: BackgroundSimulator, http: Http) -> None:
    response = consent(http(dexcom), "NoSuchUser")
    assert response.status_code == 401
    assert "Unknown account" in response.text


def test_a_password_is_checked_only_when_the_account_has_one(
    make_dexcom: Callable[..., BackgroundSimulator], http: Http
) -> None:
    from dataclasses import replace

    from inlet.simulator import default_dexcom_config

    accounts = default_dexcom_config().accounts
    server = make_dexcom(accounts=(replace(accounts[0], password="s3cret"), *accounts[1:]))
    client = http(server)
    assert consent(client, "SandboxUser1", password="wrong").status_code == 401
    assert consent(client, "SandboxUser1", password="s3cret").status_code == 302
    assert consent(client, "SandboxUser2", password="anything").status_code == 302


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": "stranger"}, "does not exist"),
        ({"redirect_uri": "https://evil.example/cb"}, "not supported"),
    ],
)
def test_a_bad_client_or_redirect_uri_is_an_error_page_not_a_redirect(
    dexcom: BackgroundSimulator, http: Http, change: dict[str, str], message: str
) -> None:
    page = http(dexcom).get("/v2/oauth2/login", params={**login_params(), **change})
    assert page.status_code == 400
    assert message in page.text
    assert "location" not in page.headers


def test_a_loopback_redirect_uri_may_use_any_port(dexcom: BackgroundSimulator, http: Http) -> None:
    other_port = "http://127.0.0.1:43210/v1/oauth/dexcom/redirect"
    response = consent(http(dexcom), params=login_params(other_port))
    assert response.headers["location"].startswith(other_port)
    code = redirect_query(response)["code"]
    assert exchange(http(dexcom), code, other_port).status_code == 200


def test_an_unsupported_scope_redirects_with_invalid_scope(dexcom: BackgroundSimulator, http: Http) -> None:
    page = http(dexcom).get("/v2/oauth2/login", params=login_params(scope="everything"))
    assert redirect_query(page)["error"] == "invalid_scope"


def test_code_exchange_gives_bearer_tokens_that_read_data(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    tokens = connect(client)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 7200
    assert tokens["refresh_token"]
    response = client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers=bearer(tokens))
    assert response.status_code == 200
    assert response.json()["records"]


def test_the_token_endpoint_wants_the_secret_in_the_form(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    code = redirect_query(consent(client))["code"]
    basic = client.post(
        "/v2/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": DEXCOM_REDIRECT},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert basic.status_code in (400, 401)
    assert basic.json()["error"] == "invalid_client"
    wrong = exchange(client, code, client_secret="wrong")
    assert wrong.json()["error"] == "invalid_client"
    assert exchange(client, code).status_code == 200  # the failed attempts did not use the code


def test_a_code_is_single_use_and_its_reuse_revokes_what_it_gave(
    dexcom: BackgroundSimulator, http: Http
) -> None:
    client = http(dexcom)
    code = redirect_query(consent(client))["code"]
    tokens = exchange(client, code).json()
    again = exchange(client, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers=bearer(tokens)).status_code == 401


def test_a_code_expires_after_ten_minutes(
    dexcom: BackgroundSimulator, http: Http, clock: FrozenClock
) -> None:
    client = http(dexcom)
    code = redirect_query(consent(client))["code"]
    clock.advance(timedelta(minutes=10, seconds=1))
    assert exchange(client, code).json()["error"] == "invalid_grant"


def test_the_code_is_bound_to_its_redirect_uri(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    code = redirect_query(consent(client))["code"]
    other = "http://localhost:8000/v1/oauth/dexcom/redirect"
    assert exchange(client, code, other).json()["error"] == "invalid_grant"


def test_refresh_tokens_rotate_and_an_old_one_is_invalid_grant(
    dexcom: BackgroundSimulator, http: Http
) -> None:
    client = http(dexcom)
    first = connect(client)
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["expires_in"] == 7200
    third = refresh(client, rotated["refresh_token"])
    assert third.status_code == 200, "the rotated token works once"
    reused = refresh(client, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_reusing_a_refresh_token_revokes_the_grant(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    first = connect(client)
    rotated = refresh(client, first["refresh_token"]).json()
    assert refresh(client, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(client, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    assert client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers=bearer(rotated)).status_code == 401
    grants = client.get("/admin/grants", headers=ADMIN_HEADERS).json()
    assert grants[0]["revokedBecause"] == "refresh token reused"


def test_reuse_can_be_configured_to_spare_the_grant(
    make_dexcom: Callable[..., BackgroundSimulator], http: Http
) -> None:
    client = http(make_dexcom(revoke_grant_on_refresh_reuse=False))
    first = connect(client)
    rotated = refresh(client, first["refresh_token"]).json()
    assert refresh(client, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(client, rotated["refresh_token"]).status_code == 200


def test_access_tokens_expire(dexcom: BackgroundSimulator, http: Http, clock: FrozenClock) -> None:
    client = http(dexcom)
    tokens = connect(client)
    clock.advance(timedelta(seconds=7199))
    assert client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers=bearer(tokens)).status_code == 200
    clock.advance(timedelta(seconds=1))
    expired = client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers=bearer(tokens))
    assert expired.status_code == 401
    assert expired.json()["message"] == "access token expired"
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    renewed = refresh(client, tokens["refresh_token"]).json()
    assert client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers=bearer(renewed)).status_code == 200


def test_expires_in_is_configurable(make_dexcom: Callable[..., BackgroundSimulator], http: Http) -> None:
    assert connect(http(make_dexcom(access_token_lifetime=60)))["expires_in"] == 60


def test_a_refresh_token_needs_offline_access(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    params = login_params()
    del params["scope"]
    code = redirect_query(consent(client, params=params))["code"]
    assert "refresh_token" in exchange(client, code).json(), "offline_access is the default scope"


def test_revocation_revokes_the_grant(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    tokens = connect(client)
    revoked = client.post(
        "/v2/oauth2/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert revoked.status_code == 200
    data = client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers=bearer(tokens))
    assert data.status_code == 401
    assert data.json()["message"] == "access token revoked"
    assert refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_an_unknown_token_is_fine_but_a_stranger_cannot_revoke(
    dexcom: BackgroundSimulator, http: Http
) -> None:
    client = http(dexcom)
    unknown = client.post(
        "/v2/oauth2/revoke", data={"token": "nope", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert unknown.status_code == 200  # RFC 7009 section 2.2
    stranger = client.post(
        "/v2/oauth2/revoke", data={"token": "nope", "client_id": "x", "client_secret": "y"}
    )
    assert stranger.json()["error"] == "invalid_client"


def test_data_needs_a_bearer_token(shared_dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(shared_dexcom)
    assert client.get("/v3/users/self/egvs", params=DATA_WINDOW).status_code == 401
    wrong = client.get("/v3/users/self/egvs", params=DATA_WINDOW, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_token"


def test_the_token_endpoint_wants_a_form_body(dexcom: BackgroundSimulator, http: Http) -> None:
    response = http(dexcom).post("/v2/oauth2/token", json={"grant_type": "authorization_code"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_user_ids_differ_per_app_and_stay_per_account(
    make_dexcom: Callable[..., BackgroundSimulator], http: Http
) -> None:
    from inlet.simulator import DEFAULT_CLIENT, OAuthClient

    other = OAuthClient("other-app", "other-secret", DEFAULT_CLIENT.redirect_uris)
    server = make_dexcom(clients=(DEFAULT_CLIENT, other))
    client = http(server)
    first = client.get("/v3/users/self/dataRange", headers=bearer(connect(client))).json()["userId"]
    again = client.get("/v3/users/self/dataRange", headers=bearer(connect(client))).json()["userId"]
    code = redirect_query(consent(client, params={**login_params(), "client_id": "other-app"}))["code"]
    tokens = client.post(
        "/v2/oauth2/token",
        data={
            "client_id": "other-app",
            "client_secret": "other-secret",
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": DEXCOM_REDIRECT,
        },
    ).json()
    elsewhere = client.get("/v3/users/self/dataRange", headers=bearer(tokens)).json()["userId"]
    assert first == again
    assert elsewhere != first

"""A credential holding non-ASCII text is a wrong credential (401, a login page or a refusal), never a
500: secrets are compared as bytes (``hmac.compare_digest`` on ``str`` raises TypeError for non-ASCII)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import SERVICE_SECRET, signup

NON_ASCII = "t\u00f6k\u00e9n-\u2603"
RAW = NON_ASCII.encode()  # the bytes a client puts on the wire (servers read headers as latin-1)


def test_non_ascii_session_header_is_401(client: TestClient) -> None:
    response = client.get("/auth/user", headers={"x-tidepool-session-token": RAW})
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "unauthenticated"


def test_non_ascii_service_secret_is_401(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    for secret in (RAW, (SERVICE_SECRET + "\u00e9").encode()):
        response = client.get(f"/auth/user/{pat.user_id}", headers={"X-Tidepool-Service-Secret": secret})
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "unauthenticated"


def test_non_ascii_restricted_token_is_401(client: TestClient) -> None:
    response = client.get("/v1/oauth/dexcom/authorize", params={"restricted_token": NON_ASCII})
    assert response.status_code == 401


def test_non_ascii_session_cookie_is_sent_to_log_in(client: TestClient) -> None:
    response = client.get("/profile", headers={"Cookie": b"inlet_session=" + RAW}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_non_ascii_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")  # the pre-session cookie
    response = client.post(
        "/login",
        data={"email": "pat@example.org", "password": "whatever1", "csrf_token": NON_ASCII},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_non_ascii_oauth_state_is_an_error_page(client: TestClient) -> None:
    response = client.get(
        "/v1/oauth/dexcom/redirect",
        params={"code": "abc", "state": f"nonce.{NON_ASCII}"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "/oauth/dexcom/error" in response.headers["location"]

"""The core of authentication: signup, Basic login with the token in a header, refresh, logout."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import SERVICE_HEADERS, basic, signup


def test_signup_login_refresh_logout(client: TestClient) -> None:
    account = signup(client, "Pat@Example.org")
    assert len(account.user_id) == 10
    response = client.post("/auth/login", headers=basic("pat@example.org", account.password))
    assert response.status_code == 200
    assert response.json()["userid"] == account.user_id
    assert response.json()["username"] == "pat@example.org"
    token = response.headers["x-tidepool-session-token"]

    me = client.get("/auth/user", headers={"x-tidepool-session-token": token})
    assert me.status_code == 200
    assert me.json()["userid"] == account.user_id

    refreshed = client.get("/auth/login", headers={"x-tidepool-session-token": token})
    assert refreshed.status_code == 200
    new_token = refreshed.headers["x-tidepool-session-token"]
    assert new_token != token
    assert client.get("/auth/user", headers={"x-tidepool-session-token": token}).status_code == 401

    assert client.post("/auth/logout", headers={"x-tidepool-session-token": new_token}).status_code == 200
    assert client.get("/auth/user", headers={"x-tidepool-session-token": new_token}).status_code == 401


def test_wrong_password_and_unknown_user_are_401(client: TestClient) -> None:
    signup(client, "a@example.org")
    for headers in (
        basic("a@example.org", "nope-nope"),
        basic("b@example.org", "x"),
        {"Authorization": "Bearer x"},
    ):
        response = client.post("/auth/login", headers=headers)
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "unauthenticated"


def test_duplicate_signup_is_409(client: TestClient) -> None:
    signup(client, "dup@example.org")
    response = client.post("/auth/user", json={"username": "DUP@example.org", "password": "whatever1"})
    assert response.status_code == 409


def test_service_secret(client: TestClient) -> None:
    assert client.get("/auth/user", headers={"X-Tidepool-Service-Secret": "wrong"}).status_code == 401
    # a service caller has no user of its own
    assert client.get("/auth/user", headers=SERVICE_HEADERS).status_code == 401


def test_malformed_json_and_unknown_path(client: TestClient) -> None:
    response = client.post("/auth/user", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "json-malformed"
    assert client.get("/v1/nowhere").status_code == 404


def test_time_and_info(client: TestClient) -> None:
    assert client.get("/v1/time").json()["data"]["time"].endswith("Z")
    assert "uploaderMinimum" in client.get("/info").json()["versions"]

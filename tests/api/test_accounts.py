"""Accounts beyond login: reading and updating users, roles, custodial accounts, signup confirmations,
session expiry, the login throttle, restricted tokens and the profile."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import confirmations
from inlet.model.timeutil import now_utc
from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account, basic, signup


class Clock:
    """A clock the test moves (``AccountService.clock``)."""

    def __init__(self) -> None:
        self.now = now_utc()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(services: Services) -> Clock:
    clock = Clock()
    services.accounts.clock = clock
    return clock


def error_code(response: object) -> str:
    return response.json()["errors"][0]["code"]  # type: ignore[attr-defined, no-any-return]


def custodial(client: TestClient, parent: Account, **body: object) -> str:
    response = client.post(f"/auth/user/{parent.user_id}/user", json=body, headers=parent.headers)
    assert response.status_code == 201, response.text
    return response.json()["userid"]  # type: ignore[no-any-return]


# ---- reading users --------------------------------------------------------------------------------


def test_get_user_by_id_and_email_for_self_and_service(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    mine = client.get(f"/auth/user/{pat.user_id}", headers=pat.headers)
    assert mine.status_code == 200
    assert mine.json()["userid"] == pat.user_id
    assert "passwordExists" not in mine.json()
    assert client.get("/auth/user/PAT@example.org", headers=pat.headers).json()["userid"] == pat.user_id

    served = client.get(f"/auth/user/{pat.user_id}", headers=SERVICE_HEADERS)
    assert served.status_code == 200
    assert served.json()["passwordExists"] is True
    assert client.get("/auth/user/0123456789", headers=SERVICE_HEADERS).status_code == 404


def test_get_user_refuses_strangers_and_anonymous(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    eve = signup(client, "eve@example.org")
    assert client.get(f"/auth/user/{pat.user_id}").status_code == 401
    for target in (pat.user_id, "pat@example.org", "0123456789", "nobody@example.org", "%00"):
        response = client.get(f"/auth/user/{target}", headers=eve.headers)
        assert response.status_code == 403, target
        assert error_code(response) == "unauthorized"


# ---- updating users -------------------------------------------------------------------------------


def test_update_own_username_emails_password_and_terms(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    updates = {
        "username": "Patricia@Example.org",
        "emails": ["patricia@example.org", "p@example.org"],
        "password": "a-new-password",
        "termsAccepted": "2026-01-02T03:04:05Z",
    }
    response = client.put("/auth/user", json={"updates": updates}, headers=pat.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "patricia@example.org"
    assert body["emails"] == ["patricia@example.org", "p@example.org"]
    assert body["termsAccepted"] == "2026-01-02T03:04:05Z"
    assert (
        client.post("/auth/login", headers=basic("patricia@example.org", "a-new-password")).status_code == 200
    )
    assert client.post("/auth/login", headers=basic("patricia@example.org", pat.password)).status_code == 401

    # the platform client's acceptTerms sends ``terms``
    terms = client.put(
        f"/auth/user/{pat.user_id}", json={"updates": {"terms": "2026-02-03T00:00:00Z"}}, headers=pat.headers
    )
    assert terms.json()["termsAccepted"] == "2026-02-03T00:00:00Z"


def test_update_user_errors(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    signup(client, "taken@example.org")
    cases = [
        ({"updates": {"username": "TAKEN@example.org"}}, 409, "value-duplicate"),
        ({"updates": {"emails": ["taken@example.org"]}}, 409, "value-duplicate"),
        ({"updates": {"password": "short"}}, 400, "length-out-of-range"),
        ({"updates": {"termsAccepted": "yesterday"}}, 400, "value-not-valid"),
        ({"updates": {"emails": []}}, 400, "length-out-of-range"),
        ({"updates": {"username": "a" * 300}}, 400, "length-out-of-range"),
        ({"updates": {"username": "nul\u0000@example.org"}}, 400, "value-not-valid"),
        ({"updates": "nope"}, 400, "type-not-object"),
        ({}, 400, "type-not-object"),
        ([], 400, "type-not-object"),
    ]
    for body, status, code in cases:
        response = client.put("/auth/user", json=body, headers=pat.headers)
        assert (response.status_code, error_code(response)) == (status, code), body
    malformed = client.put("/auth/user", content=b"{nope", headers=pat.headers)
    assert error_code(malformed) == "json-malformed"
    assert client.put("/auth/user", json={"updates": {}}).status_code == 401
    assert client.put("/auth/user", json={"updates": {}}, headers=SERVICE_HEADERS).status_code == 401


def test_roles_are_set_at_signup_and_changed_only_by_services(client: TestClient) -> None:
    doc = signup(client, "doc@example.org", roles=["clinician"])
    assert client.get("/auth/user", headers=doc.headers).json()["roles"] == ["clinician"]
    bad = client.post(
        "/auth/user", json={"username": "x@example.org", "password": "password1", "roles": ["root"]}
    )
    assert bad.status_code == 400

    own = client.put("/auth/user", json={"updates": {"roles": ["clinic"]}}, headers=doc.headers)
    assert own.status_code == 403
    verified = client.put("/auth/user", json={"updates": {"emailVerified": True}}, headers=doc.headers)
    assert verified.status_code == 403

    updates = {"roles": ["clinician", "clinic", "clinic"], "emailVerified": True}
    served = client.put(f"/auth/user/{doc.user_id}", json={"updates": updates}, headers=SERVICE_HEADERS)
    assert served.status_code == 200
    assert served.json()["roles"] == ["clinician", "clinic"]
    assert served.json()["emailVerified"] is True
    wrong = client.put(
        f"/auth/user/{doc.user_id}", json={"updates": {"roles": ["nope"]}}, headers=SERVICE_HEADERS
    )
    assert (wrong.status_code, wrong.json()["errors"][0]["source"]["pointer"]) == (400, "/updates/roles/0")


def test_other_users_cannot_update(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    eve = signup(client, "eve@example.org")
    response = client.put(
        f"/auth/user/{pat.user_id}", json={"updates": {"username": "e@x.org"}}, headers=eve.headers
    )
    assert response.status_code == 403
    assert client.put(f"/auth/user/{pat.user_id}", json={"updates": {}}).status_code == 401


# ---- custodial accounts ---------------------------------------------------------------------------


def test_custodial_account_makes_the_creator_custodian(client: TestClient) -> None:
    parent = signup(client, "parent@example.org")
    response = client.post(
        f"/auth/user/{parent.user_id}/user",
        json={"emails": ["Kid@Example.org"], "username": "kid@example.org"},
        headers=parent.headers,
    )
    assert response.status_code == 201, response.text
    kid = response.json()
    assert kid["username"] == "kid@example.org"
    assert kid["emails"] == ["kid@example.org"]
    kid_id = kid["userid"]

    perms = client.get(f"/access/{kid_id}/{parent.user_id}", headers=parent.headers)
    assert perms.json() == {"custodian": {}, "view": {}, "upload": {}}
    assert client.get(f"/auth/user/{kid_id}", headers=parent.headers).status_code == 200
    served = client.get(f"/auth/user/{kid_id}", headers=SERVICE_HEADERS).json()
    assert served["passwordExists"] is False
    # a custodial account has no password: nobody can log in as it
    assert client.post("/auth/login", headers=basic("kid@example.org", "")).status_code == 401

    # a custodian may rename, but password and terms belong to the owner
    renamed = client.put(
        f"/auth/user/{kid_id}", json={"updates": {"emails": ["kid2@example.org"]}}, headers=parent.headers
    )
    assert renamed.status_code == 200
    password = client.put(
        f"/auth/user/{kid_id}", json={"updates": {"password": "kids-pass"}}, headers=parent.headers
    )
    assert password.status_code == 403

    # the createCustodialAccount sequence: profile, then the signup confirmation
    profile = {
        "fullName": "Kid Example",
        "patient": {"birthday": "2015-04-01"},
        "emails": ["kid2@example.org"],
    }
    assert client.put(f"/metadata/{kid_id}/profile", json=profile, headers=parent.headers).json() == profile
    confirm = client.post(f"/confirm/send/signup/{kid_id}", json={}, headers=parent.headers)
    assert confirm.status_code == 200
    assert confirm.json()["status"] == "pending"
    assert confirm.json()["email"] == "kid2@example.org"
    assert confirm.json()["creatorId"] == parent.user_id
    assert confirm.json()["emailSent"] is False
    assert "key" not in confirm.json()


def test_custodial_account_without_email_and_errors(client: TestClient) -> None:
    parent = signup(client, "parent@example.org")
    eve = signup(client, "eve@example.org")
    kid_id = custodial(client, parent)
    assert client.get(f"/auth/user/{kid_id}", headers=parent.headers).json()["emails"] == []
    # nothing to confirm without an email address
    assert client.post(f"/confirm/send/signup/{kid_id}", headers=parent.headers).json() == {}

    assert client.post(f"/auth/user/{parent.user_id}/user", json={}).status_code == 401
    assert client.post(f"/auth/user/{parent.user_id}/user", json={}, headers=eve.headers).status_code == 403
    taken = client.post(
        f"/auth/user/{parent.user_id}/user", json={"emails": ["eve@example.org"]}, headers=parent.headers
    )
    assert taken.status_code == 409
    bad = client.post(f"/auth/user/{parent.user_id}/user", json={"emails": "x"}, headers=parent.headers)
    assert bad.status_code == 400
    assert client.post(f"/confirm/send/signup/{kid_id}", headers=eve.headers).status_code == 403
    assert client.post(f"/confirm/send/signup/{kid_id}").status_code == 401

    by_service = client.post(
        f"/auth/user/{parent.user_id}/user", json={"username": "b@x.org"}, headers=SERVICE_HEADERS
    )
    assert by_service.status_code == 201
    assert client.post("/auth/user/0123456789/user", json={}, headers=SERVICE_HEADERS).status_code == 404


def test_signup_confirmation_is_recorded_once(client: TestClient, services: Services) -> None:
    pat = signup(client, "pat@example.org")
    first = client.post(f"/confirm/send/signup/{pat.user_id}", headers=pat.headers)
    again = client.post(f"/confirm/send/signup/{pat.user_id}", json={}, headers=pat.headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()  # a retried POST records nothing new
    assert "creatorId" not in first.json()
    with services.engine.connect() as conn:
        rows = conn.execute(select(confirmations).where(confirmations.c.user_id == pat.user_id)).all()
    assert [(r.type, r.status, r.email, r.sent_time) for r in rows] == [
        ("signup_confirmation", "pending", "pat@example.org", None)
    ]


def test_claiming_a_custodial_account_ends_custodianship(client: TestClient) -> None:
    parent = signup(client, "parent@example.org")
    kid_id = custodial(client, parent, emails=["kid@example.org"], username="kid@example.org")
    # the confirmation flow (a service) gives the account its own password
    claim = client.put(
        f"/auth/user/{kid_id}", json={"updates": {"password": "kids-own-pw"}}, headers=SERVICE_HEADERS
    )
    assert claim.status_code == 200
    assert client.post("/auth/login", headers=basic("kid@example.org", "kids-own-pw")).status_code == 200
    assert client.get(f"/access/{kid_id}/{parent.user_id}", headers=parent.headers).json() == {
        "view": {},
        "upload": {},
    }
    assert client.get(f"/auth/user/{kid_id}", headers=parent.headers).status_code == 403


# ---- sessions and the login throttle --------------------------------------------------------------


def test_sessions_expire(client: TestClient, clock: Clock, services: Services) -> None:
    pat = signup(client, "pat@example.org")
    ttl = services.accounts.session_ttl_seconds
    clock.advance(seconds=ttl - 5)
    refreshed = client.get("/auth/login", headers=pat.headers)
    assert refreshed.status_code == 200
    token = refreshed.headers["x-tidepool-session-token"]
    clock.advance(seconds=ttl - 5)  # the refreshed session lives a full TTL from its refresh
    assert client.get("/auth/user", headers={"x-tidepool-session-token": token}).status_code == 200
    clock.advance(seconds=10)
    expired = client.get("/auth/user", headers={"x-tidepool-session-token": token})
    assert expired.status_code == 401
    assert error_code(expired) == "unauthenticated"


def test_login_throttle_per_account_and_address(client: TestClient, clock: Clock) -> None:
    pat = signup(client, "pat@example.org")
    signup(client, "other@example.org")
    for _ in range(5):
        assert client.post("/auth/login", headers=basic(pat.username, "wrong-password")).status_code == 401
    locked = client.post("/auth/login", headers=basic(pat.username, pat.password))
    assert locked.status_code == 429
    assert error_code(locked) == "too-many-requests"
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60

    # another account from the same address, and the same account from another address, still work
    assert client.post("/auth/login", headers=basic("other@example.org", "correct-horse")).status_code == 200
    with TestClient(client.app, client=("203.0.113.9", 40000)) as elsewhere:
        assert elsewhere.post("/auth/login", headers=basic(pat.username, pat.password)).status_code == 200

    clock.advance(minutes=15, seconds=1)
    assert client.post("/auth/login", headers=basic(pat.username, pat.password)).status_code == 200


def test_login_refuses_impossible_usernames_without_error(client: TestClient) -> None:
    for name in ("a" * 300, "nul\u0000name"):
        assert client.post("/auth/login", headers=basic(name, "whatever1")).status_code == 401
    too_long = client.post("/auth/user", json={"username": "a" * 300, "password": "password1"})
    assert too_long.status_code == 400


# ---- restricted tokens ----------------------------------------------------------------------------


def test_restricted_token_defaults_and_limits(client: TestClient, clock: Clock) -> None:
    pat = signup(client, "pat@example.org")
    response = client.post(f"/v1/users/{pat.user_id}/restricted_tokens", json={}, headers=pat.headers)
    assert response.status_code == 201, response.text
    token = response.json()
    assert token["userId"] == pat.user_id
    assert token["paths"] == ["/v1/oauth", "/export"]
    created = datetime.fromisoformat(token["createdTime"])
    assert datetime.fromisoformat(token["expirationTime"]) - created == timedelta(hours=1)
    # outside its paths it is refused, inside them it authenticates (and never as more than its user)
    client.put(f"/metadata/{pat.user_id}/profile", json={"fullName": "Pat"}, headers=pat.headers)
    outside = client.get(f"/metadata/{pat.user_id}/profile", params={"restricted_token": token["id"]})
    assert outside.status_code == 403

    scoped = client.post(
        f"/v1/users/{pat.user_id}/restricted_tokens",
        json={
            "paths": [f"/metadata/{pat.user_id}"],
            "expirationTime": (clock.now + timedelta(days=90)).isoformat(),
        },
        headers=pat.headers,
    ).json()
    url = f"/metadata/{pat.user_id}/profile"
    assert client.get(url, params={"restricted_token": scoped["id"]}).json() == {"fullName": "Pat"}
    assert (
        client.get(f"/auth/user/{pat.user_id}", params={"restricted_token": scoped["id"]}).status_code == 403
    )
    # a restricted token cannot mint more tokens
    mint = client.post(
        f"/v1/users/{pat.user_id}/restricted_tokens", json={}, params={"restricted_token": scoped["id"]}
    )
    assert mint.status_code == 403

    clock.advance(days=90, seconds=1)
    assert client.get(url, params={"restricted_token": scoped["id"]}).status_code == 401


def test_restricted_token_errors(client: TestClient, clock: Clock) -> None:
    pat = signup(client, "pat@example.org")
    eve = signup(client, "eve@example.org")
    url = f"/v1/users/{pat.user_id}/restricted_tokens"
    cases = [
        ({"paths": [f"/p{i}" for i in range(11)]}, "length-out-of-range", "/paths"),
        ({"paths": []}, "length-out-of-range", "/paths"),
        ({"paths": ["relative"]}, "value-not-valid", "/paths/0"),
        ({"paths": [7]}, "type-not-string", "/paths/0"),
        ({"expirationTime": "soon"}, "value-not-valid", "/expirationTime"),
        (
            {"expirationTime": (clock.now - timedelta(seconds=1)).isoformat()},
            "value-not-after",
            "/expirationTime",
        ),
        (
            {"expirationTime": (clock.now + timedelta(days=91)).isoformat()},
            "value-not-before",
            "/expirationTime",
        ),
        ({"scope": "all"}, "not-parsed", "/scope"),
        (["/x"], "type-not-object", ""),
    ]
    for body, code, pointer in cases:
        response = client.post(url, json=body, headers=pat.headers)
        assert response.status_code == 400, body
        error = response.json()["errors"][0]
        assert (error["code"], error["source"]["pointer"]) == (code, pointer), body
    assert client.post(url, json={}).status_code == 401
    assert client.post(url, json={}, headers=eve.headers).status_code == 403
    assert client.post(url, json={}, headers=SERVICE_HEADERS).status_code == 201
    assert (
        client.post("/v1/users/0123456789/restricted_tokens", json={}, headers=SERVICE_HEADERS).status_code
        == 404
    )
    ten = client.post(url, json={"paths": [f"/p{i}" for i in range(10)]}, headers=pat.headers)
    assert ten.status_code == 201


# ---- profile ------------------------------------------------------------------------------------


def test_profile_read_and_write_permissions(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    viewer = signup(client, "viewer@example.org")
    eve = signup(client, "eve@example.org")
    url = f"/metadata/{pat.user_id}/profile"
    missing = client.get(url, headers=pat.headers)
    assert (missing.status_code, error_code(missing)) == (404, "profile-not-found")

    profile = {
        "fullName": "Pat Example",
        "patient": {"birthday": "1990-05-06", "diagnosisDate": "2001-02-03", "about": "hi"},
        "clinic": {"role": "x"},
    }
    assert client.put(url, json=profile, headers=pat.headers).status_code == 200
    assert client.get(url, headers=pat.headers).json() == profile

    client.post(f"/access/{pat.user_id}/{viewer.user_id}", json={"view": {}}, headers=pat.headers)
    assert client.get(url, headers=viewer.headers).json() == profile
    assert client.put(url, json={"fullName": "Hacked"}, headers=viewer.headers).status_code == 403
    assert client.get(url, headers=eve.headers).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url, headers=SERVICE_HEADERS).status_code == 200
    assert client.get("/metadata/0123456789/profile", headers=SERVICE_HEADERS).status_code == 404


def test_profile_validation(client: TestClient) -> None:
    pat = signup(client, "pat@example.org")
    url = f"/metadata/{pat.user_id}/profile"
    deep: dict[str, object] = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    cases = [
        ({"patient": {"birthday": "1990-02-30"}}, "/patient/birthday"),
        ({"patient": {"diagnosisDate": "May 2001"}}, "/patient/diagnosisDate"),
        ({"patient": "type 1"}, "/patient"),
        ({"fullName": 5}, "/fullName"),
        ({"note": "a\u0000b"}, "/note"),
        ({"a\u0000": 1}, ""),
        ({"big": 1e30}, "/big"),  # PostgreSQL would hand it back as a 31-digit integer
        ({"list": [2**63]}, "/list/0"),
        ([1, 2], ""),
        (deep, None),
    ]
    for body, pointer in cases:
        response = client.put(url, json=body, headers=pat.headers)
        assert response.status_code == 400, body
        if pointer is not None:
            assert response.json()["errors"][0]["source"]["pointer"] == pointer
    assert client.put(url, json={"patient": {"birthday": ""}}, headers=pat.headers).status_code == 200

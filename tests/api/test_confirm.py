"""Hydrophone's password reset and care-team invitation routes, on both databases."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import confirm_requests
from inlet.model.timeutil import now_utc
from inlet.notify.notifier import Email, queued
from inlet.services import Services
from tests.api.conftest import basic, signup


def outbox(services: Services) -> list[Email]:
    with services.engine.connect() as conn:
        return list(queued(conn, include_sent=True, cipher=services.notifier.cipher))


def reset_key(email: Email) -> str:
    assert email.link is not None
    return parse_qs(urlsplit(email.link).query)["resetKey"][0]


# ---- password reset ---------------------------------------------------------------------------------


def test_reset_answers_the_same_for_known_and_unknown_addresses(
    client: TestClient, services: Services
) -> None:
    signup(client, "known@example.org")
    known = client.post("/confirm/send/forgot/Known@Example.org")
    unknown = client.post("/confirm/send/forgot/nobody@example.org")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (200, {})
    sent = {e.to: e for e in outbox(services)}
    assert sent["known@example.org"].link.startswith("http://testserver/confirm-password-reset?resetKey=")
    assert sent["nobody@example.org"].link == "http://testserver/signup?email=nobody%40example.org"
    assert sent["known@example.org"].subject == sent["nobody@example.org"].subject
    # The key is stored only as its digest.
    key = reset_key(sent["known@example.org"])
    with services.engine.connect() as conn:
        rows = conn.execute(select(confirm_requests)).all()
    assert all(key not in str(tuple(row)) for row in rows)


def test_reset_sets_the_password_ends_every_session_and_is_single_use(
    client: TestClient, services: Services
) -> None:
    account = signup(client, "forgetful@example.org", "old-password-1")
    second = client.post("/auth/login", headers=basic(account.username, "old-password-1"))
    assert second.status_code == 200
    assert client.post("/confirm/send/forgot/forgetful@example.org").status_code == 200
    key = reset_key(outbox(services)[-1])
    body = {"key": key, "email": "forgetful@example.org", "password": "new-password-2"}
    wrong_email = client.put("/confirm/accept/forgot", json={**body, "email": "other@example.org"})
    assert wrong_email.status_code == 404
    accepted = client.put("/confirm/accept/forgot", json=body)
    assert accepted.status_code == 200
    assert accepted.json() == {"code": 200, "reason": "Password has been reset."}
    for token in (account.token, second.headers["x-tidepool-session-token"]):
        assert client.get("/auth/user", headers={"x-tidepool-session-token": token}).status_code == 401
    assert client.post("/auth/login", headers=basic(account.username, "old-password-1")).status_code == 401
    assert client.post("/auth/login", headers=basic(account.username, "new-password-2")).status_code == 200
    reused = client.put("/accept/forgot", json={**body, "password": "third-password-3"})  # unprefixed too
    assert reused.status_code == 404
    assert reused.json() == {"code": 404, "reason": "no matching password reset"}
    assert client.post("/auth/login", headers=basic(account.username, "new-password-2")).status_code == 200


def test_an_expired_reset_key_is_refused(client: TestClient, services: Services) -> None:
    account = signup(client, "late@example.org", "old-password-1")
    client.post("/confirm/send/forgot/late@example.org")
    key = reset_key(outbox(services)[-1])
    services.accounts.clock = lambda: now_utc() + timedelta(days=7, minutes=1)
    refused = client.put(
        "/confirm/accept/forgot", json={"key": key, "email": "late@example.org", "password": "new-password-2"}
    )
    assert refused.status_code == 404
    services.accounts.clock = now_utc
    assert client.post("/auth/login", headers=basic(account.username, "old-password-1")).status_code == 200


def test_reset_requests_are_throttled_per_address_and_per_client(
    client: TestClient, services: Services
) -> None:
    signup(client, "popular@example.org")
    for _ in range(5):
        assert client.post("/confirm/send/forgot/popular@example.org").status_code == 200
    assert [e.to for e in outbox(services)].count("popular@example.org") == 3  # then silently nothing
    for n in range(7):  # ten recorded requests from this client within the hour
        assert client.post(f"/confirm/send/forgot/someone{n}@example.org").status_code == 200
    throttled = client.post("/confirm/send/forgot/someone-else@example.org")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert throttled.json()["code"] == 429


def test_reset_refuses_a_short_password_and_a_malformed_address(client: TestClient) -> None:
    assert client.post("/confirm/send/forgot/not-an-address").status_code == 400
    short = client.put(
        "/confirm/accept/forgot", json={"key": "k", "email": "a@example.org", "password": "short"}
    )
    assert short.status_code == 400


# ---- care-team invitations --------------------------------------------------------------------------


def test_invite_someone_who_signs_up_later_and_accepts(client: TestClient, services: Services) -> None:
    parent = signup(client, "parent@example.org")
    client.put(f"/metadata/{parent.user_id}/profile", json={"fullName": "Pat Parent"}, headers=parent.headers)
    sent = client.post(
        f"/confirm/send/invite/{parent.user_id}",
        json={"email": "Partner@Example.org", "permissions": {"view": {}, "upload": {}}},
        headers=parent.headers,
    )
    assert sent.status_code == 200, sent.text
    invite = sent.json()
    assert invite["type"] == "careteam_invitation"
    assert invite["status"] == "pending"
    assert invite["email"] == "partner@example.org"
    assert invite["creator"] == {"userid": parent.user_id, "profile": {"fullName": "Pat Parent"}}
    assert invite["context"]["permissions"] == {"view": {}, "upload": {}}
    assert invite["context"]["upload"] == {}
    email = outbox(services)[-1]
    assert email.to == "partner@example.org"
    assert email.link == "http://testserver/signup?email=partner%40example.org"
    assert invite["key"] not in email.body
    again = client.post(
        f"/confirm/send/invite/{parent.user_id}",
        json={"email": "partner@example.org", "permissions": {"view": {}}},
        headers=parent.headers,
    )
    assert again.status_code == 409
    listed = client.get(f"/confirm/invite/{parent.user_id}", headers=parent.headers)
    assert [i["key"] for i in listed.json()] == [invite["key"]]

    partner = signup(client, "partner@example.org")
    received = client.get(f"/confirm/invitations/{partner.user_id}", headers=partner.headers)
    assert received.status_code == 200
    assert [i["key"] for i in received.json()] == [invite["key"]]
    other = signup(client, "other@example.org")
    stolen = client.put(
        f"/confirm/accept/invite/{other.user_id}/{parent.user_id}",
        json={"key": invite["key"]},
        headers=other.headers,
    )
    assert stolen.status_code == 403
    accepted = client.put(
        f"/confirm/accept/invite/{partner.user_id}/{parent.user_id}",
        json={"key": invite["key"]},
        headers=partner.headers,
    )
    assert accepted.status_code == 200, accepted.text
    perms = client.get(f"/access/{parent.user_id}/{partner.user_id}", headers=parent.headers)
    assert perms.json() == {"view": {}, "upload": {}}
    assert client.get(f"/confirm/invitations/{partner.user_id}", headers=partner.headers).status_code == 404
    assert client.get(f"/confirm/invite/{parent.user_id}", headers=parent.headers).status_code == 404
    member = client.post(
        f"/confirm/send/invite/{parent.user_id}",
        json={"email": "partner@example.org", "permissions": {"view": {}}},
        headers=parent.headers,
    )
    assert member.status_code == 409  # already shares


def test_dismiss_cancel_and_resend(client: TestClient, services: Services) -> None:
    parent = signup(client, "mum@example.org")
    nurse = signup(client, "nurse@example.org")
    invite = client.post(
        f"/confirm/send/invite/{parent.user_id}",
        json={"email": "nurse@example.org", "permissions": {"view": {}}},
        headers=parent.headers,
    ).json()
    assert outbox(services)[-1].link == "http://testserver/share"
    dismissed = client.put(
        f"/confirm/dismiss/invite/{nurse.user_id}/{parent.user_id}",
        json={"key": invite["key"]},
        headers=nurse.headers,
    )
    assert dismissed.status_code == 200
    sent = client.get(f"/confirm/invite/{parent.user_id}", headers=parent.headers).json()
    assert [i["status"] for i in sent] == ["declined"]
    before = len(outbox(services))
    resent = client.patch(f"/confirm/resend/invite/{invite['key']}", headers=parent.headers)
    assert resent.status_code == 200
    assert resent.json()["status"] == "pending"
    assert len(outbox(services)) == before + 1
    assert client.patch(f"/confirm/resend/invite/{invite['key']}", headers=nurse.headers).status_code == 403
    assert (
        client.put(f"/confirm/{parent.user_id}/invited/nurse@example.org", headers=nurse.headers).status_code
        == 403
    )
    canceled = client.put(f"/confirm/{parent.user_id}/invited/nurse@example.org", headers=parent.headers)
    assert canceled.status_code == 200
    assert client.get(f"/confirm/invitations/{nurse.user_id}", headers=nurse.headers).status_code == 404
    late = client.put(
        f"/confirm/accept/invite/{nurse.user_id}/{parent.user_id}",
        json={"key": invite["key"]},
        headers=nurse.headers,
    )
    assert late.status_code == 404
    assert client.get(f"/access/{parent.user_id}/{nurse.user_id}", headers=parent.headers).status_code == 404


def test_invite_refusals(client: TestClient) -> None:
    parent = signup(client, "dad@example.org")
    stranger = signup(client, "stranger@example.org")
    url = f"/confirm/send/invite/{parent.user_id}"
    assert client.post(url, json={"permissions": {"view": {}}}, headers=parent.headers).status_code == 400
    assert client.post(url, json={"email": "a@example.org"}, headers=parent.headers).status_code == 400
    no_caller = client.post(url, json={"email": "a@example.org", "permissions": {"view": {}}})
    assert no_caller.status_code == 401
    assert no_caller.json() == {"code": 401, "reason": "authentication token is invalid"}
    other = client.post(
        url, json={"email": "a@example.org", "permissions": {"view": {}}}, headers=stranger.headers
    )
    assert other.status_code == 403
    assert client.get(f"/confirm/invite/{parent.user_id}", headers=stranger.headers).status_code == 403
    assert client.get(f"/confirm/invitations/{parent.user_id}", headers=stranger.headers).status_code == 403
    expired_key = client.post(
        url, json={"email": "b@example.org", "permissions": {"view": {}}}, headers=parent.headers
    )
    assert expired_key.status_code == 200

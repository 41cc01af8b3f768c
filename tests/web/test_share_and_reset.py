"""The password-reset pages and the Share page, through forms as a browser sends them (both databases)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from inlet.notify.notifier import queued
from inlet.services import Services
from tests.web.conftest import PASSWORD, Web, account


def last_email(services: Services, to: str) -> tuple[str, str]:
    with services.engine.connect() as conn:
        emails = [e for e in queued(conn, include_sent=True, cipher=services.notifier.cipher) if e.to == to]
    assert emails, f"no email to {to}"
    return emails[-1].body, emails[-1].link or ""


def test_forgot_and_choose_a_new_password(web: Web, client: TestClient, services: Services) -> None:
    account(client, "forgot")
    login = web.get("/login")
    assert 'href="/forgot-password">Forgot your password?' in login.text
    form = web.get("/forgot-password")
    assert "<h1>Forgot your password?</h1>" in form.text
    known = web.post("/forgot-password", {"email": "forgot@example.org"}, from_page="/forgot-password")
    unknown = web.post("/forgot-password", {"email": "ghost@example.org"}, from_page="/forgot-password")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("forgot@", "X@") == unknown.text.replace("ghost@", "X@")  # reveals nothing
    _, link = last_email(services, "forgot@example.org")
    page_url = link.removeprefix("http://testserver")
    assert urlsplit(page_url).path == "/confirm-password-reset"
    page = web.get(page_url)
    assert "<h1>Choose a new password</h1>" in page.text
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key
    mismatch = web.post(
        "/confirm-password-reset",
        {
            "key": key.group(1),
            "email": "forgot@example.org",
            "password": "new-password-1",
            "password_confirm": "x",
        },
        from_page=page_url,
    )
    assert mismatch.status_code == 400
    assert "The two passwords are not the same" in mismatch.text
    fields = {
        "key": key.group(1),
        "email": "forgot@example.org",
        "password": "new-password-1",
        "password_confirm": "new-password-1",
    }
    done = web.post("/confirm-password-reset", fields, from_page=page_url)
    assert done.status_code == 200
    assert "Your password has been changed" in done.text
    again = web.post("/confirm-password-reset", fields, from_page=page_url)
    assert again.status_code == 400
    assert "This link no longer works" in again.text
    web.login("forgot@example.org", "new-password-1")


def test_share_invite_accept_toggle_and_remove(web: Web, client: TestClient, services: Services) -> None:
    parent = account(client, "parent", emails=["parent@example.org"])
    client.put(f"/metadata/{parent.user_id}/profile", json={"fullName": "Pat Parent"}, headers=parent.headers)
    web.login("parent@example.org")
    page = web.get("/share")
    assert page.status_code == 200
    assert '<a href="/share">Share</a>' in page.text
    sent = web.post("/share/invite", {"email": "Nurse@Example.org", "upload": "on"}, from_page="/share")
    assert sent.status_code == 303
    page = web.get("/share")
    assert "nurse@example.org" in page.text
    assert "Invite sent" in page.text
    assert "view and upload" in page.text
    duplicate = web.post("/share/invite", {"email": "nurse@example.org"}, from_page="/share")
    assert duplicate.status_code == 400
    assert "already a pending invitation" in duplicate.text
    body, link = last_email(services, "nurse@example.org")
    assert "Pat Parent invited you" in body
    assert link == "http://testserver/signup?email=nurse%40example.org"

    # The nurse signs up from the email: the address is filled in and the invitation waits.
    web.logout()
    signup_page = web.get("/signup?email=nurse%40example.org")
    assert 'value="nurse@example.org"' in signup_page.text
    made = web.post(
        "/signup",
        {"email": "nurse@example.org", "password": PASSWORD, "password_confirm": PASSWORD},
        from_page="/signup",
    )
    assert made.headers["location"] == "/share"
    page = web.get("/share")
    assert "Pat Parent</strong> invited you" in page.text
    invite_id = re.search(r"/share/received/([0-9a-f]+)/accept", page.text)
    assert invite_id
    accepted = web.post(f"/share/received/{invite_id.group(1)}/accept", from_page="/share")
    assert accepted.status_code == 303
    page = web.get("/share")
    assert f'href="/data/view/{parent.user_id}">Pat Parent’s data' in page.text
    assert web.get(f"/data/view/{parent.user_id}").status_code == 200
    nurse_id = client.get("/auth/user", headers=parent.headers)  # the parent's own session still works
    assert nurse_id.status_code == 200

    web.login("parent@example.org")
    page = web.get("/share")
    assert "Sharing" in page.text
    member = re.search(r'data-member="([0-9a-f]+)"', page.text)
    assert member
    member_id = member.group(1)
    assert client.get(f"/access/{parent.user_id}/{member_id}", headers=parent.headers).json() == {
        "view": {},
        "note": {},
        "upload": {},
    }
    web.post(f"/share/members/{member_id}/upload", {}, from_page="/share")
    assert client.get(f"/access/{parent.user_id}/{member_id}", headers=parent.headers).json() == {
        "view": {},
        "note": {},
    }
    web.post(f"/share/members/{member_id}/remove", {}, from_page="/share")
    assert client.get(f"/access/{parent.user_id}/{member_id}", headers=parent.headers).status_code == 404


def test_share_resend_revoke_and_decline(web: Web, client: TestClient, services: Services) -> None:
    account(client, "owner")
    friend = account(client, "friend")
    web.login("owner@example.org")
    web.post("/share/invite", {"email": "friend@example.org"}, from_page="/share")
    page = web.get("/share")
    invite_id = re.search(r"/share/invites/([0-9a-f]+)/resend", page.text)
    assert invite_id
    web.post(f"/share/invites/{invite_id.group(1)}/resend", {}, from_page="/share")
    with services.engine.connect() as conn:
        assert [e.to for e in queued(conn, include_sent=True, cipher=services.notifier.cipher)].count(
            "friend@example.org"
        ) == 2
    _, link = last_email(services, "friend@example.org")
    assert link == "http://testserver/share"  # an account exists: log in and accept

    # Someone else cannot act on the invitation.
    other = Web(TestClient(client.app))
    account(client, "intruder")
    other.login("intruder@example.org")
    assert (
        other.post(f"/share/invites/{invite_id.group(1)}/revoke", {}, from_page="/share").status_code == 404
    )
    assert (
        other.post(f"/share/received/{invite_id.group(1)}/accept", {}, from_page="/share").status_code == 404
    )

    friend_web = Web(TestClient(client.app))
    friend_web.login("friend@example.org")
    friend_web.post(f"/share/received/{invite_id.group(1)}/decline", {}, from_page="/share")
    assert client.get(f"/confirm/invitations/{friend.user_id}", headers=friend.headers).status_code == 404
    assert "Invite declined" in web.get("/share").text
    web.post(f"/share/invites/{invite_id.group(1)}/revoke", {}, from_page="/share")
    page = web.get("/share")
    assert "friend@example.org" not in page.text
    assert "Nobody yet." in page.text

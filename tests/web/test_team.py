"""The clinic team page: an admin invites a clinician by email, who signs up, lands on the page and
accepts; resend and revoke (both databases)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from inlet.notify.notifier import queued
from inlet.services import Services
from tests.web.conftest import PASSWORD, Web, account


def test_invite_a_clinician_from_the_team_page(web: Web, client: TestClient, services: Services) -> None:
    admin = account(client, "head", roles=["clinician"])
    clinic = client.post("/v1/clinics", json={"name": "Bay Clinic"}, headers=admin.headers).json()
    web.login("head@example.org")
    page = web.get("/clinic/team")
    assert page.status_code == 200
    assert "Invite a clinician to Bay Clinic" in page.text
    sent = web.post(
        f"/clinic/team/{clinic['id']}/invite", {"email": "doc@example.org"}, from_page="/clinic/team"
    )
    assert sent.status_code == 303
    again = web.post(
        f"/clinic/team/{clinic['id']}/invite", {"email": "doc@example.org"}, from_page="/clinic/team"
    )
    assert again.status_code == 400
    assert "already a pending invitation" in again.text
    page = web.get("/clinic/team")
    assert "doc@example.org" in page.text
    invite_id = re.search(r"/clinic/team/invites/([0-9a-f]+)/resend", page.text)
    assert invite_id
    web.post(f"/clinic/team/invites/{invite_id.group(1)}/resend", {}, from_page="/clinic/team")
    with services.engine.connect() as conn:
        assert [e.to for e in queued(conn, cipher=services.notifier.cipher)].count("doc@example.org") == 2

    web.logout()
    made = web.post(
        "/signup",
        {"email": "doc@example.org", "password": PASSWORD, "password_confirm": PASSWORD},
        from_page="/signup?email=doc%40example.org",
    )
    assert made.headers["location"] == "/clinic/team"
    page = web.get("/clinic/team")
    assert "<strong>Bay Clinic</strong> invited you" in page.text
    key = re.search(r"/clinic/team/received/([^/]+)/accept", page.text)
    assert key
    # Someone else cannot answer it.
    intruder = Web(TestClient(client.app))
    account(client, "intruder")
    intruder.login("intruder@example.org")
    assert (
        intruder.post(
            f"/clinic/team/received/{key.group(1)}/accept", {}, from_page="/clinic/team"
        ).status_code
        == 404
    )
    assert (
        intruder.post(
            f"/clinic/team/invites/{invite_id.group(1)}/revoke", {}, from_page="/clinic/team"
        ).status_code
        == 404
    )
    accepted = web.post(f"/clinic/team/received/{key.group(1)}/accept", {}, from_page="/clinic/team")
    assert accepted.headers["location"] == "/clinic"
    assert "Bay Clinic" in web.get("/clinic").text
    members = client.get(f"/v1/clinics/{clinic['id']}/clinicians", headers=admin.headers).json()
    assert sorted(m.get("email") for m in members) == ["doc@example.org", "head@example.org"]


def test_revoke_a_clinician_invitation(web: Web, client: TestClient) -> None:
    admin = account(client, "chief", roles=["clinician"])
    clinic = client.post("/v1/clinics", json={"name": "Dale Clinic"}, headers=admin.headers).json()
    web.login("chief@example.org")
    web.post(
        f"/clinic/team/{clinic['id']}/invite",
        {"email": "nope@example.org", "role": "admin"},
        from_page="/clinic/team",
    )
    page = web.get("/clinic/team")
    invite_id = re.search(r"/clinic/team/invites/([0-9a-f]+)/revoke", page.text)
    assert invite_id
    web.post(f"/clinic/team/invites/{invite_id.group(1)}/revoke", {}, from_page="/clinic/team")
    assert "nope@example.org" not in web.get("/clinic/team").text

"""Clinician invitations: an admin invites by email, the invitee signs up and accepts (both databases)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inlet.notify.notifier import queued
from inlet.services import Services
from tests.api.conftest import signup


def test_invite_a_clinician_who_signs_up_then_accepts(client: TestClient, services: Services) -> None:
    admin = signup(client, "admin@clinic.example", roles=["clinician"])
    clinic = client.post("/v1/clinics", json={"name": "Lakeside Clinic"}, headers=admin.headers).json()
    url = f"/v1/clinics/{clinic['id']}/invites/clinicians"
    sent = client.post(
        url, json={"email": "New.Doc@Clinic.example", "roles": ["CLINIC_MEMBER"]}, headers=admin.headers
    )
    assert sent.status_code == 200, sent.text
    invite = sent.json()
    assert invite["email"] == "new.doc@clinic.example"
    assert invite["roles"] == ["CLINIC_MEMBER"]
    assert invite["status"] == "pending"
    with services.engine.connect() as conn:
        email = [
            e for e in queued(conn, cipher=services.notifier.cipher) if e.to == "new.doc@clinic.example"
        ][-1]
    assert email.subject == "Lakeside Clinic invited you to join its team on Inlet"
    assert email.link == "http://testserver/signup?email=new.doc%40clinic.example"
    again = client.post(
        url, json={"email": "new.doc@clinic.example", "roles": ["CLINIC_MEMBER"]}, headers=admin.headers
    )
    assert again.status_code == 409
    got = client.get(f"{url}/{invite['inviteId']}", headers=admin.headers)
    assert got.json()["inviteId"] == invite["inviteId"]

    doc = signup(client, "new.doc@clinic.example")
    received = client.get(f"/v1/clinicians/{doc.user_id}/invites", headers=doc.headers)
    assert received.status_code == 200
    [waiting] = received.json()
    assert waiting["key"] == invite["inviteId"]
    assert waiting["type"] == "clinician_invitation"
    assert waiting["clinic"] == {"id": clinic["id"], "name": "Lakeside Clinic"}
    assert client.get(f"/v1/clinicians/{doc.user_id}/invites", headers=admin.headers).status_code == 403
    accepted = client.put(f"/v1/clinicians/{doc.user_id}/invites/{invite['inviteId']}", headers=doc.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["roles"] == ["CLINIC_MEMBER"]
    members = client.get(f"/v1/clinics/{clinic['id']}/clinicians", headers=doc.headers)
    assert members.status_code == 200
    assert {m["id"] for m in members.json()} == {admin.user_id, doc.user_id}
    assert client.get(f"/v1/clinicians/{doc.user_id}/invites", headers=doc.headers).json() == []
    assert (
        client.post(
            url, json={"email": "new.doc@clinic.example", "roles": ["CLINIC_MEMBER"]}, headers=admin.headers
        ).status_code
        == 409
    )


def test_resend_dismiss_and_withdraw(client: TestClient, services: Services) -> None:
    admin = signup(client, "boss@clinic.example", roles=["clinician"])
    member = signup(client, "member@clinic.example", roles=["clinician"])
    clinic = client.post("/v1/clinics", json={"name": "Hill Clinic"}, headers=admin.headers).json()
    url = f"/v1/clinics/{clinic['id']}/invites/clinicians"
    client.post(
        f"/v1/clinics/{clinic['id']}/clinicians",
        json={"email": member.username, "roles": ["CLINIC_MEMBER"]},
        headers=admin.headers,
    )
    invite = client.post(
        url, json={"email": "guest@example.org", "roles": ["CLINIC_ADMIN"]}, headers=admin.headers
    ).json()
    assert (
        client.post(
            url, json={"email": "x@example.org", "roles": ["CLINIC_MEMBER"]}, headers=member.headers
        ).status_code
        == 403
    )
    assert client.patch(f"{url}/{invite['inviteId']}", headers=member.headers).status_code == 403
    assert client.patch(f"{url}/{invite['inviteId']}", headers=admin.headers).status_code == 200
    with services.engine.connect() as conn:
        assert [e.to for e in queued(conn, cipher=services.notifier.cipher)].count("guest@example.org") == 2
    guest = signup(client, "guest@example.org")
    dismissed = client.delete(
        f"/v1/clinicians/{guest.user_id}/invites/{invite['inviteId']}", headers=guest.headers
    )
    assert dismissed.status_code == 200
    assert client.get(f"{url}/{invite['inviteId']}", headers=admin.headers).json()["status"] == "declined"
    assert (
        client.put(
            f"/v1/clinicians/{guest.user_id}/invites/{invite['inviteId']}", headers=guest.headers
        ).status_code
        == 404
    )
    assert client.delete(f"{url}/{invite['inviteId']}", headers=admin.headers).status_code == 200
    assert client.get(f"{url}/{invite['inviteId']}", headers=admin.headers).status_code == 404
    other = signup(client, "other@example.org")
    second = client.post(
        url, json={"email": "guest@example.org", "roles": ["CLINIC_MEMBER"]}, headers=admin.headers
    ).json()
    assert (
        client.put(
            f"/v1/clinicians/{other.user_id}/invites/{second['inviteId']}", headers=other.headers
        ).status_code
        == 404
    )

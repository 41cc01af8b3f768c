"""A clinician asks a patient, by email, to connect a partner account: the link, resend, 409, reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.app import create_app
from inlet.db.schema import connection_requests
from inlet.model.timeutil import from_micros, now_utc
from inlet.notify import Email, queued
from inlet.partners.requests import send_connection_reminders
from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account, signup
from tests.api.test_clinics import add_member, make_clinic, new_patient

_DAY = 86_400 * 1_000_000


@pytest.fixture
def setup(client: TestClient) -> tuple[Account, dict[str, Any], dict[str, Any]]:
    clinician = signup(client, "doc@example.org", roles=["clinician"])
    clinic = make_clinic(client, clinician)
    patient = new_patient(client, clinic["id"], clinician, email="jamie@example.org")
    return clinician, clinic, patient


def emails(services: Services) -> list[Email]:
    """Every email, opened with the server's token keys (bodies and links are sealed at rest)."""
    with services.engine.connect() as conn:
        return list(queued(conn, include_sent=True, cipher=services.partners.vault))


def requests(services: Services) -> list[Any]:
    with services.engine.connect() as conn:
        return list(conn.execute(select(connection_requests)).all())


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["restricted_token"][0]


def connect(services: Services, user_id: str, slug: str) -> None:
    partner = services.partners.registry.get(slug)
    assert partner is not None
    with services.engine.begin() as conn:
        services.partners.connect(conn, partner, user_id, {"access_token": "made-up"}, None)


def test_request_emails_a_link_for_the_patient(client: TestClient, services: Services, setup: Any) -> None:
    clinician, clinic, patient = setup
    url = f"/v1/clinics/{clinic['id']}/patients/{patient['id']}/connect/dexcom"
    response = client.post(url, headers=clinician.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""

    [email] = emails(services)
    assert email.to == "jamie@example.org"
    assert email.sent_time is None  # no SMTP: queued in the outbox
    assert "Sunrise Clinic" in email.subject
    assert "Dexcom" in email.subject
    assert "Sunrise Clinic" in email.body
    assert "Dexcom" in email.body
    assert email.link in email.body
    assert email.link.startswith("http://testserver/v1/oauth/dexcom/authorize?restricted_token=")
    with services.engine.connect() as conn:
        restricted = services.accounts.resolve_restricted_token(conn, token_of(email.link))
    assert restricted is not None
    assert restricted.user_id == patient["id"]
    assert restricted.paths == ["/v1/oauth/dexcom/authorize"]
    assert restricted.methods == ["GET"]
    assert abs(restricted.expires_time - restricted.created_time - 30 * _DAY) < 1_000_000

    [row] = requests(services)
    assert (row.clinic_id, row.user_id, row.provider_name) == (clinic["id"], patient["id"], "dexcom")
    assert row.reminder_sent_time is None
    assert row.created_user_id == clinician.user_id
    assert row.expires_time == restricted.expires_time

    # the link alone starts the flow (the partner is unreachable here, but the token is accepted)
    started = client.get(email.link.removeprefix("http://testserver"), follow_redirects=False)
    assert started.status_code == 307


def test_older_dexcom_endpoint_answers_the_patient(
    client: TestClient, services: Services, setup: Any
) -> None:
    clinician, clinic, patient = setup
    url = f"/v1/clinics/{clinic['id']}/patients/{patient['id']}/send_dexcom_connect_request"
    response = client.post(url, headers=clinician.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == patient["id"]
    assert body["fullName"] == patient["fullName"]
    assert body["lastRequestedDexcomConnectTime"].endswith("Z")
    [email] = emails(services)
    assert "/v1/oauth/dexcom/authorize?restricted_token=" in email.link


def test_resend_while_not_connected_and_409_when_connected(
    client: TestClient, services: Services, setup: Any
) -> None:
    clinician, clinic, patient = setup
    url = f"/v1/clinics/{clinic['id']}/patients/{patient['id']}/connect/acme"
    assert client.post(url, headers=clinician.headers).status_code == 204
    assert client.post(url, headers=clinician.headers).status_code == 204  # resend: nothing connected
    assert len(emails(services)) == 2
    assert len(requests(services)) == 1

    connect(services, patient["id"], "acme")
    refused = client.post(url, headers=clinician.headers)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "data-source-connected"
    assert len(emails(services)) == 2

    # an error state (e.g. the partner refused the tokens) may be resent; so may disconnected
    with services.engine.begin() as conn:
        source = services.partners.find_source(conn, patient["id"], "acme")
        assert source is not None
        services.partners.update_source(
            conn, source, {"state": "error", "error": {"code": "unauthenticated"}}
        )
    assert client.post(url, headers=clinician.headers).status_code == 204
    with services.engine.begin() as conn:
        services.partners.disconnect(conn, "acme", patient["id"])
    assert client.post(url, headers=SERVICE_HEADERS).status_code == 204
    assert len(emails(services)) == 4


def test_who_may_ask(client: TestClient, services: Services, setup: Any) -> None:
    clinician, clinic, patient = setup
    member = signup(client, "member@example.org")
    add_member(client, clinic["id"], clinician, member)
    outsider = signup(client, "outsider@example.org")
    stranger = signup(client, "stranger@example.org")  # shares with no clinic
    base = f"/v1/clinics/{clinic['id']}/patients"
    assert client.post(f"{base}/{patient['id']}/connect/dexcom", headers=member.headers).status_code == 204
    assert client.post(f"{base}/{patient['id']}/connect/dexcom", headers=outsider.headers).status_code == 403
    assert client.post(f"{base}/{patient['id']}/connect/dexcom").status_code == 401
    missing = client.post(f"{base}/{stranger.user_id}/connect/dexcom", headers=clinician.headers)
    assert missing.status_code == 404
    unknown = client.post(f"{base}/{patient['id']}/connect/nosuch", headers=clinician.headers)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == "partner-not-found"
    assert len(emails(services)) == 1


def test_patient_without_email(client: TestClient, services: Services, setup: Any) -> None:
    clinician, clinic, _ = setup
    quiet = new_patient(client, clinic["id"], clinician, fullName="No Mail")
    url = f"/v1/clinics/{clinic['id']}/patients/{quiet['id']}/connect/dexcom"
    response = client.post(url, headers=clinician.headers)
    assert response.status_code == 400
    assert emails(services) == []
    assert requests(services) == []


def test_reminder_once_after_seven_days_unless_connected(
    client: TestClient, services: Services, setup: Any
) -> None:
    clinician, clinic, patient = setup
    other = new_patient(client, clinic["id"], clinician, fullName="Alex", email="alex@example.org")
    for who in (patient, other):
        url = f"/v1/clinics/{clinic['id']}/patients/{who['id']}/connect/dexcom"
        assert client.post(url, headers=clinician.headers).status_code == 204
    connect(services, other["id"], "dexcom")
    start = now_utc()

    with services.engine.begin() as conn:
        assert send_connection_reminders(conn, services, start + timedelta(days=6, hours=23)) == 0
    with services.engine.begin() as conn:
        assert send_connection_reminders(conn, services, start + timedelta(days=7, minutes=1)) == 1
    with services.engine.begin() as conn:
        assert send_connection_reminders(conn, services, start + timedelta(days=8)) == 0  # once

    *_, reminder = emails(services)
    assert reminder.to == "jamie@example.org"
    assert reminder.subject.startswith("Reminder:")
    assert "Sunrise Clinic" in reminder.body
    with services.engine.connect() as conn:
        restricted = services.accounts.resolve_restricted_token(conn, token_of(reminder.link))
    assert restricted is not None
    assert restricted.paths == ["/v1/oauth/dexcom/authorize"]
    assert restricted.methods == ["GET"]
    rows = {row.user_id: row for row in requests(services)}
    assert rows[patient["id"]].reminder_sent_time is not None
    assert rows[other["id"]].reminder_sent_time is None
    assert from_micros(rows[patient["id"]].reminder_sent_time) > start + timedelta(days=7)

    # a resend re-arms the reminder
    url = f"/v1/clinics/{clinic['id']}/patients/{patient['id']}/connect/dexcom"
    assert client.post(url, headers=clinician.headers).status_code == 204
    rows = {row.user_id: row for row in requests(services)}
    assert rows[patient["id"]].reminder_sent_time is None


def test_the_link_starts_the_flow_and_can_do_nothing_else(
    client: TestClient, services: Services, setup: Any
) -> None:
    """A 30-day link in a mailbox: GET of the authorize leg only. Not DELETE of the same path (that
    would disconnect the patient), not another partner, not the patient's data or account."""
    clinician, clinic, patient = setup
    url = f"/v1/clinics/{clinic['id']}/patients/{patient['id']}/connect/dexcom"
    assert client.post(url, headers=clinician.headers).status_code == 204
    [email] = emails(services)
    token = token_of(email.link)
    connect(services, patient["id"], "dexcom")  # connected meanwhile (say, from the patient's own app)
    pid = patient["id"]
    refused = [
        ("DELETE", "/v1/oauth/dexcom/authorize"),
        ("DELETE", f"/v1/users/{pid}/oauth/dexcom/authorize"),
        ("GET", "/v1/oauth/acme/authorize"),
        ("GET", f"/v1/users/{pid}/data_sources"),
        ("GET", f"/metadata/{pid}/profile"),
        ("GET", f"/auth/user/{pid}"),
        ("POST", f"/v1/users/{pid}/restricted_tokens"),
    ]
    for method, path in refused:
        response = client.request(method, path, params={"restricted_token": token})
        assert response.status_code in (401, 403), (method, path, response.text)
        [error] = response.json()["errors"]  # the platform error format
        assert error["code"] in ("unauthorized", "unauthenticated"), (method, path)
    # /data keeps its own error format
    read = client.get(f"/data/{pid}", params={"restricted_token": token})
    assert read.status_code == 403
    assert read.json()["code"] == "data_cant_view"
    # nothing was disconnected; the link still does its one job
    with services.engine.connect() as conn:
        source = services.partners.find_source(conn, pid, "dexcom")
    assert source is not None
    assert source.state == "connected"
    started = client.get(email.link.removeprefix("http://testserver"), follow_redirects=False)
    assert started.status_code == 307


def test_the_browser_cookie_is_secure_over_https(services: Services, setup: Any) -> None:
    *_, patient = setup
    services.settings = services.settings.model_copy(update={"public_url": "https://inlet.example"})
    with TestClient(create_app(services=services), base_url="https://inlet.example") as https:
        with services.engine.begin() as conn:
            token, _ = services.accounts.create_restricted_token(
                conn, patient["id"], ["/v1/oauth/dexcom/authorize"]
            )
        started = https.get(
            "/v1/oauth/dexcom/authorize", params={"restricted_token": token}, follow_redirects=False
        )
    assert started.status_code == 307
    cookie = started.headers["set-cookie"]
    assert cookie.startswith("inlet_oauth=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/v1/oauth/dexcom" in cookie

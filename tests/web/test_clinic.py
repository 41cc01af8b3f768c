"""The clinician workspace: patients and their connection states, Request connection (an email in the
outbox) and Resend, links to data views, and what non-clinicians see; SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from inlet.accounts import clinics
from inlet.notify.notifier import queued
from inlet.services import Services

from .conftest import Account, Web, account, csrf_of
from .test_profile import set_state


def connection_item(html: str, patient_id: str, slug: str) -> str:
    patient = re.search(rf'data-patient="{patient_id}".*?</ul>', html, re.DOTALL)
    assert patient, html
    item = re.search(rf'<li data-partner="{slug}">.*?</li>', patient.group(0), re.DOTALL)
    assert item, patient.group(0)
    return item.group(0)


def make_clinic(
    services: Services, clinician: Account, patient: Account | None, shared: bool = True, email: bool = True
) -> str:
    with services.engine.begin() as conn:
        now = services.accounts.now()
        clinic = clinics.create_clinic(conn, now, "Lakeside Clinic", {})
        clinics.add_clinician(
            conn,
            now,
            clinic.id,
            clinician.user_id,
            email=clinician.username,
            name="Dr. C",
            roles=["CLINIC_ADMIN"],
        )
        if patient is not None:
            doc = {"fullName": "Pat Patient"}
            if email:
                doc["email"] = "pat.patient@example.org"
            clinics.add_patient(conn, now, clinic.id, patient.user_id, doc, {"view": {}} if shared else {})
    return clinic.id


@pytest.fixture
def doc(client: TestClient) -> Account:
    return account(client, "doc", roles=["clinician"])


@pytest.fixture
def pat(client: TestClient) -> Account:
    return account(client, "pat")


def test_request_connection_emails_the_patient_and_then_offers_resend(
    web: Web, doc: Account, pat: Account, services: Services
) -> None:
    clinic_id = make_clinic(services, doc, pat)
    web.login(doc.username)
    page = web.get("/clinic")
    assert page.status_code == 200
    assert "Lakeside Clinic" in page.text
    assert "Pat Patient" in page.text
    assert f'href="/data/view/{pat.user_id}"' in page.text
    item = connection_item(page.text, pat.user_id, "dexcom")
    assert 'data-state="disconnected">disconnected<' in item
    assert "(not requested)" in item
    assert ">Request connection</button>" in item

    url = f"/clinic/{clinic_id}/patients/{pat.user_id}/connect/dexcom"
    response = web.post(url, {"csrf_token": csrf_of(page)})
    assert response.status_code == 303, response.text
    after = web.get(response.headers["location"])
    assert "The Dexcom connection request was emailed to Pat Patient." in after.text
    item = connection_item(after.text, pat.user_id, "dexcom")
    assert "(requested " in item
    assert ">Resend</button>" in item
    assert ">Request connection</button>" in connection_item(after.text, pat.user_id, "acme")
    with services.engine.connect() as conn:
        [email] = list(queued(conn, include_sent=True, cipher=services.partners.vault))
    assert email.to == "pat.patient@example.org"
    assert "Lakeside Clinic" in email.subject
    assert email.link is not None
    assert "/v1/oauth/dexcom/authorize?restricted_token=" in email.link

    again = web.post(url, {"csrf_token": csrf_of(after)})
    assert again.status_code == 303
    with services.engine.connect() as conn:
        assert len(list(queued(conn, include_sent=True, cipher=services.partners.vault))) == 2


def test_connected_and_error_states_are_shown(
    web: Web, doc: Account, pat: Account, services: Services
) -> None:
    make_clinic(services, doc, pat)
    set_state(services, pat.user_id, "dexcom", "connected")
    set_state(services, pat.user_id, "acme", "error", error={"code": "x", "title": "t", "detail": "d"})
    web.login(doc.username)
    page = web.get("/clinic").text
    dexcom = connection_item(page, pat.user_id, "dexcom")
    assert 'data-state="connected">connected<' in dexcom
    assert "<button" not in dexcom
    acme = connection_item(page, pat.user_id, "acme")
    assert 'data-state="error">error<' in acme
    assert ">Reconnect</button>" in acme  # the connection broke: ask the patient to reconnect


def test_requests_are_refused_in_plain_words(
    web: Web, doc: Account, pat: Account, services: Services
) -> None:
    clinic_id = make_clinic(services, doc, pat)
    set_state(services, pat.user_id, "dexcom", "connected")
    web.login(doc.username)
    connected = web.post(f"/clinic/{clinic_id}/patients/{pat.user_id}/connect/dexcom", from_page="/clinic")
    assert connected.status_code == 409
    assert "already connected" in connected.text
    forged = web.post(f"/clinic/{clinic_id}/patients/{pat.user_id}/connect/acme", {"csrf_token": "x"})
    assert forged.status_code == 403
    with services.engine.connect() as conn:
        assert list(queued(conn, include_sent=True, cipher=services.partners.vault)) == []


def test_a_clinician_of_another_clinic_cannot_request(
    web: Web, client: TestClient, doc: Account, pat: Account, services: Services
) -> None:
    clinic_id = make_clinic(services, doc, pat)
    other = account(client, "other", roles=["clinician"])
    make_clinic(services, other, None)
    web.login(other.username)
    page = web.get("/clinic")
    assert "Pat Patient" not in page.text
    assert "This clinic has no patients yet." in page.text
    response = web.post(
        f"/clinic/{clinic_id}/patients/{pat.user_id}/connect/dexcom", {"csrf_token": csrf_of(page)}
    )
    assert response.status_code == 403
    assert "not a clinician of this clinic" in response.text


def test_no_data_link_without_a_share(web: Web, doc: Account, pat: Account, services: Services) -> None:
    make_clinic(services, doc, pat, shared=False)
    web.login(doc.username)
    page = web.get("/clinic").text
    assert "Pat Patient" in page
    assert f"/data/view/{pat.user_id}" not in page


def test_a_person_who_is_no_clinician_gets_an_explanation(web: Web, pat: Account) -> None:
    web.login(pat.username)
    page = web.get("/clinic")
    assert page.status_code == 200
    assert "You are not a clinician of any clinic" in page.text
    assert 'href="/clinic"' not in web.get("/").text

"""A clinician's connect request, end to end over real HTTP: the email arrives at a real SMTP server
(aiosmtpd, ``INLET_SMTP_URL`` pointing at it), and its link alone takes the patient through the Dexcom
simulator's consent to a connected data source."""

from __future__ import annotations

import re

from inlet.notify import Notifier
from inlet.services import Services
from inlet.settings import load_settings
from tests.notify.conftest import StartSmtp, certificate, start_smtp  # noqa: F401

from .conftest import Browser, Inlet, outcome

LINK = re.compile(r"https?://\S+/v1/oauth/dexcom/authorize\?restricted_token=\S+")


def test_clinician_email_link_connects_the_patient(
    inlet: Inlet,
    browser: Browser,
    start_smtp: StartSmtp,  # noqa: F811
) -> None:
    smtp = start_smtp()
    settings = load_settings(data_dir=inlet.data_dir, smtp_url=smtp.url())
    services: Services = inlet.services
    services.notifier = Notifier.from_settings(settings)

    clinician = inlet.signup()
    clinic = inlet.http.post(
        f"{inlet.url}/v1/clinics", json={"name": "Lakeside Clinic"}, headers=clinician.headers
    )
    assert clinic.status_code == 200, clinic.text
    clinic_id = clinic.json()["id"]
    patient = inlet.http.post(
        f"{inlet.url}/v1/clinics/{clinic_id}/patients",
        json={"fullName": "Sam Custodial", "birthDate": "2013-04-05", "email": "sam@example.org"},
        headers=clinician.headers,
    )
    assert patient.status_code == 200, patient.text
    patient_id = patient.json()["id"]

    url = f"{inlet.url}/v1/clinics/{clinic_id}/patients/{patient_id}/connect/dexcom"
    response = inlet.http.post(url, headers=clinician.headers)
    assert response.status_code == 204, response.text

    [received] = smtp.messages
    assert received.rcpt_tos == ["sam@example.org"]
    assert "Lakeside Clinic" in received.message["Subject"]
    text = received.message.get_content()
    assert "Lakeside Clinic" in text
    assert "Dexcom" in text
    [link] = LINK.findall(text)
    assert link.startswith(f"{inlet.url}/v1/oauth/dexcom/authorize?restricted_token=")

    # the custodial patient has no password and no session: the link alone does it
    partner_url = browser.http.get(link)
    assert partner_url.status_code == 307, partner_url.text
    page = browser.finish(browser.consent(partner_url.headers["location"], "SandboxUser1"))
    assert outcome(page) == "authorized"
    [source] = inlet.sources(patient_id)
    assert source.state == "connected"
    assert source.provider_name == "dexcom"

    # the link is spent; asking again is refused while connected
    assert browser.http.get(link).status_code == 401
    again = inlet.http.post(url, headers=clinician.headers)
    assert again.status_code == 409
    assert len(smtp.messages) == 1

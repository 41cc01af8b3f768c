"""A clinician's connect request, end to end over real HTTP: the email arrives at a real SMTP server
(aiosmtpd, ``INLET_SMTP_URL`` pointing at it), or, without SMTP, waits in the outbox for ``inlet
outbox``; either way its link alone takes the patient through the Dexcom simulator's consent to a
connected data source, and the live link (a 30-day credential) is nowhere in the database in plain
text: outbox bodies and links are sealed with the token keys."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from typer.testing import CliRunner

from inlet.cli import app as cli
from inlet.db.schema import metadata
from inlet.notify import Notifier
from inlet.services import Services
from inlet.settings import load_settings
from tests.notify.conftest import StartSmtp, certificate, start_smtp  # noqa: F401

from .conftest import Browser, Inlet, outcome
from .test_no_leaks import leaks

LINK = re.compile(r"https?://\S+/v1/oauth/dexcom/authorize\?restricted_token=\S+")


def test_clinician_email_link_connects_the_patient(
    inlet: Inlet,
    browser: Browser,
    start_smtp: StartSmtp,  # noqa: F811
) -> None:
    smtp = start_smtp()
    settings = load_settings(data_dir=inlet.data_dir, smtp_url=smtp.url())
    services: Services = inlet.services
    services.notifier = Notifier.from_settings(settings, cipher=services.partners.vault)

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
    assert leaks(database_text(inlet), {"the live link's token": token_of(link)}) == []

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


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["restricted_token"][0]


def database_text(inlet: Inlet) -> bytes:
    """Every row of every table, as text."""
    with inlet.services.engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(select(table))
        ).encode()


def request_connection(inlet: Inlet, clinician: Any) -> str:
    """A clinic, a custodial patient with an email address, and its Dexcom connect request; the
    patient's user id."""
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
    patient_id = str(patient.json()["id"])
    url = f"{inlet.url}/v1/clinics/{clinic_id}/patients/{patient_id}/connect/dexcom"
    assert inlet.http.post(url, headers=clinician.headers).status_code == 204
    return patient_id


def test_without_smtp_the_link_waits_sealed_and_inlet_outbox_shows_it(inlet: Inlet, browser: Browser) -> None:
    assert inlet.services.notifier.smtp is None
    patient_id = request_connection(inlet, inlet.signup())

    # ``inlet outbox`` (the same database and token keys as the server) prints the working link
    env = {
        "INLET_DATA_DIR": str(inlet.data_dir),
        "INLET_DATABASE_URL": inlet.services.settings.database_url,
        "INLET_TOKEN_KEYS": None,
        "INLET_SMTP_URL": None,
    }
    result = CliRunner().invoke(cli, ["outbox"], env=env)
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    email = json.loads(line)
    assert list(email) == ["to", "subject", "body", "link", "createdTime"]
    assert email["to"] == "sam@example.org"
    link = email["link"]
    assert link.startswith(f"{inlet.url}/v1/oauth/dexcom/authorize?restricted_token=")
    assert link in email["body"]

    # the live token is stored nowhere in plain text (raw, URL-encoded, hex or base64), nor its link
    dump = database_text(inlet)
    assert leaks(dump, {"the live link's token": token_of(link), "the link": link}) == []
    assert b"gAAAAA" in dump  # the sealed body and link

    # and the link works: the patient connects with it
    started = browser.http.get(link)
    assert started.status_code == 307, started.text
    assert (
        outcome(browser.finish(browser.consent(started.headers["location"], "SandboxUser1"))) == "authorized"
    )
    [source] = inlet.sources(patient_id)
    assert source.state == "connected"

    # the emails stay queued for good (no SMTP), still readable by ``inlet outbox``
    again = CliRunner().invoke(cli, ["outbox"], env=env)
    assert again.exit_code == 0
    assert json.loads(again.stdout.splitlines()[0])["link"] == link

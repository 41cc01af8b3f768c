"""Times as people read them (both databases): a person's time zone is their profile setting, else
the zone of their newest data, else UTC, and always labelled; a clinician sees each patient's times in
that patient's zone; the settings API refuses a zone that does not exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from inlet.model.timeutil import to_micros
from inlet.web.agp_pdf import report_html
from inlet.web.pages import TEMPLATES
from inlet.web.zones import UTC_ZONE, named

from .conftest import Web, account
from .test_clinic_population import _upload


def test_when_shows_the_zone_it_is_given_and_labels_it() -> None:
    moment = to_micros(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))  # the night Europe moves to summer time
    template = TEMPLATES.env.from_string("{{ t | when }}")
    assert template.render(t=moment, zone=named("Europe/Berlin")) == "29 Mar 2026, 01:30 (Europe/Berlin)"
    later = moment + 3_600_000_000
    assert template.render(t=later, zone=named("Europe/Berlin")) == "29 Mar 2026, 03:30 (Europe/Berlin)"
    assert template.render(t="2026-03-29T00:30:00Z") == "29 Mar 2026, 00:30 (UTC)"  # nobody signed in
    assert named("Mars/Olympus") is None
    assert named("../etc/passwd") is None


def test_the_agp_report_says_when_it_was_made_in_the_persons_zone(client: TestClient) -> None:
    pat = account(client, "pat")
    made = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
    html = report_html(
        type("Person", (), {"profile": {}, "username": pat.username})(),
        [],
        made,
        made,
        "mg/dL",
        made,
        named("America/New_York") or UTC_ZONE,
    )
    assert "Made by Inlet on 15 Oct 2026, 08:00 (America/New_York)." in html


def test_the_settings_api_keeps_a_zone_and_refuses_one_that_does_not_exist(client: TestClient) -> None:
    pat = account(client, "pat")
    url = f"/metadata/{pat.user_id}/settings"
    saved = client.put(url, json={"timezone": "Europe/Paris"}, headers=pat.headers)
    assert saved.status_code == 200
    assert saved.json()["timezone"] == "Europe/Paris"
    for bad in ("Mars/Olympus", "", 5, "Europe/Paris\x00"):
        refused = client.put(url, json={"timezone": bad}, headers=pat.headers)
        assert refused.status_code == 400, bad
        assert refused.json()["errors"][0]["source"] == {"pointer": "/timezone"}
    assert client.get(url, headers=pat.headers).json()["timezone"] == "Europe/Paris"  # nothing changed


def test_a_clinician_sees_each_patients_times_in_that_patients_zone(web: Web, client: TestClient) -> None:
    doc = account(client, "doc", roles=["clinician"])
    web.login(doc.username)
    created = web.post("/clinic/new", {"name": "Harbour Clinic"}, from_page="/clinic")
    clinic_id = re.search(r"clinic=([0-9a-f]{24})", created.headers["location"]).group(1)  # type: ignore[union-attr]
    for name in ("Ann Berlin", "Bea Tokyo"):
        web.post(
            f"/clinic/{clinic_id}/patients",
            {"full_name": name, "birth_date": "2010-05-06"},
            from_page=f"/clinic?clinic={clinic_id}",
        )
    listed = client.get(f"/v1/clinics/{clinic_id}/patients", headers=doc.headers).json()["data"]
    ids = {p["fullName"].split()[0]: p["id"] for p in listed}
    _upload(client, doc, ids["Ann"], [120] * 300, "Europe/Berlin")
    _upload(client, doc, ids["Bea"], [120] * 300, "Europe/Berlin")
    # Bea's own setting wins over the zone of her data; the newest reading is 21 Nov 00:55 UTC.
    put = client.put(f"/metadata/{ids['Bea']}/settings", json={"timezone": "Asia/Tokyo"}, headers=doc.headers)
    assert put.status_code == 200, put.text
    page = web.get(f"/clinic?clinic={clinic_id}&period=1d").text
    assert "21 Nov 2026, 01:55 (Europe/Berlin)" in page
    assert "21 Nov 2026, 09:55 (Asia/Tokyo)" in page
    assert "UTC)" not in page.split("<tbody")[1]  # no patient time is left in UTC

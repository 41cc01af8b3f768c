"""The person's glucose unit on every page: chosen on the profile, used by the data view's text,
tables and charts; a clinician of the person's clinic sees the clinic's ``preferredBgUnits``
(both databases)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from inlet.accounts import clinics
from inlet.services import Services
from tests.web.conftest import Web, account
from tests.web.test_data_view import seed


def test_the_profile_sets_mmol_and_the_data_view_follows(web: Web, client: TestClient) -> None:
    pat = account(client, "pat")
    seed(client, pat)
    web.login(pat.username)
    profile = web.get("/profile")
    assert 'id="units"' in profile.text
    assert 'value="70"' in profile.text
    assert 'value="180"' in profile.text
    # Switch to mmol/L leaving the numbers as they are: they were written in mg/dL.
    saved = web.post(
        "/profile/units",
        {
            "unit": "mmol/L",
            "target_unit": "mg/dL",
            "low": "70",
            "high": "180",
            "site_change_source": "cannulaPrime",
        },
        from_page="/profile",
    )
    assert saved.status_code == 303
    api = client.get(f"/metadata/{pat.user_id}/settings", headers=pat.headers).json()
    assert api == {
        "units": {"bg": "mmol/L"},
        "bgTarget": {"low": 3.9, "high": 10.0},
        "siteChangeSource": "cannulaPrime",
    }
    profile = web.get("/profile")
    assert 'value="3.9"' in profile.text
    assert 'value="10.0"' in profile.text
    page = web.get(f"/data/view/{pat.user_id}").text
    assert 'data-units="mmol/L"' in page
    assert "target range 3.9-10.0 mmol/L" in page
    assert re.search(r'data-stat="mean">\d+\.\d mmol/L \(\d+ mg/dL\)<', page)
    assert "In range (3.9 to 10.0 mmol/L)" in page
    assert "mmol/L</text>" in page  # the charts' axis unit
    assert re.search(r"<title>\d\d:\d\d \d+\.\d mmol/L</title>", page)  # each CGM point
    assert " mg/dL</title>" not in page


def test_a_clinician_sees_the_clinics_preferred_unit(
    web: Web, client: TestClient, services: Services
) -> None:
    pat = account(client, "pat")
    seed(client, pat)
    client.put(f"/metadata/{pat.user_id}/settings", json={"units": {"bg": "mmol/L"}}, headers=pat.headers)
    doctor = account(client, "doc", roles=["clinician"])
    with services.engine.begin() as conn:
        now = services.accounts.now()
        clinic = clinics.create_clinic(conn, now, "Lakeside Clinic", {"preferredBgUnits": "mg/dL"})
        clinics.add_clinician(
            conn, now, clinic.id, doctor.user_id, email=None, name=None, roles=["CLINIC_MEMBER"]
        )
        clinics.add_patient(conn, now, clinic.id, pat.user_id, {"fullName": "Pat Patient"}, {"view": {}})
    web.login(doctor.username)
    page = web.get(f"/data/view/{pat.user_id}").text
    assert 'data-units="mg/dL"' in page
    assert re.search(r'data-stat="mean">\d+ mg/dL', page)
    web.login(pat.username)
    assert 'data-units="mmol/L"' in web.get(f"/data/view/{pat.user_id}").text


def test_a_bad_target_is_refused_in_plain_words(web: Web, client: TestClient) -> None:
    account(client, "pat")
    web.login("pat@example.org")
    refused = web.post(
        "/profile/units",
        {"unit": "mg/dL", "target_unit": "mg/dL", "low": "200", "high": "100"},
        from_page="/profile",
    )
    assert refused.status_code == 400
    assert "low must be below high" in refused.text

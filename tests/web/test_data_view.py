"""The data view: who may see it (the read API's permission check), the default day in the data's
local time, the daily chart, the 14-day overview and the AGP; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inlet.accounts import clinics
from inlet.services import Services
from tests.api.test_data_sets import upload

from .conftest import Account, Web, account

OFFSET = -300  # the device's clock is five hours behind UTC


def datum(kind: str, when: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "time": when, "timezoneOffset": OFFSET, "deviceId": "DexG6_1", **fields}


def cbg(day: int, hour: int, minute: int, value: int) -> dict[str, Any]:
    return datum("cbg", f"2026-10-{day:02d}T{hour:02d}:{minute:02d}:00Z", units="mg/dL", value=value)


def seed(client: TestClient, person: Account) -> None:
    """Three UTC days of 5-minute CGM data, and a bolus, a meal and a basal on 2 Oct (local)."""
    items = [
        cbg(day, hour, minute, 100 + hour * 5) for day in (1, 2) for hour in range(24) for minute in (0, 30)
    ]
    items += [cbg(3, 0, 0, 300), cbg(3, 2, 0, 45)]  # local 2 Oct 19:00 and 21:00
    items += [
        datum("bolus", "2026-10-02T17:00:00Z", subType="normal", normal=2.5),
        datum("food", "2026-10-02T17:00:00Z", nutrition={"carbohydrate": {"net": 40, "units": "grams"}}),
        datum("basal", "2026-10-02T10:00:00Z", deliveryType="scheduled", rate=0.8, duration=3_600_000),
    ]
    upload(client, person, items, dataSetType="continuous")


@pytest.fixture
def pat(client: TestClient) -> Account:
    person = account(client, "pat")
    seed(client, person)
    return person


def test_the_owner_sees_the_latest_local_day_the_overview_and_the_agp(web: Web, pat: Account) -> None:
    web.login(pat.username)
    page = web.get(f"/data/view/{pat.user_id}")
    assert page.status_code == 200, page.text
    text = page.text
    # the latest reading is 3 Oct 02:00 UTC, 2 Oct 21:00 on the device's clock
    assert "Friday 2 October 2026" in text
    assert 'value="2026-10-02"' in text
    assert "?day=2026-10-01" in text
    assert "Next day" not in text  # nothing after the latest day
    assert text.count("<svg") == 3
    assert "1 boluses" in text
    assert "1 meals" in text
    for name in ("veryLow", "low", "target", "high", "veryHigh"):
        assert f'data-range="{name}"' in text
    assert re.search(r'data-stat="mean">\d+ mg/dL \(\d+\.\d mmol/L\)<', text)
    assert 'data-stat="gmi">not enough data' in text  # under 70% of 14 days
    assert re.search(r'data-stat="cv">\d+\.\d%<', text)
    assert re.search(r'data-stat="sensor-use">\d+%<', text)
    assert "Ambulatory glucose profile" in text


def test_a_chosen_day_and_a_bad_one(web: Web, pat: Account) -> None:
    web.login(pat.username)
    page = web.get(f"/data/view/{pat.user_id}?day=2026-10-01")
    assert page.status_code == 200
    assert "Thursday 1 October 2026" in page.text
    assert "?day=2026-10-02" in page.text
    empty = web.get(f"/data/view/{pat.user_id}?day=2025-01-01")
    assert empty.status_code == 200
    assert "No CGM readings on this day." in empty.text
    bad = web.get(f"/data/view/{pat.user_id}?day=yesterday")
    assert bad.status_code == 400
    assert "year-month-day" in bad.text


def test_no_data_yet(web: Web, client: TestClient) -> None:
    person = account(client, "new")
    web.login(person.username)
    page = web.get(f"/data/view/{person.user_id}")
    assert page.status_code == 200
    assert "There is no CGM data yet." in page.text
    assert "<svg" not in page.text


def test_a_stranger_is_refused(web: Web, client: TestClient, pat: Account) -> None:
    stranger = account(client, "stranger")
    web.login(stranger.username)
    page = web.get(f"/data/view/{pat.user_id}")
    assert page.status_code == 403
    assert "do not have permission" in page.text
    assert "pat@example.org" not in page.text  # nothing about the person leaks
    assert web.get("/data/view/not-a-user-id").status_code == 403


def test_a_viewer_the_owner_shared_with_may_see_it(
    web: Web, client: TestClient, pat: Account, services: Services
) -> None:
    viewer = account(client, "viewer")
    with services.engine.begin() as conn:
        services.accounts.set_permissions(conn, pat.user_id, viewer.user_id, {"view": {}})
    web.login(viewer.username)
    page = web.get(f"/data/view/{pat.user_id}")
    assert page.status_code == 200
    assert "Data of pat@example.org" in page.text


@pytest.mark.parametrize(("shared", "status"), [(True, 200), (False, 403)])
def test_a_clinician_sees_a_patient_who_shares_with_the_clinic(
    web: Web, client: TestClient, pat: Account, services: Services, shared: bool, status: int
) -> None:
    doctor = account(client, "doc", roles=["clinician"])
    with services.engine.begin() as conn:
        now = services.accounts.now()
        clinic = clinics.create_clinic(conn, now, "Lakeside Clinic", {})
        clinics.add_clinician(
            conn, now, clinic.id, doctor.user_id, email=None, name=None, roles=["CLINIC_MEMBER"]
        )
        clinics.add_patient(
            conn, now, clinic.id, pat.user_id, {"fullName": "Pat Patient"}, {"view": {}} if shared else {}
        )
    web.login(doctor.username)
    assert web.get(f"/data/view/{pat.user_id}").status_code == status


def test_device_cbg_under_cloud_cgm_data_is_shown_once(web: Web, client: TestClient) -> None:
    """The read API's cloud CGM overlap rule holds on the page too: one sensor, seen through the
    partner cloud and through a receiver upload, is counted once (from the cloud)."""
    person = account(client, "pat")
    cloud = [cbg(2, 12, minute, 120) for minute in range(0, 60, 5)]
    upload(
        client,
        person,
        cloud,
        dataSetType="continuous",
        client={"name": "org.inlet.partner.dexcom", "version": "1.0.0"},
    )
    receiver = [cbg(2, 12, minute, 121) for minute in range(2, 55, 5)]  # inside the cloud span
    upload(client, person, [{**item, "deviceId": "Receiver_1"} for item in receiver], deviceId="Receiver_1")
    web.login(person.username)
    page = web.get(f"/data/view/{person.user_id}?day=2026-10-02")
    found = re.search(r"(\d+) CGM readings", page.text)
    assert found, page.text
    assert found.group(1) == "12"

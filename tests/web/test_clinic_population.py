"""The clinic screen as a population table, on SQLite and PostgreSQL: creating a clinic, adding
patients and clinicians from the page, quick filters, sorting, mark reviewed, times in each
patient's own zone (labelled) and the TIDE view."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_data_sets import UPLOADER

from .conftest import Account, Web, account, csrf_of

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def _upload(client: TestClient, doc: Account, patient: str, values: list[int], zone: str | None) -> None:
    made = client.post(
        f"/v1/users/{patient}/data_sets",
        headers=doc.headers,
        json={"client": UPLOADER, "dataSetType": "continuous", "deviceId": "DexG6_1"},
    )
    set_id = made.json()["data"]["id"]
    datums: list[dict[str, Any]] = []
    for i, mg in enumerate(values):
        datum: dict[str, Any] = {
            "type": "cbg",
            "units": "mg/dL",
            "value": mg,
            "time": (START + timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deviceId": "DexG6_1",
        }
        if zone:
            datum.update(timezone=zone, timezoneOffset=60)
        datums.append(datum)
    assert client.post(f"/v1/datasets/{set_id}/data", headers=doc.headers, json=datums).status_code == 200
    assert client.post(f"/v1/summaries/cgm/{patient}", headers=doc.headers).status_code == 200


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="patient" data-patient="([0-9a-f]+)"', html)


def test_a_clinician_works_the_population_table(web: Web, client: TestClient) -> None:
    doc = account(client, "doc", roles=["clinician"])
    web.login(doc.username)
    created = web.post("/clinic/new", {"name": "Harbour Clinic"}, from_page="/clinic")
    assert created.status_code == 303
    clinic_id = re.search(r"clinic=([0-9a-f]{24})", created.headers["location"]).group(1)  # type: ignore[union-attr]
    page = web.get(created.headers["location"])
    assert "The clinic was created." in page.text
    assert "This clinic has no patients yet." in page.text

    for name in ("Ann Low", "Bea Steady", "Cal High"):
        added = web.post(
            f"/clinic/{clinic_id}/patients",
            {"full_name": name, "birth_date": "2010-05-06"},
            from_page=f"/clinic?clinic={clinic_id}",
        )
        assert added.status_code == 303, added.text
    listed = client.get(f"/v1/clinics/{clinic_id}/patients", headers=doc.headers).json()["data"]
    ids = {p["fullName"].split()[0]: p["id"] for p in listed}
    _upload(client, doc, ids["Ann"], [120] * 270 + [60] * 30, "Europe/Berlin")
    _upload(client, doc, ids["Bea"], [120] * 300, None)
    _upload(client, doc, ids["Cal"], [120] * 150 + [200] * 150, None)

    base = f"/clinic?clinic={clinic_id}&period=1d"
    low = web.get(base + "&filter=anyLow").text
    assert _rows(low) == [ids["Ann"]]
    assert 'value="anyLow" checked' in low
    assert "21 Nov 2026, 01:55 (Europe/Berlin)" in low  # the newest reading, in Ann's zone, labelled
    assert 'aria-label="Time in ranges: very low 0 %, low 10 %, in range 90 %' in low

    by_tir = web.get(base + "&sort=-timeInTargetPercent").text
    assert _rows(by_tir) == [ids["Bea"], ids["Ann"], ids["Cal"]]
    assert 'aria-sort="descending"' in by_tir
    assert "(UTC)" in by_tir  # Bea's data says no zone: shown in UTC, labelled
    assert _rows(web.get(base + "&sort=%2BtimeInTargetPercent").text) == [ids["Cal"], ids["Ann"], ids["Bea"]]
    assert _rows(web.get(base + "&search=bea").text) == [ids["Bea"]]

    back = f"/clinic?clinic={clinic_id}&period=1d&filter=anyLow"
    reviewed = web.post(
        f"/clinic/{clinic_id}/patients/{ids['Ann']}/reviewed",
        {"back": back, "csrf_token": csrf_of(web.get(back))},
    )
    assert reviewed.status_code == 303
    assert reviewed.headers["location"].startswith(back)
    after = web.get(reviewed.headers["location"]).text
    assert "Marked as reviewed." in after
    cell = re.search(r'data-col="reviewed">([^<]*)<', after).group(1)  # type: ignore[union-attr]
    assert cell.endswith("(Europe/Berlin)")
    forged = web.post(f"/clinic/{clinic_id}/patients/{ids['Ann']}/reviewed", {"csrf_token": "x"})
    assert forged.status_code == 403

    colleague = account(client, "colleague", roles=["clinician"])
    added = web.post(
        f"/clinic/{clinic_id}/clinicians",
        {"email": colleague.username},
        from_page=f"/clinic?clinic={clinic_id}",
    )
    assert added.status_code == 303
    web.login(colleague.username)
    assert "Harbour Clinic" in web.get("/clinic").text
    refused = web.post(f"/clinic/{clinic_id}/clinicians", {"email": doc.username}, from_page="/clinic")
    assert refused.status_code == 403  # members do not add clinicians

    tag = client.post(f"/v1/clinics/{clinic_id}/patient_tags", json={"name": "T1D"}, headers=doc.headers)
    tag_id = tag.json()["patientTags"][0]["id"]
    for who in ids.values():
        client.put(f"/v1/clinics/{clinic_id}/patients/{who}", json={"tags": [tag_id]}, headers=doc.headers)
    report = web.get(f"/clinic/tide?clinic={clinic_id}&period=1d&tag={tag_id}&days=3650").text
    section = re.search(r'data-category="timeInAnyLowPercent".*?</section>', report, re.DOTALL)
    assert section is not None
    assert f'data-patient="{ids["Ann"]}"' in section.group(0)
    meeting = re.search(r'data-category="meetingTargets".*?</section>', report, re.DOTALL)
    assert meeting is not None
    assert f'data-patient="{ids["Bea"]}"' in meeting.group(0)
    outsider = account(client, "outsider", roles=["clinician"])
    web.login(outsider.username)
    assert web.get(f"/clinic/tide?clinic={clinic_id}").status_code == 403

"""The clinic's patient list with summaries, tags, reviews and the TIDE report, over HTTP on both
databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from inlet.accounts import clinics as c
from inlet.db.schema import summaries
from inlet.services import Services
from tests.api.conftest import Account, client, services, settings, signup  # noqa: F401
from tests.api.test_data_sets import UPLOADER

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def _readings(values: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "type": "cbg",
            "units": "mg/dL",
            "value": mg,
            "time": (START + timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deviceId": "DexG6_1",
        }
        for i, mg in enumerate(values)
    ]


def _upload(http: TestClient, doc: Account, patient: str, values: list[int]) -> None:
    made = http.post(
        f"/v1/users/{patient}/data_sets",
        headers=doc.headers,
        json={"client": UPLOADER, "dataSetType": "continuous", "deviceId": "DexG6_1"},
    )
    assert made.status_code == 201, made.text
    set_id = made.json()["data"]["id"]
    stored = http.post(f"/v1/datasets/{set_id}/data", headers=doc.headers, json=_readings(values))
    assert stored.status_code == 200, stored.text
    assert http.post(f"/v1/summaries/cgm/{patient}", headers=doc.headers).status_code == 200


def _clinic(http: TestClient) -> tuple[Account, str, dict[str, str]]:
    doc = signup(http, "doc@example.org")
    clinic = http.post("/v1/clinics", json={"name": "Clinic"}, headers=doc.headers).json()["id"]
    people = {}
    for name, values in {
        "Ann Low": [120] * 270 + [60] * 30,  # any low: 30 of the last day's 288
        "Bea Steady": [120] * 300,  # all in target
        "Cal High": [120] * 150 + [200] * 150,  # half high
        "Dee Nodata": [],
    }.items():
        made = http.post(
            f"/v1/clinics/{clinic}/patients",
            json={"fullName": name, "birthDate": "2010-01-01"},
            headers=doc.headers,
        )
        assert made.status_code == 200, made.text
        people[name.split()[0]] = made.json()["id"]
        if values:
            _upload(http, doc, made.json()["id"], values)
    return doc, clinic, people


def _names(body: dict[str, Any]) -> list[str]:
    return [p["fullName"].split()[0] for p in body["data"]]


def test_patient_list_with_summaries_filters_sorts_and_tags(client: TestClient) -> None:  # noqa: F811
    doc, clinic, people = _clinic(client)
    url = f"/v1/clinics/{clinic}/patients"
    h = doc.headers

    listed = client.get(url, params={"period": "1d", "limit": 10}, headers=h).json()
    assert listed["meta"]["count"] == 4
    ann = next(p for p in listed["data"] if p["id"] == people["Ann"])
    day = ann["summary"]["cgmStats"]["periods"]["1d"]
    assert day["hasTimeInAnyLowPercent"] is True
    assert day["timeInAnyLowPercent"] == 30 / 288
    assert day["hasTimeInVeryLowPercent"] is True
    assert day["timeInVeryLowPercent"] == 0
    assert "timeInTargetPercentDelta" not in day  # no previous day with data
    assert isinstance(day["timeCGMUseRecords"], int)
    assert day["timeCGMUsePercent"] > 0.7
    # Every period, as Tidepool's list carries the whole summary; ``period`` chooses what is compared.
    assert list(ann["summary"]["cgmStats"]["periods"]) == ["1d", "7d", "14d", "30d"]
    assert ann["summary"]["cgmStats"]["dates"]["lastData"] == "2026-11-21T00:55:00.000Z"
    dee = next(p for p in listed["data"] if p["id"] == people["Dee"])
    assert dee["summary"] == {}

    low = client.get(url, params={"period": "1d", "cgm.timeInAnyLowPercent": ">0.04"}, headers=h).json()
    assert _names(low) == ["Ann"]
    assert low["meta"]["count"] == 1
    by_tir = client.get(
        url, params={"period": "1d", "sortType": "cgm", "sort": "-timeInTargetPercent"}, headers=h
    )
    assert _names(by_tir.json()) == ["Bea", "Ann", "Cal", "Dee"]  # no data sorts last either way
    up = client.get(url, params={"period": "1d", "sort": "+timeInTargetPercent"}, headers=h).json()
    assert _names(up) == ["Cal", "Ann", "Bea", "Dee"]
    paged = client.get(
        url, params={"period": "1d", "sort": "+timeInTargetPercent", "offset": 1, "limit": 2}, headers=h
    )
    assert _names(paged.json()) == ["Ann", "Bea"]
    assert paged.json()["meta"]["count"] == 4
    past = client.get(url, params={"offset": 10, "cgm.timeInTargetPercent": ">0.5"}, headers=h).json()
    assert past == {"data": [], "meta": {"count": 2}}  # a page past the end still counts
    recent = client.get(
        url, params={"sort": "-lastData", "cgm.lastDataFrom": "2026-11-20T00:00:00Z"}, headers=h
    )
    assert len(recent.json()["data"]) == 3
    assert client.get(url, params={"search": "bea"}, headers=h).json()["meta"]["count"] == 1

    for bad in ({"cgm.timeInAnyLowPercent": "0.04"}, {"cgm.nope": ">1"}, {"sort": "-nope"}, {"period": "2d"}):
        refused = client.get(url, params=bad, headers=h)
        assert refused.status_code == 400, bad
        assert "errors" in refused.json(), bad

    tagged = client.post(f"/v1/clinics/{clinic}/patient_tags", json={"name": "T1D"}, headers=h)
    assert tagged.status_code == 200
    tag = tagged.json()["patientTags"][0]
    assert tag["name"] == "T1D"
    assert len(tag["id"]) == 24
    assert (
        client.post(f"/v1/clinics/{clinic}/patient_tags", json={"name": "t1d"}, headers=h).status_code == 409
    )
    for who in ("Ann", "Bea", "Dee"):
        put = client.put(f"{url}/{people[who]}", json={"tags": [tag["id"]]}, headers=h)
        assert put.status_code == 200
        assert put.json()["tags"] == [tag["id"]]
    assert client.put(f"{url}/{people['Cal']}", json={"tags": ["f" * 24]}, headers=h).status_code == 400
    assert client.get(url, params={"tags": tag["id"]}, headers=h).json()["meta"]["count"] == 3
    assert client.get(f"/v1/clinics/{clinic}", headers=h).json()["patientTags"] == [tag]

    reviewed = client.put(f"{url}/{people['Ann']}/reviews", headers=h)
    assert reviewed.status_code == 200
    assert reviewed.json()[0]["clinicianId"] == doc.user_id
    ann = client.get(url, params={"search": "ann"}, headers=h).json()["data"][0]
    assert ann["lastReviewed"]["clinicianId"] == doc.user_id

    report = client.get(
        f"/v1/clinics/{clinic}/tide_report",
        params={"period": "1d", "tags": tag["id"], "lastDataCutoff": "2026-11-19T00:00:00Z"},
        headers=h,
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["config"]["extremeHighGlucoseThreshold"] == 19.4
    assert body["config"]["period"] == "1d"
    results = body["results"]
    assert [r["patient"]["id"] for r in results["timeInAnyLowPercent"]] == [people["Ann"]]
    assert [r["patient"]["id"] for r in results["meetingTargets"]] == [people["Bea"]]
    assert [r["patient"]["id"] for r in results["noData"]] == [people["Dee"]]
    assert list(results)[:7] == [
        "timeInVeryLowPercent",
        "timeInAnyLowPercent",
        "timeInVeryHighPercent",
        "timeInAnyHighPercent",
        "dropInTimeInTargetPercent",
        "timeCGMUsePercent",
        "meetingTargets",
    ]
    missing = client.get(f"/v1/clinics/{clinic}/tide_report", params={"period": "1d"}, headers=h)
    assert missing.status_code == 400

    stranger = signup(client, "stranger@example.org")
    assert client.get(url, headers=stranger.headers).status_code == 403
    assert client.get(f"/v1/clinics/{clinic}/tide_report", headers=stranger.headers).status_code == 403


def test_reviews_undo_and_the_last_reviewed_filter(client: TestClient, services: Services) -> None:  # noqa: F811
    doc, clinic, people = _clinic(client)
    url = f"/v1/clinics/{clinic}/patients"
    h = doc.headers
    other = signup(client, "other@example.org")
    with services.engine.begin() as conn:
        c.add_clinician(
            conn,
            services.accounts.now(),
            clinic,
            other.user_id,
            email="other@example.org",
            name="Other",
            roles=[c.CLINIC_MEMBER],
        )
    none = client.delete(f"{url}/{people['Bea']}/reviews", headers=h)
    assert (none.status_code, none.json()) == (200, [])  # nothing to undo

    times = []
    for _ in range(3):  # Tidepool keeps the newest two
        made = client.put(f"{url}/{people['Ann']}/reviews", headers=h)
        assert made.status_code == 200
        times.append(made.json()[0]["time"])
    assert len(made.json()) == 2
    assert client.put(f"{url}/{people['Bea']}/reviews", headers=other.headers).status_code == 200

    # lastReviewed: the newest review at or before the time; the never reviewed are left out.
    late = "2999-01-01T00:00:00Z"
    assert sorted(_names(client.get(url, params={"lastReviewed": late}, headers=h).json())) == ["Ann", "Bea"]
    early = client.get(url, params={"lastReviewed": "2000-01-01T00:00:00Z"}, headers=h).json()
    assert early["meta"]["count"] == 0
    exact = client.get(url, params={"lastReviewed": times[-1]}, headers=h).json()
    assert "Ann" in _names(exact)
    bad = client.get(url, params={"lastReviewed": "yesterday"}, headers=h)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["source"] == {"parameter": "lastReviewed"}

    # Undo: only the newest review, and only by the clinician who made it.
    assert client.delete(f"{url}/{people['Bea']}/reviews", headers=h).status_code == 409
    undone = client.delete(f"{url}/{people['Ann']}/reviews", headers=h)
    assert undone.status_code == 200
    assert [r["time"] for r in undone.json()] == [times[1]]
    ann = client.get(url, params={"search": "ann"}, headers=h).json()["data"][0]
    assert ann["lastReviewed"]["time"] == times[1]
    assert client.delete(f"{url}/{people['Ann']}/reviews", headers=h).json() == []
    stranger = signup(client, "stranger@example.org")
    assert client.delete(f"{url}/{people['Bea']}/reviews", headers=stranger.headers).status_code == 403


def test_stored_periods_equal_the_period_rows(client: TestClient, services: Services) -> None:  # noqa: F811
    """The JSON the updater stores answers what the indexed period rows say (a summary computed
    before migration 0023 is answered from them)."""
    doc, clinic, _ = _clinic(client)
    url = f"/v1/clinics/{clinic}/patients"
    stored = client.get(url, params={"sort": "+fullName"}, headers=doc.headers).json()
    with services.engine.begin() as conn:
        conn.execute(update(summaries).values(clinic_periods=None))
    built = client.get(url, params={"sort": "+fullName"}, headers=doc.headers).json()
    assert built == stored
    assert list(stored["data"][0]["summary"]["cgmStats"]["periods"]) == ["1d", "7d", "14d", "30d"]

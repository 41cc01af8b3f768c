"""FHIR CGM on SQLite and PostgreSQL: the bundle out (structure, the IG's rules, the summary's numbers),
the CapabilityStatement, the submission in (all or nothing, conditional create, OperationOutcome with
the failing entry) and the round trip of 14 days from one person to another."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inlet.fhir import codes
from inlet.fhir.profile import bundle_errors
from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account
from tests.api.test_data_sets import grant, read, upload, user

from .helpers import assert_valid_bundle, by_code

FHIR = {"content-type": "application/fhir+json"}
WINDOW = {"start": "2026-10-01T05:00:00Z", "end": "2026-10-03T05:00:00Z"}  # two local days (UTC-5)


def reading(day: int, hour: int, minute: int, value: int, device: str = "DexG6_1") -> dict[str, Any]:
    return {
        "type": "cbg",
        "units": "mg/dL",
        "value": value,
        "time": f"2026-10-{day:02d}T{hour:02d}:{minute:02d}:00Z",
        "timezoneOffset": -300,
        "deviceId": device,
        "sampleInterval": 300000,
    }


@pytest.fixture
def pat(client: TestClient) -> Account:
    """Local 1 Oct: 12 readings at 100 (hour 10 UTC); local 2 Oct: 6 at 50, 6 at 300 (Libre device)."""
    person = user(client, "pat")
    items = [reading(1, 10, m, 100) for m in range(0, 60, 5)]
    items += [reading(2, 12, m, 50 if m < 30 else 300, "Libre_1") for m in range(0, 60, 5)]
    items += [reading(3, 6, 0, 120)]  # after the window's end: left out
    upload(client, person, items, dataSetType="continuous", deviceId="DexG6_1")
    return person


def cgm(client: TestClient, account: Account, user_id: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/v1/fhir/cgm/{user_id}", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    body: dict[str, Any] = response.json()
    return body


def test_bundle_out_follows_the_ig_and_says_the_right_numbers(client: TestClient, pat: Account) -> None:
    bundle = cgm(client, pat, pat.user_id, **WINDOW)
    assert_valid_bundle(bundle)
    assert bundle["type"] == "transaction"
    assert bundle["timestamp"]
    (summary,) = by_code(bundle, codes.SUMMARY)
    assert summary["effectivePeriod"] == {
        "start": "2026-10-01T05:00:00.000Z",
        "end": "2026-10-03T05:00:00.000Z",
    }
    assert len(summary["hasMember"]) == 6
    (mean,) = by_code(bundle, codes.MEAN_MGDL)
    assert mean["valueQuantity"]["value"] == pytest.approx((12 * 100 + 6 * 50 + 6 * 300) / 24, abs=0.05)
    (panel,) = by_code(bundle, codes.TIMES_IN_RANGES)
    ranges = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in panel["component"]}
    assert ranges == {
        codes.RANGE_COMPONENTS["veryLow"]: 25.0,
        codes.RANGE_COMPONENTS["low"]: 0.0,
        codes.RANGE_COMPONENTS["target"]: 50.0,
        codes.RANGE_COMPONENTS["high"]: 0.0,
        codes.RANGE_COMPONENTS["veryHigh"]: 25.0,
    }
    (days,) = by_code(bundle, codes.DAYS_OF_WEAR)
    assert days["valueQuantity"] == {"value": 2.0, "unit": "d", "system": codes.UCUM, "code": "d"}
    (active,) = by_code(bundle, codes.SENSOR_ACTIVE)
    assert active["valueQuantity"]["value"] == round(24 * 5 / (2 * 1440) * 100, 2)  # 4.17
    (gmi,) = by_code(bundle, codes.GMI)
    assert gmi["valueQuantity"]["unit"] == "%"
    (cv,) = by_code(bundle, codes.CV)
    assert 0 < cv["valueQuantity"]["value"] < 100
    readings = by_code(bundle, codes.READING_MGDL)
    assert len(readings) == 24
    assert readings[0]["effectiveDateTime"] == "2026-10-01T05:00:00.000-05:00"  # the device's clock
    devices = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Device"]
    assert {d["resource"]["identifier"][0]["value"] for d in devices} == {"DexG6_1", "Libre_1"}
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Device" or entry["resource"] in readings:
            assert entry["request"]["ifNoneExist"].startswith("identifier=")
    data = read(client, pat.headers, pat.user_id, type="cbg")
    ids = {d["id"] for d in data}
    assert {r["identifier"][0]["value"] for r in readings} < ids


def test_bundle_in_mmol_and_an_empty_window(client: TestClient, pat: Account) -> None:
    bundle = cgm(client, pat, pat.user_id, units="mmol/L", **WINDOW)
    assert_valid_bundle(bundle)
    assert by_code(bundle, codes.MEAN_MMOLL)
    assert by_code(bundle, codes.READING_MMOLL)[0]["valueQuantity"]["value"] == pytest.approx(
        100 / 18.01559, abs=1e-5
    )
    empty = cgm(client, pat, pat.user_id, start="2025-01-01T00:00:00Z", end="2025-01-15T00:00:00Z")
    assert_valid_bundle(empty)
    (mean,) = by_code(empty, codes.MEAN_MGDL)
    assert "dataAbsentReason" in mean


def test_profile_checks_catch_broken_bundles(client: TestClient, pat: Account) -> None:
    bundle = cgm(client, pat, pat.user_id, **WINDOW)
    broken = copy.deepcopy(bundle)
    (panel,) = by_code(broken, codes.TIMES_IN_RANGES)
    panel["component"].pop()
    panel["component"][0]["valueQuantity"]["value"] = 120.0
    reading = by_code(broken, codes.READING_MGDL)[0]
    reading["valueQuantity"]["code"] = "mmol/L"
    errors = "\n".join(bundle_errors(broken))
    assert "five ranges" in errors
    assert "0-100" in errors
    assert "UCUM unit 'mg/dL'" in errors


def test_metadata_needs_no_credentials(client: TestClient) -> None:
    response = client.get("/v1/fhir/metadata")
    assert response.status_code == 200
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert codes.RECEIVER_CAPABILITY in body["instantiates"]
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    CapabilityStatement.model_validate(body)


def cbg_of(client: TestClient, account: Account) -> list[tuple[str, float, str, int]]:
    return [
        (d["time"], d["value"], d["deviceId"], d["timezoneOffset"])
        for d in read(client, account.headers, account.user_id, type="cbg")
    ]


def test_round_trip_from_one_person_to_another(client: TestClient, pat: Account) -> None:
    sam = user(client, "sam")
    window = {"start": "2026-09-20T00:00:00Z", "end": "2026-10-04T00:00:00Z"}  # 14 days
    bundle = cgm(client, pat, pat.user_id, units="mmol/L", **window)
    response = client.post("/v1/fhir/$submit-cgm-bundle", json=bundle, headers={**sam.headers, **FHIR})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["type"] == "transaction-response"
    assert len(answer["entry"]) == len(bundle["entry"])
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses.count("201 Created") == 25
    assert cbg_of(client, sam) == cbg_of(client, pat)  # values, times, devices (and local offsets)
    # submitted again, as Parameters and plain JSON: nothing is stored twice
    again = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": bundle}]}
    second = client.post("/v1/fhir/$submit-cgm-bundle", json=again, headers=sam.headers)
    assert second.status_code == 200, second.text
    assert "201 Created" not in [e["response"]["status"] for e in second.json()["entry"]]
    assert len(read(client, sam.headers, sam.user_id, type="cbg")) == 25
    # the subject in the bundle (pat) is kept in origin; the data is sam's
    stored = read(client, sam.headers, sam.user_id, type="cbg")[0]
    assert stored["origin"]["payload"]["subject"]["identifier"]["value"] == pat.user_id
    # a mg/dL bundle round-trips the same values too
    mg = cgm(client, pat, pat.user_id, **window)
    third = user(client, "third")
    assert client.post("/v1/fhir/$submit-cgm-bundle", json=mg, headers=third.headers).status_code == 200
    assert cbg_of(client, third) == cbg_of(client, pat)


def test_a_bad_entry_rejects_the_whole_bundle(client: TestClient, pat: Account) -> None:
    sam = user(client, "sam")
    bundle = cgm(client, pat, pat.user_id, **WINDOW)
    index = next(i for i, e in enumerate(bundle["entry"]) if by_code({"entry": [e]}, codes.READING_MGDL))
    bad = copy.deepcopy(bundle)
    bad["entry"][index + 3]["resource"]["valueQuantity"]["code"] = "kg"
    response = client.post("/v1/fhir/$submit-cgm-bundle", json=bad, headers=sam.headers)
    assert response.status_code == 422
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"
    assert outcome["issue"][0]["expression"] == [f"Bundle.entry[{index + 3}]"]
    assert read(client, sam.headers, sam.user_id, type="cbg") == []  # nothing stored
    out_of_range = copy.deepcopy(bundle)
    out_of_range["entry"][index]["resource"]["valueQuantity"]["value"] = 5000
    refused = client.post("/v1/fhir/$submit-cgm-bundle", json=out_of_range, headers=sam.headers)
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == [f"Bundle.entry[{index}]"]
    structure = copy.deepcopy(bundle)
    structure["entry"][index + 1]["resource"]["valueQuantity"]["value"] = "high"
    broken = client.post("/v1/fhir/$submit-cgm-bundle", json=structure, headers=sam.headers)
    assert broken.status_code == 400
    assert broken.json()["issue"][0]["expression"] == [f"Bundle.entry[{index + 1}]"]
    for body in ({"resourceType": "Patient"}, {"resourceType": "Parameters", "parameter": []}):
        assert client.post("/v1/fhir/$submit-cgm-bundle", json=body, headers=sam.headers).status_code == 400
    garbage = client.post("/v1/fhir/$submit-cgm-bundle", content=b"{", headers={**sam.headers, **FHIR})
    assert garbage.status_code == 400
    assert garbage.json()["resourceType"] == "OperationOutcome"
    assert read(client, sam.headers, sam.user_id, type="cbg") == []


def test_who_may_send_and_read(client: TestClient, services: Services, pat: Account) -> None:
    viewer, stranger = user(client, "viewer"), user(client, "stranger")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    url = f"/v1/fhir/cgm/{pat.user_id}"
    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert anonymous.json()["resourceType"] == "OperationOutcome"
    assert client.get(url, headers=stranger.headers).status_code == 403
    for headers in (viewer.headers, SERVICE_HEADERS, pat.headers):
        assert client.get(url, headers=headers).status_code == 200
    bundle = cgm(client, pat, pat.user_id, **WINDOW)
    submit = "/v1/fhir/$submit-cgm-bundle"
    assert client.post(submit, json=bundle).status_code == 401
    bad_bearer = client.post(submit, json=bundle, headers={"Authorization": "Bearer nope"})
    assert bad_bearer.status_code == 401
    assert bad_bearer.json()["resourceType"] == "OperationOutcome"
    bearer = {"Authorization": f"Bearer {viewer.token}"}  # FHIR clients send the session as a bearer token
    assert client.get(url, headers=bearer).status_code == 200
    assert client.post(submit, json=bundle, headers=SERVICE_HEADERS).status_code == 403
    token = client.post(
        f"/v1/users/{stranger.user_id}/restricted_tokens", json={"paths": [submit]}, headers=stranger.headers
    ).json()["id"]
    assert client.post(f"{submit}?restricted_token={token}", json=bundle).status_code == 200
    assert client.get(f"{url}?restricted_token={token}").status_code == 403  # only its path
    assert len(read(client, stranger.headers, stranger.user_id, type="cbg")) == 24
    assert client.get(url, params={"units": "g"}, headers=pat.headers).status_code == 400
    assert client.get(url, params={"start": "soon"}, headers=pat.headers).status_code == 400
    assert client.get(url, params={"end": "0001-01-02T00:00:00Z"}, headers=pat.headers).status_code == 400


def test_the_pdf_can_ride_along_as_a_diagnostic_report() -> None:
    from datetime import UTC, datetime

    from inlet.fhir.bundle import cgm_bundle

    docs = [
        reading(1, 10, m, 100) | {"id": f"{m:032d}", "value": 5.55074, "units": "mmol/L"}
        for m in range(0, 60, 5)
    ]
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
    bundle = cgm_bundle("0123456789", docs, start, end, now=end, pdf=b"%PDF-1.7 test")
    assert_valid_bundle(bundle)
    (report,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
    ]
    assert report["presentedForm"][0]["contentType"] == "application/pdf"
    assert report["code"]["coding"][0]["code"] == codes.SUMMARY


def test_report_true_carries_the_agp_pdf(client: TestClient, pat: Account) -> None:
    import base64

    bundle = cgm(client, pat, pat.user_id, report="true", **WINDOW)
    assert_valid_bundle(bundle)
    (report,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
    ]
    assert base64.b64decode(report["presentedForm"][0]["data"]).startswith(b"%PDF")
    plain = cgm(client, pat, pat.user_id, **WINDOW)
    assert not [e for e in plain["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"]

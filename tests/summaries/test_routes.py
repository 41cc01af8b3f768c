"""``GET/POST /v1/summaries/{type}/:userId`` over HTTP, on both databases: who may read, 404 without
data, an upload through the API marking the summary outdated, POST recomputing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import SERVICE_SECRET, client, services, settings, signup  # noqa: F401
from tests.api.test_data_sets import UPLOADER


def _upload(client: TestClient, headers: dict[str, str], owner: str, datums: list[dict[str, object]]) -> None:  # noqa: F811
    made = client.post(
        f"/v1/users/{owner}/data_sets",
        headers=headers,
        json={"client": UPLOADER, "dataSetType": "normal", "deviceId": "DexG6_1"},
    )
    assert made.status_code == 201, made.text
    set_id = made.json()["data"]["id"]
    assert client.post(f"/v1/datasets/{set_id}/data", headers=headers, json=datums).status_code == 200
    assert (
        client.put(f"/v1/datasets/{set_id}", headers=headers, json={"dataState": "closed"}).status_code == 200
    )


def _cbg(minute: int, mg: int) -> dict[str, object]:
    return {
        "type": "cbg",
        "units": "mg/dL",
        "value": mg,
        "time": f"2026-11-20T10:{minute:02d}:00Z",
        "deviceId": "DexG6_1",
    }


def test_summary_api(client: TestClient) -> None:  # noqa: F811
    pat = signup(client, "pat@example.org")
    stranger = signup(client, "stranger@example.org")
    url = f"/v1/summaries/cgm/{pat.user_id}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=stranger.headers).status_code == 403
    missing = client.get(url, headers=pat.headers)
    assert missing.status_code == 404
    assert "errors" in missing.json()
    assert client.get(f"/v1/summaries/nope/{pat.user_id}", headers=pat.headers).status_code == 400

    _upload(client, pat.headers, pat.user_id, [_cbg(0, 100), _cbg(5, 250), _cbg(10, 54)])
    # the upload marked it outdated; nothing computed yet, so still no summary
    assert client.get(url, headers=pat.headers).status_code == 404
    computed = client.post(url, headers=pat.headers)
    assert computed.status_code == 200, computed.text
    body = computed.json()
    assert body["type"] == "cgm"
    assert body["userId"] == pat.user_id
    assert body["dates"]["lastData"] == "2026-11-20T10:10:00.000Z"
    assert body["dates"]["lastUpdatedReason"] == ["UPLOAD_COMPLETED"]
    assert "lastUploadDate" in body["dates"]
    assert "outdatedSince" not in body["dates"]
    assert set(body["periods"]) == {"1d", "7d", "14d", "30d"}
    assert body["periods"]["1d"]["inLow"]["records"] == 1  # 54 mg/dL is low, not very low
    assert client.get(url, headers=pat.headers).json() == body

    _upload(client, pat.headers, pat.user_id, [_cbg(15, 120)])
    outdated = client.get(url, headers=pat.headers).json()
    assert outdated["dates"]["outdatedReason"] == ["UPLOAD_COMPLETED"]
    assert "outdatedSince" in outdated["dates"]
    service = client.get(
        f"/v1/summaries/con/{pat.user_id}", headers={"X-Tidepool-Service-Secret": SERVICE_SECRET}
    )
    assert service.status_code == 200

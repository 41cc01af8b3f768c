"""API v2 authorization (access token -> JWT, subjects) and API v3 as AAPS uses it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inlet.services import Services
from tests.nightscout.conftest import NsSite
from tests.nightscout.test_api_v1 import MIN, NOW_MS, active_rows


def jwt_headers(client: TestClient, site: NsSite, roles: list[str]) -> dict[str, str]:
    made = client.post(
        f"/v1/users/{site.owner.user_id}/nightscout/tokens",
        json={"name": "aaps", "roles": roles},
        headers=site.owner.headers,
    ).json()
    issued = client.get(f"{site.url}/api/v2/authorization/request/{made['token']}")
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert set(body) >= {"token", "sub", "permissionGroups", "iat", "exp"}
    assert body["exp"] - body["iat"] == 8 * 3600
    return {"Authorization": f"Bearer {body['token']}"}


def test_jwt_request_and_subjects(client: TestClient, site: NsSite) -> None:
    assert client.get(f"{site.url}/api/v2/authorization/request/nobody-0123456789abcdef").status_code == 401
    headers = jwt_headers(client, site, ["readable"])
    assert client.get(f"{site.url}/api/v1/entries.json", headers=headers).status_code == 200
    assert client.get(f"{site.url}/api/v3/entries", headers=headers).json()["status"] == 200
    tampered = {"Authorization": headers["Authorization"][:-2] + "xx"}
    assert client.get(f"{site.url}/api/v3/entries", headers=tampered).status_code == 401
    # the admin API lists and makes the same tokens as the profile card
    subjects = client.get(f"{site.url}/api/v2/authorization/subjects", headers=site.headers)
    assert [s["name"] for s in subjects.json()] == ["aaps"]
    assert client.get(f"{site.url}/api/v2/authorization/subjects", headers=headers).status_code == 401
    made = client.post(
        f"{site.url}/api/v2/authorization/subjects",
        json={"name": "connect", "roles": ["admin"]},
        headers=site.headers,
    ).json()
    listed = client.get(
        f"/v1/users/{site.owner.user_id}/nightscout/tokens", headers=site.owner.headers
    ).json()
    assert {t["name"] for t in listed} == {"aaps", "connect"}
    assert client.get(f"{site.url}/api/v1/verifyauth?token={made['accessToken']}").json()["message"][
        "isAdmin"
    ]


def test_aaps_v3_creates_reads_updates_deletes(client: TestClient, site: NsSite, services: Services) -> None:
    headers = jwt_headers(client, site, ["admin"])
    base = f"{site.url}/api/v3"
    bolus = {
        "eventType": "Correction Bolus",
        "insulin": 1.2,
        "date": NOW_MS - 20 * MIN,
        "utcOffset": 60,
        "app": "AAPS",
        "device": "AndroidAPS-DanaRS",
        "isValid": True,
        "pumpId": 4711,
        "pumpType": "DANA_RS",
        "pumpSerial": "ABC",
        "type": "NORMAL",
        "isBasalInsulin": False,
    }
    created = client.post(f"{base}/treatments", json=bolus, headers=headers)
    assert created.status_code == 201, created.text
    identifier = created.json()["identifier"]
    assert created.json()["result"]["identifier"] == identifier
    again = client.post(f"{base}/treatments", json=bolus, headers=headers)
    assert again.status_code == 200
    assert again.json()["isDeduplication"] is True
    assert len(active_rows(services, type="bolus")) == 1
    read = client.get(f"{base}/treatments/{identifier}", headers=headers).json()
    assert read["status"] == 200
    assert read["result"]["pumpId"] == 4711
    assert read["result"]["identifier"] == identifier
    search = client.get(f"{base}/treatments?limit=5&date$gte={NOW_MS - 60 * MIN}", headers=headers).json()
    assert [r["identifier"] for r in search["result"]] == [identifier]
    assert search["result"][0]["srvModified"] > 0
    assert client.patch(
        f"{base}/treatments/{identifier}", json={"notes": "patched"}, headers=headers
    ).json() == {"status": 200}
    assert (
        client.get(f"{base}/treatments/{identifier}", headers=headers).json()["result"]["notes"] == "patched"
    )
    sgv = {
        "type": "sgv",
        "sgv": 111,
        "date": NOW_MS - 5 * MIN,
        "device": "AndroidAPS-DexcomG6",
        "direction": "Flat",
    }
    assert client.post(f"{base}/entries", json=sgv, headers=headers).status_code == 201
    history = client.get(f"{base}/treatments/history/0", headers=headers).json()["result"]
    assert [h["identifier"] for h in history] == [identifier]
    assert client.delete(f"{base}/treatments/{identifier}", headers=headers).json() == {"status": 200}
    assert client.get(f"{base}/treatments/{identifier}", headers=headers).status_code == 404
    since = history[-1]["srvModified"] - 1
    after = client.get(f"{base}/treatments/history/{since}", headers=headers).json()["result"]
    assert [(h["identifier"], h["isValid"]) for h in after] == [(identifier, False)]
    modified = client.get(f"{base}/lastModified", headers=headers).json()["result"]["collections"]
    assert set(modified) >= {"entries", "treatments"}
    status = client.get(f"{base}/status", headers=headers).json()["result"]
    assert status["apiPermissions"]["treatments"] == "rcud"
    assert client.get(f"{base}/version").json()["result"]["apiVersion"].startswith("3.")
    assert client.get(f"{base}/food", headers=headers).status_code == 404

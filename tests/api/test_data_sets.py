"""The data set endpoints (platform data service) on SQLite and PostgreSQL: status codes and bodies as
Tidepool answers them, who may do what, and no duplicates on a retried batch."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from inlet.db.schema import device_data
from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account, signup

HEX32 = r"^[0-9a-f]{32}$"
UPLOADER = {"name": "org.tidepool.uploader", "version": "2.60.0"}


# ---- helpers shared with test_data_read.py ----------------------------------------------------------


def user(client: TestClient, name: str) -> Account:
    return signup(client, f"{name}@example.org")


def grant(services: Services, owner: str, grantee: str, perms: dict[str, Any]) -> None:
    with services.engine.begin() as conn:
        services.accounts.set_permissions(conn, owner, grantee, perms)


def new_set(
    http: TestClient, headers: dict[str, str], owner: str, path: str = "data_sets", **body: Any
) -> dict[str, Any]:
    body.setdefault("client", UPLOADER)
    response = http.post(f"/v1/users/{owner}/{path}", headers=headers, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def post_data(client: TestClient, headers: dict[str, str], set_id: str, datums: Any) -> Response:
    return client.post(f"/v1/datasets/{set_id}/data", headers=headers, json=datums)


def close(client: TestClient, headers: dict[str, str], set_id: str) -> Response:
    return client.put(f"/v1/datasets/{set_id}", headers=headers, json={"dataState": "closed"})


def upload(http: TestClient, account: Account, datums: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    """A whole uploader session: create, add, close."""
    body.setdefault("deviceId", datums[0].get("deviceId", "DexG6_1") if datums else "DexG6_1")
    data_set = new_set(http, account.headers, account.user_id, **body)
    assert post_data(http, account.headers, data_set["id"], datums).status_code == 200
    if body.get("dataSetType") != "continuous":
        assert close(http, account.headers, data_set["id"]).status_code == 200
    return data_set


def cbg(
    minute: int, value: float = 100, device: str = "DexG6_1", day: int = 1, **extra: Any
) -> dict[str, Any]:
    hour, minute = divmod(minute, 60)
    return {
        "type": "cbg",
        "units": "mg/dL",
        "value": value,
        "time": f"2026-10-{day:02d}T{hour:02d}:{minute:02d}:00Z",
        "deviceId": device,
        **extra,
    }


def read(client: TestClient, headers: dict[str, str], user_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/data/{user_id}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()
    return data


def datums_of(items: list[dict[str, Any]], kind: str = "cbg") -> list[dict[str, Any]]:
    return [item for item in items if item["type"] == kind]


def stored_rows(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(device_data)).scalar_one())


def error_codes(response: Response) -> list[tuple[str, str]]:
    out = []
    for error in response.json()["errors"]:
        source = error.get("source", {})
        out.append((error["code"], source.get("pointer", source.get("parameter", ""))))
    return out


# ---- create ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["data_sets", "datasets"])
def test_create_answers_201_with_the_data_set_and_trace(client: TestClient, path: str) -> None:
    pat = user(client, "pat")
    headers = {**pat.headers, "x-tidepool-trace-session": "trace-123"}
    response = client.post(
        f"/v1/users/{pat.user_id}/{path}",
        headers=headers,
        json={"deviceId": "DexG6_1", "client": UPLOADER, "deviceTags": ["cgm"], "timezoneOffset": 60},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"data", "meta"}
    assert body["meta"] == {"trace": {"session": "trace-123"}}
    data = body["data"]
    assert data["id"] == data["uploadId"]
    assert len(data["id"]) == 32
    assert data["type"] == "upload"
    assert data["dataSetType"] == "normal"
    assert data["state"] == "open"
    assert data["createdUserId"] == data["byUser"] == pat.user_id
    assert data["deduplicator"]["name"] == "org.tidepool.deduplicator.device.deactivate.hash"
    assert data["deviceTags"] == ["cgm"]
    assert data["timezoneOffset"] == 60


def test_create_checks_who_is_asking(client: TestClient, services: Services) -> None:
    pat, viewer, helper = user(client, "pat"), user(client, "viewer"), user(client, "helper")
    url = f"/v1/users/{pat.user_id}/datasets"
    anonymous = client.post(url, json={"client": UPLOADER})
    assert anonymous.status_code == 401
    assert error_codes(anonymous) == [("unauthenticated", "")]
    bad_token = client.post(url, json={}, headers={"x-tidepool-session-token": "nope"})
    assert bad_token.status_code == 401
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    refused = client.post(url, headers=viewer.headers, json={"client": UPLOADER})
    assert refused.status_code == 403
    assert error_codes(refused) == [("unauthorized", "")]
    grant(services, pat.user_id, helper.user_id, {"upload": {}})
    made = new_set(client, helper.headers, pat.user_id)
    assert made["createdUserId"] == helper.user_id
    by_server = client.post(url, headers=SERVICE_HEADERS, json={"client": UPLOADER})
    assert by_server.status_code == 201
    assert "createdUserId" not in by_server.json()["data"]


def test_create_refuses_bad_bodies_with_pointers(client: TestClient) -> None:
    pat = user(client, "pat")
    url = f"/v1/users/{pat.user_id}/datasets"
    unknown = client.post(url, headers=pat.headers, json={"dataSetType": "weekly", "color": "red"})
    assert unknown.status_code == 400
    assert sorted(error_codes(unknown)) == [("not-parsed", "/color"), ("value-not-allowed", "/dataSetType")]
    server_field = client.post(url, headers=pat.headers, json={"uploadId": "a" * 32})
    assert error_codes(server_field) == [("not-parsed", "/uploadId")]
    not_object = client.post(url, headers=pat.headers, json=[1, 2])
    assert error_codes(not_object) == [("type-not-object", "")]
    malformed = client.post(url, headers={**pat.headers, "content-type": "application/json"}, content=b"{")
    assert malformed.status_code == 400
    assert error_codes(malformed) == [("json-malformed", "")]


# ---- add data ---------------------------------------------------------------------------------------------


def test_add_data_answers_an_empty_data_array(client: TestClient) -> None:
    pat = user(client, "pat")
    data_set = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_1")
    for path in ("data_sets", "datasets"):
        response = client.post(f"/v1/{path}/{data_set['id']}/data", headers=pat.headers, json=[cbg(0)])
        assert response.status_code == 200
        assert response.json() == {"data": [], "meta": {"trace": {}}}


def test_any_invalid_datum_stores_nothing_and_every_error_has_its_pointer(
    client: TestClient, services: Services
) -> None:
    pat = user(client, "pat")
    data_set = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_1")
    response = post_data(
        client,
        pat.headers,
        data_set["id"],
        [cbg(0), cbg(5, value=1001), {"type": "cbg"}, cbg(10, _active=True), "text", {"type": "nope"}],
    )
    assert response.status_code == 400
    assert error_codes(response) == [
        ("value-out-of-range", "/1/value"),
        ("value-not-exists", "/2/time"),
        ("value-not-exists", "/2/units"),
        ("value-not-exists", "/2/value"),
        ("not-parsed", "/3/_active"),
        ("type-not-object", "/4"),
        ("value-not-allowed", "/5/type"),
    ]
    assert stored_rows(services) == 0
    not_array = post_data(client, pat.headers, data_set["id"], {"type": "cbg"})
    assert error_codes(not_array) == [("type-not-array", "")]
    assert stored_rows(services) == 0


def test_add_data_to_unknown_closed_or_foreign_sets(client: TestClient, services: Services) -> None:
    pat, viewer = user(client, "pat"), user(client, "viewer")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    missing = post_data(client, pat.headers, "f" * 32, [cbg(0)])
    assert missing.status_code == 404
    assert missing.json()["errors"][0] == {
        "code": "data-set-id-not-found",
        "title": "data set with specified id not found",
        "detail": f"Data set with id {'f' * 32} not found",
        "status": "404",
        "meta": {},
    }
    data_set = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_1")
    assert post_data(client, viewer.headers, data_set["id"], [cbg(0)]).status_code == 403
    assert post_data(client, {}, data_set["id"], [cbg(0)]).status_code == 401
    assert close(client, pat.headers, data_set["id"]).status_code == 200
    closed = post_data(client, pat.headers, data_set["id"], [cbg(0)])
    assert closed.status_code == 409
    assert error_codes(closed) == [("data-set-closed", "")]
    assert closed.json()["errors"][0]["title"] == "data set with specified id is closed for new data"


# ---- close ------------------------------------------------------------------------------------------------


def test_close_makes_normal_data_visible_and_a_second_close_is_409(client: TestClient) -> None:
    pat = user(client, "pat")
    data_set = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_1")
    assert post_data(client, pat.headers, data_set["id"], [cbg(0), cbg(5)]).status_code == 200
    assert read(client, pat.headers, pat.user_id) == []
    closed = client.put(f"/v1/data_sets/{data_set['id']}", headers=pat.headers, content=b"ignored, not JSON")
    assert closed.status_code == 200
    assert closed.json()["data"]["state"] == "closed"
    assert closed.json()["data"]["id"] == data_set["id"]
    assert [d["value"] for d in datums_of(read(client, pat.headers, pat.user_id))] == [5.55075, 5.55075]
    again = close(client, pat.headers, data_set["id"])
    assert again.status_code == 409
    assert error_codes(again) == [("data-set-closed", "")]


def test_continuous_sets_are_updated_by_servers_only(client: TestClient) -> None:
    pat = user(client, "pat")
    data_set = new_set(client, pat.headers, pat.user_id, dataSetType="continuous", deviceId="Loop")
    assert data_set["deduplicator"]["name"] == "org.tidepool.deduplicator.dataset.delete.origin"
    assert post_data(client, pat.headers, data_set["id"], [cbg(0, device="Loop")]).status_code == 200
    assert len(datums_of(read(client, pat.headers, pat.user_id))) == 1  # continuous: active at once
    assert close(client, pat.headers, data_set["id"]).status_code == 403
    url = f"/v1/data_sets/{data_set['id']}"
    bad = client.put(url, headers=SERVICE_HEADERS, json={"timezoneOffset": 5000, "timezone": "Mars/Base"})
    assert bad.status_code == 400
    assert sorted(error_codes(bad)) == [
        ("value-not-valid", "/timezone"),
        ("value-out-of-range", "/timezoneOffset"),
    ]
    updated = client.put(
        url, headers=SERVICE_HEADERS, json={"deviceId": "Loop-2", "timezone": "Europe/Paris"}
    )
    assert updated.status_code == 200
    assert updated.json()["data"]["deviceId"] == "Loop-2"
    assert updated.json()["data"]["state"] == "open"
    closed = client.put(url, headers=SERVICE_HEADERS, json={"dataState": "closed"})
    assert closed.json()["data"]["state"] == "closed"


# ---- delete ---------------------------------------------------------------------------------------------


def test_delete_by_owner_custodian_or_the_uploader_of_that_set(
    client: TestClient, services: Services
) -> None:
    pat, helper, viewer, custodian = (user(client, n) for n in ("pat", "helper", "viewer", "custodian"))
    grant(services, pat.user_id, helper.user_id, {"upload": {}})
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    grant(services, pat.user_id, custodian.user_id, {"custodian": {}})
    own = upload(client, pat, [cbg(0)])
    by_helper = new_set(client, helper.headers, pat.user_id, deviceId="DexG6_1")
    assert client.delete(f"/v1/data_sets/{own['id']}", headers=viewer.headers).status_code == 403
    assert client.delete(f"/v1/data_sets/{own['id']}", headers=helper.headers).status_code == 403
    assert client.delete(f"/v1/data_sets/{own['id']}").status_code == 401
    mine = client.delete(f"/v1/datasets/{by_helper['id']}", headers=helper.headers)
    assert mine.status_code == 200
    assert mine.json() == {"data": {}, "meta": {"trace": {}}}
    assert client.delete(f"/v1/data_sets/{own['id']}", headers=custodian.headers).status_code == 200
    assert read(client, pat.headers, pat.user_id) == []
    assert client.delete(f"/v1/data_sets/{own['id']}", headers=pat.headers).status_code == 200  # again: fine
    assert client.delete(f"/v1/data_sets/{'e' * 32}", headers=pat.headers).status_code == 404
    listed = client.get(f"/v1/users/{pat.user_id}/data_sets", headers=pat.headers, params={"deleted": "true"})
    assert [s["id"] for s in listed.json()] == [own["id"]]
    assert "deletedTime" in listed.json()[0]


def test_deleting_a_newer_upload_restores_what_it_archived(client: TestClient) -> None:
    pat = user(client, "pat")
    upload(client, pat, [cbg(0), cbg(5)])
    second = upload(client, pat, [cbg(5), cbg(10)])  # the same reading at :05 again, one new
    values = datums_of(read(client, pat.headers, pat.user_id))
    assert [(d["time"][11:16], d["uploadId"] == second["id"]) for d in values] == [
        ("00:00", False),
        ("00:05", True),
        ("00:10", True),
    ]
    assert client.delete(f"/v1/data_sets/{second['id']}", headers=pat.headers).status_code == 200
    restored = datums_of(read(client, pat.headers, pat.user_id))
    assert [d["time"][11:16] for d in restored] == ["00:00", "00:05"]
    assert all(d["uploadId"] != second["id"] for d in restored)


def test_delete_data_by_selectors(client: TestClient) -> None:
    pat = user(client, "pat")
    data_set = new_set(client, pat.headers, pat.user_id, dataSetType="continuous", deviceId="Loop")
    datums = [
        cbg(0, device="Loop", id="a" * 32),
        cbg(5, device="Loop", origin={"id": "o-5"}),
        cbg(10, device="Loop"),
    ]
    assert post_data(client, pat.headers, data_set["id"], datums).status_code == 200
    url = f"/v1/data_sets/{data_set['id']}/data"
    bad = client.request(
        "DELETE", url, headers=pat.headers, json=[{"id": "a" * 32, "origin": {"id": "x"}}, 5]
    )
    assert bad.status_code == 400
    assert error_codes(bad) == [("values-not-exist-for-one", "/0"), ("type-not-object", "/1")]
    deleted = client.request(
        "DELETE", url, headers=pat.headers, json=[{"id": "a" * 32}, {"origin": {"id": "o-5"}}]
    )
    assert deleted.status_code == 200
    assert deleted.json() == {"data": [], "meta": {"trace": {}}}
    assert [d["time"][11:16] for d in datums_of(read(client, pat.headers, pat.user_id))] == ["00:10"]
    viewer = user(client, "viewer")
    assert client.request("DELETE", url, headers=viewer.headers, json=[]).status_code == 403


def test_delete_data_of_a_closed_set_is_409(client: TestClient) -> None:
    pat = user(client, "pat")
    data_set = upload(client, pat, [cbg(0)])
    response = client.request(
        "DELETE", f"/v1/data_sets/{data_set['id']}/data", headers=pat.headers, json=[{"id": "a" * 32}]
    )
    assert response.status_code == 409


# ---- list and get ---------------------------------------------------------------------------------------


def test_list_is_a_bare_array_newest_first_with_filters(client: TestClient, services: Services) -> None:
    pat, viewer, stranger = user(client, "pat"), user(client, "viewer"), user(client, "stranger")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    first = upload(client, pat, [cbg(0)])
    second = upload(client, pat, [cbg(0, device="Meter-1")], deviceId="Meter-1")
    third = upload(client, pat, [], deviceId="Other", client={"name": "org.example.app", "version": "1.0.0"})
    open_set = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_1")  # open normal: not listed
    url = f"/v1/users/{pat.user_id}/data_sets"

    def ids(headers: dict[str, str], **params: Any) -> list[str]:
        response = client.get(url, headers=headers, params=params)
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list)
        return [item["id"] for item in response.json()]

    assert ids(pat.headers) == [third["id"], second["id"], first["id"]]
    assert open_set["id"] not in ids(pat.headers)
    assert ids(viewer.headers, deviceId="Meter-1") == [second["id"]]
    assert ids(pat.headers, **{"client.name": "org.tidepool.uploader"}) == [second["id"], first["id"]]
    assert ids(SERVICE_HEADERS, size=1, page=1) == [second["id"]]
    assert ids(pat.headers, size=1000, page=10**15) == []
    assert ids(pat.headers, page="9223372036854775807") == []
    assert client.get(url, headers=stranger.headers).status_code == 403
    assert client.get(url).status_code == 401


def test_list_parameters_are_checked_like_the_platform(client: TestClient) -> None:
    pat = user(client, "pat")
    response = client.get(
        f"/v1/users/{pat.user_id}/data_sets",
        headers=pat.headers,
        params={"page": "-1", "size": "1001", "deleted": "maybe", "client.name": "", "deviceId": ""},
    )
    assert response.status_code == 400
    assert sorted(error_codes(response)) == [
        ("type-not-bool", "deleted"),
        ("value-empty", "client.name"),
        ("value-empty", "deviceId"),
        ("value-out-of-range", "page"),
        ("value-out-of-range", "size"),
    ]
    details = {e["source"]["parameter"]: e["detail"] for e in response.json()["errors"]}
    assert details["page"] == "value -1 is not greater than or equal to 0"
    assert details["size"] == "value 1001 is not between 1 and 1000"
    for page in ("x", "1.5", "99999999999999999999", " 1", "9" * 5000):
        bad = client.get(f"/v1/users/{pat.user_id}/data_sets", headers=pat.headers, params={"page": page})
        assert error_codes(bad) == [("type-not-int", "page")], page


def test_get_one_data_set(client: TestClient, services: Services) -> None:
    pat, viewer = user(client, "pat"), user(client, "viewer")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    data_set = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_1")
    response = client.get(f"/v1/data_sets/{data_set['id']}", headers=pat.headers)
    assert response.status_code == 200
    assert response.json() == data_set
    assert client.get(f"/v1/data_sets/{data_set['id']}", headers=SERVICE_HEADERS).status_code == 200
    assert client.get(f"/v1/data_sets/{data_set['id']}", headers=viewer.headers).status_code == 200
    stranger = user(client, "stranger")
    assert client.get(f"/v1/data_sets/{data_set['id']}", headers=stranger.headers).status_code == 403
    assert client.get(f"/v1/data_sets/{data_set['id']}").status_code == 401
    missing = client.get(f"/v1/data_sets/{'d' * 32}", headers=pat.headers)
    assert missing.status_code == 404
    assert error_codes(missing) == [("resource-not-found", "")]


def test_data_sources_are_an_empty_list_for_now(client: TestClient, services: Services) -> None:
    pat, other, viewer = user(client, "pat"), user(client, "other"), user(client, "viewer")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    url = f"/v1/users/{pat.user_id}/data_sources"
    assert client.get(url, headers=pat.headers).json() == []
    assert client.get(url, headers=viewer.headers).json() == []
    assert client.get(url, headers=SERVICE_HEADERS).json() == []
    assert client.get(url, headers=other.headers).status_code == 403
    assert client.get(url).status_code == 401
    assert error_codes(client.get(url, headers=pat.headers, params={"size": "0"})) == [
        ("value-out-of-range", "size")
    ]


# ---- a retried batch never doubles the data ------------------------------------------------------------


RETRY_CASES = {
    "org.tidepool.deduplicator.device.deactivate.hash": ("normal", [cbg(0), cbg(5), cbg(10)]),
    "org.tidepool.deduplicator.dataset.drop.hash": ("normal", [cbg(0), cbg(5), cbg(10)]),
    "org.tidepool.deduplicator.dataset.delete.origin": (
        "continuous",
        [cbg(m, origin={"id": f"rec-{m}", "time": "2026-10-01T12:00:00Z"}) for m in (0, 5, 10)],
    ),
    "org.tidepool.deduplicator.dataset.delete.origin.older": (
        "continuous",
        [cbg(m, origin={"id": f"rec-{m}", "time": "2026-10-01T12:00:00Z"}) for m in (0, 5, 10)],
    ),
}


@pytest.mark.parametrize("name", sorted(RETRY_CASES))
def test_a_repeated_batch_is_stored_once(client: TestClient, name: str) -> None:
    """The platform client retries a POST once: the deduplicators that promise it keep one copy."""
    pat = user(client, "pat")
    kind, batch = RETRY_CASES[name]
    data_set = new_set(
        client, pat.headers, pat.user_id, dataSetType=kind, deviceId="DexG6_1", deduplicator={"name": name}
    )
    assert data_set["deduplicator"]["name"] == name
    for _ in range(3):
        assert post_data(client, pat.headers, data_set["id"], batch).status_code == 200
    if kind == "normal":
        assert close(client, pat.headers, data_set["id"]).status_code == 200
    got = datums_of(read(client, pat.headers, pat.user_id))
    assert [d["time"][11:16] for d in got] == ["00:00", "00:05", "00:10"]
    assert len({d["id"] for d in got}) == 3


def test_openapi_declares_the_request_bodies(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "requestBody" in spec["paths"]["/v1/users/{userId}/data_sets"]["post"]
    body = spec["paths"]["/v1/data_sets/{id}/data"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["type"] == "array"
    parameters = {p["name"] for p in spec["paths"]["/data/{userId}"]["get"]["parameters"]}
    assert {"type", "startDate", "dosingDecision.reason", "cbgFilter", "latest"} <= parameters


def test_a_pump_upload_with_a_sleep_override_is_stored(client: TestClient) -> None:
    """A pump with a sleep mode sends a pumpSettingsOverride with a type and a duration only; Tidepool
    stores it, so the whole upload must be stored, the override readable as sent."""
    account = user(client, "sleeper")
    sleep = {
        "type": "deviceEvent",
        "subType": "pumpSettingsOverride",
        "overrideType": "sleep",
        "duration": 28_800_000,
        "time": "2026-10-01T22:00:00Z",
        "deviceId": "tandem-1",
    }
    upload(client, account, [cbg(5, device="tandem-1"), sleep])
    stored = read(client, account.headers, account.user_id, type="deviceEvent")
    assert [(d["subType"], d["overrideType"], d["duration"]) for d in stored] == [
        ("pumpSettingsOverride", "sleep", 28_800_000)
    ]
    assert len(read(client, account.headers, account.user_id, type="cbg")) == 1

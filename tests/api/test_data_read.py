"""``GET /data/:userId`` on SQLite and PostgreSQL: who may read, every filter, the cloud CGM overlap
rule, tide-whisperer's legacy flags and its error format, and a streamed JSON array."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from inlet.data.queries import HIDDEN_FIELDS
from inlet.services import Services
from tests.api.conftest import SERVICE_HEADERS, Account
from tests.api.test_data_sets import cbg, datums_of, grant, new_set, post_data, read, upload, user

UNITS = {"bloodGlucose": "mg/dL", "carbohydrate": "grams", "insulin": "Units"}


def at(minute: int, day: int = 1) -> str:
    hour, minute = divmod(minute, 60)
    return f"2026-10-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def hhmm(items: list[dict[str, Any]]) -> list[str]:
    return [item["time"][11:16] for item in items]


def assert_read_error(response: Any, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "id", "code", "message"}
    assert (body["status"], body["code"], body["message"]) == (status, code, message)
    assert len(body["id"]) == 36


@pytest.fixture
def pat(client: TestClient) -> Account:
    return user(client, "pat")


def test_only_active_data_in_time_order_without_storage_fields(client: TestClient, pat: Account) -> None:
    closed = upload(client, pat, [cbg(10), cbg(0)])
    pending = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_1")
    assert post_data(client, pat.headers, pending["id"], [cbg(5)]).status_code == 200  # open: inactive
    loop = upload(client, pat, [cbg(7, device="Loop")], dataSetType="continuous", deviceId="Loop")
    response = client.get(f"/data/{pat.user_id}", headers=pat.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    items = response.json()
    assert [(i["type"], i["time"][11:16]) for i in items if i["type"] == "cbg"] == [
        ("cbg", "00:00"),
        ("cbg", "00:07"),
        ("cbg", "00:10"),
    ]
    uploads = datums_of(items, "upload")
    assert {u["id"] for u in uploads} == {closed["id"], loop["id"]}  # the open normal set is not served
    assert [i["time"] for i in items] == sorted(i["time"] for i in items)
    for item in items:
        assert not HIDDEN_FIELDS.intersection(item), item


def test_an_empty_answer_is_an_empty_array(client: TestClient, pat: Account) -> None:
    response = client.get(f"/data/{pat.user_id}", headers=pat.headers)
    assert response.status_code == 200
    assert response.content == b"[]"


def test_who_may_read(client: TestClient, services: Services, pat: Account) -> None:
    viewer, custodian, stranger = user(client, "viewer"), user(client, "custodian"), user(client, "stranger")
    grant(services, pat.user_id, viewer.user_id, {"view": {}})
    grant(services, pat.user_id, custodian.user_id, {"custodian": {}})
    upload(client, pat, [cbg(0)])
    url = f"/data/{pat.user_id}"
    cant_view = ("data_cant_view", "user is not authorized to view data")
    assert_read_error(client.get(url), 403, *cant_view)
    assert_read_error(client.get(url, headers={"x-tidepool-session-token": "bad"}), 403, *cant_view)
    assert_read_error(client.get(url, headers=stranger.headers), 403, *cant_view)
    for headers in (pat.headers, viewer.headers, custodian.headers, SERVICE_HEADERS):
        assert len(read(client, headers, pat.user_id, type="cbg")) == 1
    with services.engine.begin() as conn:
        token, _ = services.accounts.create_restricted_token(conn, pat.user_id, [f"/data/{pat.user_id}"])
        elsewhere, _ = services.accounts.create_restricted_token(conn, pat.user_id, ["/v1/oauth/dexcom"])
    assert len(client.get(url, params={"restricted_token": token, "type": "cbg"}).json()) == 1
    assert_read_error(client.get(url, params={"restricted_token": elsewhere}), 403, *cant_view)
    assert_read_error(client.get(url, params={"restricted_token": "not-a-token"}), 403, *cant_view)


def test_type_and_sub_type_are_comma_lists(client: TestClient, pat: Account) -> None:
    upload(
        client,
        pat,
        [
            cbg(0),
            {
                "type": "smbg",
                "subType": "manual",
                "units": "mg/dL",
                "value": 90,
                "time": at(1),
                "deviceId": "P",
            },
            {"type": "bolus", "subType": "normal", "normal": 1.5, "time": at(2), "deviceId": "P"},
            {
                "type": "basal",
                "deliveryType": "scheduled",
                "rate": 1,
                "duration": 60000,
                "time": at(3),
                "deviceId": "P",
            },
        ],
    )
    assert [i["type"] for i in read(client, pat.headers, pat.user_id, type="smbg,bolus")] == ["smbg", "bolus"]
    assert [i["type"] for i in read(client, pat.headers, pat.user_id, type="cbg,")] == ["cbg"]
    assert [i["type"] for i in read(client, pat.headers, pat.user_id, subType="normal,manual")] == [
        "smbg",
        "bolus",
    ]
    # as in tide-whisperer, subType applies to every type: data without one does not match
    assert read(client, pat.headers, pat.user_id, type="basal", subType="scheduled") == []
    assert len(read(client, pat.headers, pat.user_id, type="")) == 5  # four datums and the upload record


def test_time_window_is_inclusive_and_offsets_are_read_leniently(client: TestClient, pat: Account) -> None:
    upload(client, pat, [cbg(m) for m in (0, 5, 10, 15)])
    window = read(client, pat.headers, pat.user_id, type="cbg", startDate=at(5), endDate=at(10))
    assert hhmm(window) == ["00:05", "00:10"]
    # the platform client does not URL-encode: "+02:00" arrives as " 02:00"
    raw = client.get(
        f"/data/{pat.user_id}?type=cbg&startDate=2026-10-01T02:05:00+02:00&endDate=2026-10-01T02:10:00.000+02:00",
        headers=pat.headers,
    )
    assert hhmm(raw.json()) == ["00:05", "00:10"]
    encoded = read(client, pat.headers, pat.user_id, type="cbg", startDate="2026-09-30T19:10:00-05:00")
    assert hhmm(encoded) == ["00:10", "00:15"]
    assert len(read(client, pat.headers, pat.user_id, type="cbg", startDate="", endDate="")) == 4
    invalid = ("invalid_parameters", "one or more parameters are invalid")
    for params in (
        {"startDate": "yesterday"},
        {"endDate": "2026-10-01"},
        {"startDate": "2026-10-01T00:00:00"},
        {"startDate": "99999-01-01T00:00:00Z"},
        {"endDate": "2026-13-01T00:00:00Z"},
    ):
        assert_read_error(
            client.get(f"/data/{pat.user_id}", headers=pat.headers, params=params), 400, *invalid
        )


def test_upload_and_device_filters(client: TestClient, pat: Account) -> None:
    pump = upload(client, pat, [cbg(0, device="Pump-1"), cbg(5, device="Pump-1")], deviceId="Pump-1")
    upload(client, pat, [cbg(1, device="Meter-1")], deviceId="Meter-1")
    by_upload = read(client, pat.headers, pat.user_id, uploadId=pump["id"])
    assert [(i["type"], i["time"][11:16]) for i in by_upload if i["type"] == "cbg"] == [
        ("cbg", "00:00"),
        ("cbg", "00:05"),
    ]
    assert [i["id"] for i in datums_of(by_upload, "upload")] == [pump["id"]]
    by_device = read(client, pat.headers, pat.user_id, deviceId="Meter-1", type="cbg")
    assert hhmm(by_device) == ["00:01"]
    assert read(client, pat.headers, pat.user_id, uploadId="f" * 32) == []


def test_latest_is_the_newest_datum_of_each_type(client: TestClient, pat: Account) -> None:
    smbg = {"type": "smbg", "units": "mg/dL", "value": 90, "deviceId": "P"}
    first = upload(client, pat, [cbg(0), cbg(30), {**smbg, "time": at(20)}, {**smbg, "time": at(10)}])
    second = upload(client, pat, [cbg(40, device="Other")], deviceId="Other")
    latest = read(client, pat.headers, pat.user_id, latest="true")
    assert [(i["type"], i["time"][11:16]) for i in latest if i["type"] != "upload"] == [
        ("smbg", "00:20"),
        ("cbg", "00:40"),
    ]
    assert [u["id"] for u in datums_of(latest, "upload")] == [second["id"]]
    only = read(client, pat.headers, pat.user_id, latest="1", type="cbg", deviceId="DexG6_1")
    assert hhmm(only) == ["00:30"]
    earlier = read(client, pat.headers, pat.user_id, latest="t", type="cbg,upload", endDate=at(35))
    assert [(i["type"], i["time"][11:16]) for i in earlier if i["type"] == "cbg"] == [("cbg", "00:30")]
    assert first["id"] != second["id"]


def test_sample_interval_minimum(client: TestClient, pat: Account) -> None:
    upload(
        client,
        pat,
        [cbg(0, sampleInterval=60000), cbg(1, sampleInterval=300000), cbg(2), cbg(3, sampleInterval=60000)],
    )
    assert hhmm(read(client, pat.headers, pat.user_id, type="cbg")) == ["00:00", "00:01", "00:02", "00:03"]
    five = read(client, pat.headers, pat.user_id, type="cbg", sampleIntervalMinimum="300000")
    assert hhmm(five) == ["00:01", "00:02"]
    assert len(read(client, pat.headers, pat.user_id, sampleIntervalMinimum=str(10**30), type="cbg")) == 1
    response = client.get(
        f"/data/{pat.user_id}", headers=pat.headers, params={"sampleIntervalMinimum": "5min"}
    )
    assert_read_error(response, 400, "invalid_parameters", "one or more parameters are invalid")


def test_dosing_decision_reason(client: TestClient, pat: Account) -> None:
    decisions = [
        {"type": "dosingDecision", "reason": reason, "units": UNITS, "time": at(i), "deviceId": "Loop"}
        for i, reason in enumerate(("loop", "normalBolus", "watchBolus", "loop"))
    ]
    upload(client, pat, [*decisions, cbg(9, device="Loop")], dataSetType="continuous", deviceId="Loop")
    kept = read(client, pat.headers, pat.user_id, **{"dosingDecision.reason": "normalBolus,watchBolus"})
    assert [(i["type"], i.get("reason")) for i in kept if i["type"] != "upload"] == [
        ("dosingDecision", "normalBolus"),
        ("dosingDecision", "watchBolus"),
        ("cbg", None),
    ]
    assert len(datums_of(read(client, pat.headers, pat.user_id), "dosingDecision")) == 4


@pytest.mark.parametrize("cloud_client", ["org.tidepool.oauth.dexcom.fetch", "org.inlet.partner.dexcom"])
def test_cloud_cgm_hides_the_same_sensor_seen_through_an_upload(
    client: TestClient, pat: Account, cloud_client: str
) -> None:
    pump_data = [cbg(m, device="Pump-1") for m in range(0, 65, 5)]
    pump_data.append({"type": "smbg", "units": "mg/dL", "value": 90, "time": at(30), "deviceId": "Pump-1"})
    pump = upload(client, pat, pump_data, deviceId="Pump-1")
    cloud = upload(
        client,
        pat,
        [cbg(m, value=150, device="DexcomG6_ABC") for m in range(21, 42, 5)],
        dataSetType="continuous",
        deviceId="DexcomG6_ABC",
        client={"name": cloud_client, "version": "1.0.0"},
    )
    shown = datums_of(read(client, pat.headers, pat.user_id))
    assert [(d["time"][11:16], d["uploadId"] == cloud["id"]) for d in shown] == [
        ("00:00", False),
        ("00:05", False),
        ("00:10", False),
        ("00:15", False),
        ("00:20", False),
        ("00:21", True),
        ("00:26", True),
        ("00:31", True),
        ("00:36", True),
        ("00:41", True),
        ("00:45", False),
        ("00:50", False),
        ("00:55", False),
        ("01:00", False),
    ]
    assert len(datums_of(read(client, pat.headers, pat.user_id), "smbg")) == 1  # only cbg is affected
    windowed = datums_of(read(client, pat.headers, pat.user_id, startDate=at(25), endDate=at(45)))
    assert hhmm(windowed) == ["00:26", "00:31", "00:36", "00:41", "00:45"]
    everything = 13 + 5
    assert len(datums_of(read(client, pat.headers, pat.user_id, cbgFilter="false"))) == everything
    assert len(datums_of(read(client, pat.headers, pat.user_id, dexcom="true"))) == everything
    assert len(datums_of(read(client, pat.headers, pat.user_id, uploadId=pump["id"]))) == 13
    assert len(datums_of(read(client, pat.headers, pat.user_id, cbgFilter="true"))) == 14


def test_a_cloud_set_without_cbg_hides_nothing(client: TestClient, pat: Account) -> None:
    upload(client, pat, [cbg(m, device="Pump-1") for m in (0, 5)], deviceId="Pump-1")
    food = {"type": "food", "nutrition": {"carbohydrate": {"net": 10, "units": "grams"}}, "time": at(2)}
    upload(
        client,
        pat,
        [food],
        dataSetType="continuous",
        deviceId="Dexcom",
        client={"name": "org.tidepool.oauth.dexcom.fetch", "version": "1.0.0"},
    )
    assert len(datums_of(read(client, pat.headers, pat.user_id))) == 2


def test_medtronic_loop_rule(client: TestClient, pat: Account) -> None:
    pump_data = [
        cbg(0, device="MMT-723"),
        {"type": "bolus", "subType": "normal", "normal": 1.0, "time": at(1), "deviceId": "MMT-723"},
        {
            "type": "basal",
            "deliveryType": "scheduled",
            "rate": 1,
            "duration": 60000,
            "time": at(2),
            "deviceId": "MMT-723",
        },
        {"type": "smbg", "units": "mg/dL", "value": 90, "time": at(3), "deviceId": "MMT-723"},
    ]
    upload(client, pat, pump_data, deviceId="MMT-723", deviceModel="723", deviceManufacturers=["Medtronic"])
    everything = {"cbg", "bolus", "basal", "smbg"}
    assert {i["type"] for i in read(client, pat.headers, pat.user_id)} - {
        "upload"
    } == everything  # no Loop yet
    loop_origin = {"id": "loop-1", "payload": {"device": {"manufacturer": "Medtronic"}}}
    upload(
        client,
        pat,
        [cbg(10, device="Loop", origin=loop_origin)],
        dataSetType="continuous",
        deviceId="Loop",
        client={"name": "com.loopkit.Loop", "version": "3.4.0"},
    )
    shown = [i for i in read(client, pat.headers, pat.user_id) if i["type"] != "upload"]
    assert [(i["type"], i["deviceId"]) for i in shown] == [("smbg", "MMT-723"), ("cbg", "Loop")]
    assert (
        len([i for i in read(client, pat.headers, pat.user_id, medtronic="true") if i["type"] != "upload"])
        == 5
    )
    assert len(read(client, pat.headers, pat.user_id, medtronic="false", type="basal")) == 0


def test_legacy_flags_are_validated_like_tide_whisperer(client: TestClient, pat: Account) -> None:
    upload(client, pat, [cbg(0)])
    for flag in ("carelink", "dexcom", "medtronic", "latest", "cbgFilter"):
        for value in ("true", "FALSE", "t", "0"):
            assert (
                client.get(f"/data/{pat.user_id}", headers=pat.headers, params={flag: value}).status_code
                == 200
            )
        bad = client.get(f"/data/{pat.user_id}", headers=pat.headers, params={flag: "maybe"})
        assert_read_error(bad, 400, "invalid_parameters", "one or more parameters are invalid")
    # carelink data carries source "carelink"; Inlet's model has no such field, so nothing is hidden
    assert len(datums_of(read(client, pat.headers, pat.user_id, carelink="false"))) == 1


def test_odd_input_never_fails_the_server(client: TestClient, pat: Account) -> None:
    upload(client, pat, [cbg(0)])
    for params in (
        {"type": ",,,", "subType": ","},
        {"uploadId": "x", "deviceId": "\u00e9\u00e9"},
        {"latest": "true", "type": "nope,upload"},
        {"startDate": "0001-01-01T00:00:00Z", "endDate": "9998-12-31T23:59:59.999999Z"},
        {"startDate": "2026-10-02T00:00:00Z", "endDate": "2026-10-01T00:00:00Z"},
        {"sampleIntervalMinimum": "-1", "dosingDecision.reason": ","},
        {"sampleIntervalMinimum": "9" * 5000},
    ):
        response = client.get(f"/data/{pat.user_id}", headers=pat.headers, params=params)
        assert response.status_code in (200, 400), (params, response.text)
        assert isinstance(response.json(), (list, dict))


def test_large_reads_stream_as_one_array(client: TestClient, pat: Account) -> None:
    datums = [cbg(m % 1440, day=1 + m // 1440) for m in range(0, 2500 * 5, 5)]
    data_set = upload(client, pat, datums[:1200])
    second = new_set(client, pat.headers, pat.user_id, deviceId="DexG6_2")
    assert post_data(client, pat.headers, second["id"], datums[1200:]).status_code == 200
    client.put(f"/v1/data_sets/{second['id']}", headers=pat.headers, json={})
    with client.stream("GET", f"/data/{pat.user_id}", headers=pat.headers) as response:
        assert response.status_code == 200
        chunks = list(response.iter_raw())
    import orjson

    items = orjson.loads(b"".join(chunks))
    assert len(datums_of(items)) == 2500
    assert {u["id"] for u in datums_of(items, "upload")} == {data_set["id"], second["id"]}
    assert [i["time"] for i in items] == sorted(i["time"] for i in items)

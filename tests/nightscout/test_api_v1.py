"""API v1 with request bodies shaped like each client's, round-tripped through POST and GET, and what
lands in the data model (data sets per uploading device, versions, tombstones)."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from inlet.db.schema import data_sets, device_data
from inlet.services import Services
from tests.nightscout.conftest import NsSite

NOW_MS = int(time.time() * 1000) // 60_000 * 60_000
MIN = 60_000


def iso(ms: int, offset_minutes: int = 0) -> str:
    zone = datetime.fromtimestamp(ms / 1000, UTC).astimezone(
        __import__("datetime").timezone(timedelta(minutes=offset_minutes))
    )
    return zone.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def xdrip_entry(ms: int, sgv: int, **extra: object) -> dict[str, object]:
    """What xDrip+ POSTs (its NightscoutUploader): sgv with delta, noise, filtered/unfiltered."""
    return {
        "device": "xDrip-DexcomG6",
        "date": ms,
        "dateString": iso(ms, 60),
        "sgv": sgv,
        "delta": 1.5,
        "direction": "Flat",
        "type": "sgv",
        "filtered": 142000,
        "unfiltered": 143000,
        "rssi": 100,
        "noise": 1,
        "sysTime": iso(ms, 60),
        **extra,
    }


def loop_entries() -> list[dict[str, object]]:
    """Loop (NightscoutKit) batches glucose with ``NotComputable`` directions and no delta."""
    return [
        {
            "date": NOW_MS - 10 * MIN,
            "dateString": iso(NOW_MS - 10 * MIN, -300),
            "sgv": 110,
            "type": "sgv",
            "direction": "NotComputable",
            "device": "loop://iPhone",
        },
        {
            "date": NOW_MS - 5 * MIN,
            "dateString": iso(NOW_MS - 5 * MIN, -300),
            "sgv": 118,
            "type": "sgv",
            "direction": "Flat",
            "device": "loop://iPhone",
        },
    ]


def active_rows(services: Services, **where: object) -> list[dict[str, object]]:
    with services.engine.connect() as conn:
        query = select(device_data).where(device_data.c.active.is_(True))
        for key, value in where.items():
            query = query.where(getattr(device_data.c, key) == value)
        return [dict(row._mapping) for row in conn.execute(query)]


def test_xdrip_entries_round_trip_and_land_as_cbg(
    client: TestClient, site: NsSite, services: Services
) -> None:
    body = [xdrip_entry(NOW_MS - 5 * MIN, 140), xdrip_entry(NOW_MS, 142, _id="0123456789abcdef01234567")]
    posted = client.post(f"{site.url}/api/v1/entries", json=body, headers=site.headers)
    assert posted.status_code == 200, posted.text
    stored = posted.json()
    assert len(stored) == 2
    assert all(item["_id"] for item in stored)
    assert stored[1]["_id"] == "0123456789abcdef01234567"
    got = client.get(f"{site.url}/api/v1/entries.json?count=10", headers=site.headers).json()
    assert [e["sgv"] for e in got] == [142, 140]
    assert got[0]["_id"] == "0123456789abcdef01234567"
    assert got[0]["delta"] == 1.5
    assert got[0]["noise"] == 1
    assert got[0]["dateString"].endswith("+01:00")
    rows = active_rows(services, type="cbg")
    assert len(rows) == 2
    doc = next(r["doc"] for r in rows if r["origin_id"] == "0123456789abcdef01234567")
    assert doc["trend"] == "constant"
    assert doc["timezoneOffset"] == 60
    assert doc["units"] == "mmol/L"
    with services.engine.connect() as conn:
        clients = conn.execute(
            select(data_sets.c.client_name, data_sets.c.data_set_type, data_sets.c.device_id)
        ).all()
    assert [tuple(c) for c in clients] == [("org.nightscout.xdrip", "continuous", "xDrip-DexcomG6")]


def test_reupload_is_a_new_version_and_delete_is_a_tombstone(
    client: TestClient, site: NsSite, services: Services
) -> None:
    entry = xdrip_entry(NOW_MS, 150, _id="aaaaaaaaaaaaaaaaaaaaaaaa")
    client.post(f"{site.url}/api/v1/entries.json", json=entry, headers=site.headers)
    entry["sgv"] = 151
    client.post(f"{site.url}/api/v1/entries.json", json=entry, headers=site.headers)
    with services.engine.connect() as conn:
        versions = conn.execute(
            select(device_data.c.version, device_data.c.active)
            .where(device_data.c.origin_id == entry["_id"])
            .order_by(device_data.c.pk)
        ).all()
    assert [tuple(v) for v in versions] == [(0, False), (1, True)]  # _version starts at 0
    got = client.get(f"{site.url}/api/v1/entries/sgv.json", headers=site.headers).json()
    assert [e["sgv"] for e in got] == [151]
    assert (
        client.delete(f"{site.url}/api/v1/entries/aaaaaaaaaaaaaaaaaaaaaaaa", headers=site.headers).json()["n"]
        == 1
    )
    assert client.get(f"{site.url}/api/v1/entries/sgv.json", headers=site.headers).json() == []
    with services.engine.connect() as conn:
        deleted = conn.execute(
            select(device_data.c.deleted_time).where(device_data.c.version == 1)
        ).scalar_one()
    assert deleted is not None


def test_loop_batch_not_computable_and_served_delta(
    client: TestClient, site: NsSite, services: Services
) -> None:
    posted = client.post(f"{site.url}/api/v1/entries.json", json=loop_entries(), headers=site.headers)
    assert posted.status_code == 200
    assert len(posted.json()) == 2
    got = client.get(f"{site.url}/api/v1/entries.json", headers=site.headers).json()
    assert [(e["sgv"], e["direction"], e["delta"]) for e in got] == [
        (118, "Flat", 8),
        (110, "NotComputable", 0),
    ]
    assert got[0]["dateString"].endswith("-05:00")
    no_trend = next(
        r["doc"]
        for r in active_rows(services, type="cbg")
        if r["doc"]["timezoneOffset"] == -300 and "trend" not in r["doc"]
    )
    assert no_trend["origin"]["name"] == "org.nightscout.loop"


def test_content_negotiation_current_and_count(client: TestClient, site: NsSite) -> None:
    client.post(f"{site.url}/api/v1/entries.json", json=loop_entries(), headers=site.headers)
    text = client.get(f"{site.url}/api/v1/entries", headers={**site.headers, "Accept": "*/*"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "\t118\t" in text.text
    as_json = client.get(f"{site.url}/api/entries", headers={**site.headers, "Accept": "application/json"})
    assert as_json.json()[0]["sgv"] == 118
    assert [
        e["sgv"] for e in client.get(f"{site.url}/api/v1/entries/current.json", headers=site.headers).json()
    ] == [118]
    assert len(client.get(f"{site.url}/api/v1/entries.json?count=1", headers=site.headers).json()) == 1


def test_four_day_default_window_and_find(client: TestClient, site: NsSite) -> None:
    old = NOW_MS - 5 * 24 * 60 * MIN
    client.post(
        f"{site.url}/api/v1/entries.json",
        json=[xdrip_entry(old, 99), xdrip_entry(NOW_MS, 101)],
        headers=site.headers,
    )
    assert [e["sgv"] for e in client.get(f"{site.url}/api/v1/entries.json", headers=site.headers).json()] == [
        101
    ]
    query = f"find[date][$gte]={old - MIN}&find[date][$lt]={old + MIN}"
    assert [
        e["sgv"] for e in client.get(f"{site.url}/api/v1/entries.json?{query}", headers=site.headers).json()
    ] == [99]
    since = iso(old - MIN)
    got = client.get(
        f"{site.url}/api/v1/entries.json",
        params={"find[dateString][$gt]": since, "count": 5},
        headers=site.headers,
    )
    assert [e["sgv"] for e in got.json()] == [101, 99]
    assert [
        e["sgv"]
        for e in client.get(f"{site.url}/api/v1/entries.json?find[sgv][$gt]=100", headers=site.headers).json()
    ] == [101]


def test_gzip_bodies(client: TestClient, site: NsSite) -> None:
    raw = gzip.compress(orjson.dumps([xdrip_entry(NOW_MS, 120)]))
    posted = client.post(
        f"{site.url}/api/v1/entries.json",
        content=raw,
        headers={**site.headers, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert posted.status_code == 200, posted.text
    assert client.get(f"{site.url}/api/v1/entries.json", headers=site.headers).json()[0]["sgv"] == 120


def test_bad_record_is_400_naming_the_field_and_stores_nothing(
    client: TestClient, site: NsSite, services: Services
) -> None:
    body = [xdrip_entry(NOW_MS, 120), xdrip_entry(NOW_MS + MIN, "high")]
    answer = client.post(f"{site.url}/api/v1/entries.json", json=body, headers=site.headers)
    assert answer.status_code == 400
    assert "sgv" in answer.json()["message"]
    body = [xdrip_entry(NOW_MS, 120), xdrip_entry(NOW_MS + MIN, 2000)]
    assert client.post(f"{site.url}/api/v1/entries.json", json=body, headers=site.headers).status_code == 400
    assert active_rows(services) == []


def test_xdrip_treatment_puts_and_find_by_uuid(client: TestClient, site: NsSite, services: Services) -> None:
    """xDrip+ PUTs each treatment with ``_id`` = the first 24 hex of its uuid, then looks it up by uuid."""
    uuid = "5b1d6f2a-4c3e-4b8f-9a7d-0e1f2a3b4c5d"
    treatment = {
        "_id": uuid.replace("-", "")[:24],
        "uuid": uuid,
        "eventType": "Meal Bolus",
        "enteredBy": "xdrip",
        "created_at": iso(NOW_MS - 30 * MIN, 60),
        "insulin": 4.5,
        "carbs": 40,
        "notes": "lunch",
    }
    put = client.put(f"{site.url}/api/v1/treatments", json=treatment, headers=site.headers)
    assert put.status_code == 200, put.text
    treatment["insulin"] = 5.0
    client.put(f"{site.url}/api/v1/treatments", json=treatment, headers=site.headers)
    found = client.get(
        f"{site.url}/api/v1/treatments.json", params={"find[uuid]": uuid}, headers=site.headers
    ).json()
    assert len(found) == 1
    assert found[0]["insulin"] == 5.0
    assert found[0]["carbs"] == 40
    assert found[0]["_id"] == treatment["_id"]
    bolus = active_rows(services, type="bolus")
    food = active_rows(services, type="food")
    assert len(bolus) == 1
    assert bolus[0]["doc"]["normal"] == 5.0
    assert bolus[0]["version"] == 1
    assert len(food) == 1
    assert food[0]["doc"]["nutrition"]["carbohydrate"] == {"net": 40, "units": "grams"}


def test_loop_treatments_and_trio_delete_by_find(
    client: TestClient, site: NsSite, services: Services
) -> None:
    batch = [
        {
            "eventType": "Temp Basal",
            "created_at": iso(NOW_MS - 20 * MIN),
            "enteredBy": "loop://iPhone",
            "absolute": 0.85,
            "rate": 0.85,
            "duration": 30,
            "id": "trio-1",
            "_id": "1111aaaa1111aaaa1111aaaa",
        },
        {
            "eventType": "Correction Bolus",
            "created_at": iso(NOW_MS - 15 * MIN),
            "enteredBy": "loop://iPhone",
            "insulin": 0.3,
            "automatic": True,
            "_id": "2222bbbb2222bbbb2222bbbb",
            "id": "trio-2",
        },
        {
            "eventType": "Carb Correction",
            "created_at": iso(NOW_MS - 14 * MIN),
            "enteredBy": "loop://iPhone",
            "carbs": 0,
            "_id": "3333cccc3333cccc3333cccc",
        },
        {
            "eventType": "Note",
            "created_at": iso(NOW_MS - 13 * MIN),
            "enteredBy": "Trio",
            "notes": "walk",
            "_id": "4444dddd4444dddd4444dddd",
        },
    ]
    posted = client.post(f"{site.url}/api/v1/treatments.json", json=batch, headers=site.headers)
    assert posted.status_code == 200
    assert len(posted.json()) == 4
    assert "carbs" not in posted.json()[2]  # zero carbs dropped, as Nightscout does
    basal = active_rows(services, type="basal")
    assert basal[0]["doc"]["deliveryType"] == "automated"
    assert basal[0]["doc"]["duration"] == 30 * MIN
    assert active_rows(services, type="bolus")[0]["doc"]["subType"] == "automated"
    got = client.get(f"{site.url}/api/v1/treatments.json", headers=site.headers).json()
    assert {t["_id"] for t in got} == {b["_id"] for b in batch}
    note = next(t for t in got if t["eventType"] == "Note")
    assert note == batch[3]
    gone = client.delete(
        f"{site.url}/api/v1/treatments.json", params={"find[id][$eq]": "trio-2"}, headers=site.headers
    )
    assert gone.status_code == 200
    assert gone.json()["n"] == 1
    assert active_rows(services, type="bolus") == []
    assert (
        client.delete(f"{site.url}/api/v1/treatments/4444dddd4444dddd4444dddd", headers=site.headers).json()[
            "n"
        ]
        == 1
    )
    left = client.get(f"{site.url}/api/v1/treatments.json", headers=site.headers).json()
    assert {t["eventType"] for t in left} == {"Temp Basal", "Carb Correction"}


def test_devicestatus_kept_as_sent(client: TestClient, site: NsSite) -> None:
    status = {
        "device": "loop://iPhone",
        "created_at": iso(NOW_MS),
        "loop": {"iob": {"iob": 1.2}, "cob": {"cob": 10}},
        "pump": {"reservoir": 100, "battery": {"percent": 60}},
        "uploader": {"battery": 80},
    }
    posted = client.post(
        f"{site.url}/api/v1/devicestatus.json",
        json=[status, {**status, "created_at": iso(NOW_MS + MIN)}],
        headers=site.headers,
    )
    assert posted.status_code == 200
    got = client.get(f"{site.url}/api/v1/devicestatus.json?count=1", headers=site.headers).json()
    assert len(got) == 1
    assert got[0]["loop"] == status["loop"]
    assert got[0]["created_at"] == iso(NOW_MS + MIN)


def test_profile_routes(client: TestClient, site: NsSite, services: Services) -> None:
    profile = {
        "defaultProfile": "Default",
        "startDate": iso(NOW_MS - 60 * MIN),
        "units": "mg/dl",
        "store": {
            "Default": {
                "dia": "5",
                "carbratio": [{"time": "00:00", "value": "10"}],
                "sens": [{"time": "00:00", "value": "40"}],
                "basal": [{"time": "00:00", "value": "0.9"}],
                "target_low": [{"time": "00:00", "value": "100"}],
                "target_high": [{"time": "00:00", "value": "110"}],
                "timezone": "Europe/Berlin",
                "units": "mg/dl",
            }
        },
    }
    posted = client.post(f"{site.url}/api/v1/profile", json=profile, headers=site.headers).json()
    key = posted[0]["_id"]
    settings = active_rows(services, type="pumpSettings")
    assert len(settings) == 1
    doc = settings[0]["doc"]
    assert doc["activeSchedule"] == "Default"
    assert doc["basalSchedules"] == {"Default": [{"start": 0, "rate": 0.9}]}
    assert doc["carbRatios"] == {"Default": [{"start": 0, "amount": 10.0}]}
    assert doc["bgTargets"]["Default"][0]["start"] == 0
    assert doc["units"] == {"bg": "mmol/L", "carb": "grams"}  # glucose stored in mmol/L, as always
    assert (
        client.get(f"{site.url}/api/v1/profile.json", headers=site.headers).json()[0]["store"]
        == profile["store"]
    )
    assert (
        client.get(f"{site.url}/api/v1/profile/current", headers=site.headers).json()["defaultProfile"]
        == "Default"
    )
    assert len(client.get(f"{site.url}/api/v1/profiles", headers=site.headers).json()) == 1
    assert client.delete(f"{site.url}/api/v1/profile/{key}", headers=site.headers).json()["n"] == 1
    assert client.get(f"{site.url}/api/v1/profile.json", headers=site.headers).json() == []
    assert active_rows(services, type="pumpSettings") == []


def test_status_and_experiments(client: TestClient, site: NsSite) -> None:
    status = client.get(f"{site.url}/api/v1/status.json", headers=site.headers).json()
    assert status["status"] == "ok"
    assert status["apiEnabled"]
    assert "units" in status["settings"]
    assert client.get(f"{site.url}/api/v1/experiments/test", headers=site.headers).json() == {"status": "ok"}


def test_bare_delete_covers_the_default_window_only(client: TestClient, site: NsSite) -> None:
    old = NOW_MS - 5 * 24 * 60 * MIN
    body = [xdrip_entry(old, 99), xdrip_entry(NOW_MS, 101)]
    client.post(f"{site.url}/api/v1/entries.json", json=body, headers=site.headers)
    assert client.delete(f"{site.url}/api/v1/entries.json", headers=site.headers).json()["n"] == 1
    query = f"find[date][$gte]={old - MIN}"
    left = client.get(f"{site.url}/api/v1/entries.json?{query}", headers=site.headers).json()
    assert [e["sgv"] for e in left] == [99]
    assert client.delete(f"{site.url}/api/v1/entries.json?{query}", headers=site.headers).json()["n"] == 1

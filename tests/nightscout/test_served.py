"""Out of the data model: entries and treatments from everything the person has, converted back,
one reading seen by two sources served once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from inlet.model.data_set import parse_data_set
from inlet.model.parse import parse_data
from inlet.services import Services
from tests.nightscout.conftest import NsSite
from tests.nightscout.test_api_v1 import MIN, NOW_MS, iso, xdrip_entry


def add(services: Services, user_id: str, client_name: str, datums: list[dict[str, Any]]) -> None:
    """Store datums as another source would: a continuous set named ``client_name``."""
    parsed, errors = parse_data_set(
        {"type": "upload", "dataSetType": "continuous", "client": {"name": client_name, "version": "1.0.0"}}
    )
    assert parsed is not None, errors
    result = parse_data(datums)
    assert result.ok, result.errors
    with services.engine.begin() as conn:
        data_set = services.data.create_data_set_from(conn, user_id, parsed)
        services.data.add_datums(conn, data_set, result.datums)


def cbg(ms: int, mgdl: int, offset: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "cbg",
        "units": "mg/dL",
        "value": mgdl,
        "time": iso(ms),
        "timezoneOffset": offset,
        **extra,
    }


def test_other_sources_are_served_with_delta_direction_and_offset(
    client: TestClient, site: NsSite, services: Services
) -> None:
    add(
        services,
        site.owner.user_id,
        "org.tidepool.uploader",
        [
            cbg(NOW_MS - 10 * MIN, 100, 120, trend="slowRise", deviceId="DexG6Receiver"),
            cbg(NOW_MS - 5 * MIN, 108, 120, trend="slowRise", deviceId="DexG6Receiver"),
            {
                "type": "bolus",
                "subType": "normal",
                "normal": 2.5,
                "time": iso(NOW_MS - 7 * MIN),
                "timezoneOffset": 120,
            },
            {
                "type": "food",
                "nutrition": {"carbohydrate": {"net": 30, "units": "grams"}},
                "time": iso(NOW_MS - 8 * MIN),
            },
        ],
    )
    entries = client.get(f"{site.url}/api/v1/entries.json", headers=site.headers).json()
    assert [(e["sgv"], e["delta"], e["direction"]) for e in entries] == [
        (108, 8, "FortyFiveUp"),
        (100, 0, "FortyFiveUp"),
    ]
    assert entries[0]["dateString"] == iso(NOW_MS - 5 * MIN, 120)
    assert entries[0]["date"] == NOW_MS - 5 * MIN
    assert entries[0]["type"] == "sgv"
    treatments = client.get(f"{site.url}/api/v1/treatments.json", headers=site.headers).json()
    assert [(t["eventType"], t.get("insulin"), t.get("carbs")) for t in treatments] == [
        ("Correction Bolus", 2.5, None),
        ("Carb Correction", None, 30),
    ]
    assert treatments[0]["created_at"] == iso(NOW_MS - 7 * MIN, 120)


def test_one_reading_from_a_phone_and_the_dexcom_partner_is_served_once(
    client: TestClient, site: NsSite, services: Services
) -> None:
    times = [NOW_MS - 15 * MIN, NOW_MS - 10 * MIN, NOW_MS - 5 * MIN]
    add(
        services,
        site.owner.user_id,
        "org.inlet.partner.dexcom",
        [cbg(t, 120 + i, deviceId="G6") for i, t in enumerate(times)],
    )
    phone = [xdrip_entry(t + 2_000, 120 + i) for i, t in enumerate(times)]  # xDrip sees them 2 s later
    assert client.post(f"{site.url}/api/v1/entries.json", json=phone, headers=site.headers).status_code == 200
    entries = client.get(f"{site.url}/api/v1/entries.json", headers=site.headers).json()
    # each reading once: inside the cloud's span the cloud's copy (cbgFilter); at its edge (the phone's
    # newest copy is 2 s past the cloud's last reading) the 60-second rule drops the second copy
    assert [e["sgv"] for e in entries] == [122, 121, 120]
    assert [e["date"] for e in entries[1:]] == sorted(times, reverse=True)[1:]
    # and two phone uploaders of one reading (no cloud): served once
    other = [{**xdrip_entry(NOW_MS + 5 * MIN, 130), "device": "nightscout-librelink-up"}]
    mine = [xdrip_entry(NOW_MS + 5 * MIN + 1_000, 130)]
    client.post(f"{site.url}/api/v1/entries.json", json=other + mine, headers=site.headers)
    newest = client.get(f"{site.url}/api/v1/entries.json?count=2", headers=site.headers).json()
    assert [e["sgv"] for e in newest] == [130, 122]


def test_nightscout_uploads_are_ordinary_data_for_the_read_api(
    client: TestClient, site: NsSite, services: Services
) -> None:
    """Summaries, the clinic list and exports read the data API's store: Nightscout-uploaded readings
    and treatments are there like any upload (active, in a visible continuous set)."""
    client.post(f"{site.url}/api/v1/entries.json", json=[xdrip_entry(NOW_MS, 140)], headers=site.headers)
    bolus = {"eventType": "Correction Bolus", "insulin": 1.5, "created_at": iso(NOW_MS), "enteredBy": "xdrip"}
    client.post(f"{site.url}/api/v1/treatments.json", json=[bolus], headers=site.headers)
    data = client.get(f"/data/{site.owner.user_id}", headers=site.owner.headers).json()
    kinds = sorted(d["type"] for d in data)
    assert kinds == ["bolus", "cbg", "upload", "upload"]
    cbg_doc = next(d for d in data if d["type"] == "cbg")
    assert cbg_doc["origin"]["name"] == "org.nightscout.xdrip"
    assert round(cbg_doc["value"] * 18.01559) == 140

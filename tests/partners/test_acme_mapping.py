"""The ACME mapping (src/inlet/partners/acme/mapping.py): the records of docs/partners-acme-api.md
as a table, and every basal and bolus the simulator generates over 14 days (also with its
unknown-enum fault) mapped into datums that parse_data accepts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from inlet.model.parse import parse_data
from inlet.partners.acme.mapping import MappingResult, SkipRecord, device_info, map_records
from inlet.simulator import FrozenClock, default_acme_config
from inlet.simulator.acme import AcmeSimulator
from inlet.simulator.faults import FaultUpdate

T0 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
START = T0 - timedelta(days=14)
DEVICE = "ACMEPumpModel123-7402996098"
COMMON = {"localTime": "2026-03-16T18:03:04", "timezone": "America/Los_Angeles"}
SUPPRESSED = {"deliveryType": "scheduled", "rate": 0.675, "scheduleName": "Standard"}

# The examples of docs/partners-acme-api.md and the fields each datum must carry.
BASALS = [
    (
        {"id": "df024541-4abf-4b6d-83d0-fbb7bd605493", "type": "basal", "deliveryType": "scheduled",
         "time": "2026-03-17T01:00:00Z", "duration": 14400000, "expectedDuration": 14400000, "rate": 0.675,
         "scheduleName": "Standard"},
        {"deliveryType": "scheduled", "rate": 0.675, "duration": 14400000, "expectedDuration": 14400000,
         "scheduleName": "Standard"},
    ),
    (
        {"id": "ccefd28a-3723-4c46-92b0-a068d4c0942b", "type": "basal", "deliveryType": "temp",
         "time": "2026-03-11T00:30:00Z", "duration": 1200000, "expectedDuration": 1800000, "rate": 0.35,
         "percent": 0.6, "suppressed": {**SUPPRESSED, "rate": 0.6}},
        {"deliveryType": "temp", "rate": 0.35, "percent": 0.6, "duration": 1200000,
         "expectedDuration": 1800000, "suppressed": {"type": "basal", **SUPPRESSED, "rate": 0.6}},
    ),
    (
        {"id": "aea4e99b-7f76-4ebd-8837-e6929c9e2d0d", "type": "basal", "deliveryType": "suspend",
         "time": "2026-03-12T16:56:00Z", "duration": 1260000, "expectedDuration": 1260000,
         "suppressed": SUPPRESSED},
        {"deliveryType": "suspend", "duration": 1260000, "expectedDuration": 1260000,
         "suppressed": {"type": "basal", **SUPPRESSED}},
    ),
]  # fmt: skip

BOLUSES = [
    (
        {"id": "02ccf2fb-7a7c-40ac-b480-3a61d67ca661", "type": "bolus", "deliveryType": "normal",
         "time": "2026-03-10T14:27:00Z", "normal": 4.5},
        {"subType": "normal", "normal": 4.5},
    ),
    (
        {"id": "02ccf2fb-7a7c-40ac-b480-3a61d67ca662", "type": "bolus", "deliveryType": "normal",
         "time": "2026-03-10T14:27:00Z", "normal": 2.0, "expectedNormal": 4.5},
        {"subType": "normal", "normal": 2.0, "expectedNormal": 4.5},
    ),
    (
        {"id": "82f66a70-c2a4-4efe-81aa-bc94a85dc548", "type": "bolus", "deliveryType": "extended",
         "time": "2026-03-11T02:16:00Z", "extended": 7.8, "duration": 14400000, "expectedDuration": 14400000},
        {"subType": "square", "extended": 7.8, "duration": 14400000},
    ),
    (
        {"id": "82f66a70-c2a4-4efe-81aa-bc94a85dc549", "type": "bolus", "deliveryType": "extended",
         "time": "2026-03-11T02:16:00Z", "extended": 3.1, "expectedExtended": 7.8, "duration": 5400000,
         "expectedDuration": 14400000},
        {"subType": "square", "extended": 3.1, "expectedExtended": 7.8, "duration": 5400000,
         "expectedDuration": 14400000},
    ),
    (
        {"id": "63f5c66b-cd54-4d64-8893-98281a146dc9", "type": "bolus", "deliveryType": "combination",
         "time": "2026-03-10T01:27:00Z", "normal": 4.1, "extended": 2.7, "duration": 9000000,
         "expectedDuration": 9000000},
        {"subType": "dual/square", "normal": 4.1, "extended": 2.7, "duration": 9000000},
    ),
    (
        {"id": "63f5c66b-cd54-4d64-8893-98281a146dca", "type": "bolus", "deliveryType": "combination",
         "time": "2026-03-10T01:27:00Z", "normal": 4.1, "extended": 1.0, "expectedExtended": 2.7,
         "duration": 3000000, "expectedDuration": 9000000},
        {"subType": "dual/square", "normal": 4.1, "extended": 1.0, "expectedExtended": 2.7,
         "duration": 3000000, "expectedDuration": 9000000},
    ),
]  # fmt: skip


def mapped(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    result = map_records(kind, [{**COMMON, **record}], DEVICE)
    assert result.problems == []
    assert parse_data(result.datums).ok
    return result.datums[0]


@pytest.mark.parametrize(("record", "expected"), BASALS, ids=lambda v: v.get("deliveryType", ""))
def test_basal_segments(record: dict[str, Any], expected: dict[str, Any]) -> None:
    datum = mapped("basal", record)
    assert datum["type"] == "basal"
    assert {key: datum.get(key) for key in expected} == expected
    assert "rate" not in datum or record["deliveryType"] != "suspend"
    assert datum["origin"] == {"id": record["id"], "name": "com.acme-pump.api", "type": "service"}
    assert datum["deviceId"] == DEVICE
    assert datum["timezone"] == "America/Los_Angeles"
    assert datum["deviceTime"] == COMMON["localTime"]


@pytest.mark.parametrize(("record", "expected"), BOLUSES, ids=lambda v: v.get("id", "")[-4:])
def test_boluses(record: dict[str, Any], expected: dict[str, Any]) -> None:
    datum = mapped("bolus", record)
    assert datum["type"] == "bolus"
    assert {key: datum.get(key) for key in expected} == expected
    if "expectedExtended" not in record:
        assert "expectedDuration" not in datum  # the model refuses it without expectedExtended
    assert datum["origin"]["id"] == record["id"]


def test_time_fields_split_zone_and_pump_drift() -> None:
    # 18:03:04 local for 01:00Z: -7 h and a pump clock 184 s fast
    datum = mapped("basal", BASALS[0][0])
    assert datum["time"] == "2026-03-17T01:00:00.000Z"
    assert (datum["timezoneOffset"], datum["clockDriftOffset"]) == (-420, 184_000)
    paris = mapped("bolus", {**BOLUSES[0][0], "localTime": "2026-03-10T15:26:00", "timezone": "Europe/Paris"})
    assert (paris["timezoneOffset"], paris["clockDriftOffset"]) == (60, -60_000)


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("basal", {"deliveryType": "automatedBoost"}, "deliveryType"),
        ("basal", {"deliveryType": None}, "deliveryType"),
        ("basal", {"duration": None}, "duration"),
        ("basal", {"rate": "fast"}, "rate"),
        ("basal", {"id": None}, "id"),
        ("basal", {"time": "soon"}, "time"),
        ("bolus", {"deliveryType": "superBolus"}, "deliveryType"),
        ("bolus", {"normal": None}, "normal"),
    ],
)
def test_unknown_or_bad_records_are_skipped_and_reported(
    kind: str, changes: dict[str, Any], field: str
) -> None:
    base = BASALS[0][0] if kind == "basal" else BOLUSES[0][0]
    result = map_records(kind, [{**COMMON, **base, **changes}], DEVICE)
    assert result.datums == []
    assert [(p.kind, p.field, p.skipped) for p in result.problems] == [(kind, field, True)]


@pytest.mark.parametrize("record", [{}, None, [], "x", {"id": 1}])
@pytest.mark.parametrize("kind", ["basal", "bolus"])
def test_garbage_never_raises(kind: str, record: Any) -> None:
    result = map_records(kind, [record], DEVICE)
    assert result.datums == []
    assert result.skipped == 1


def test_device_record() -> None:
    info = device_info(
        {
            "deviceId": DEVICE,
            "deviceModel": "ACMEPumpModel123",
            "deviceManufacturer": "ACME",
            "deviceName": "ACMEPumpCo ACMEPumpModel123",
            "deviceSerialNumber": "7402996098",
            "deviceTime": "2026-03-20T04:18:04-07:00",
            "lastUploadTime": "2026-03-20T11:15:00Z",
            "timezone": "America/Los_Angeles",
            "basalScheduleName": "Standard",
        }
    )
    assert (info.device_id, info.serial_number, info.timezone) == (
        DEVICE,
        "7402996098",
        "America/Los_Angeles",
    )
    assert info.last_upload_time == "2026-03-20T11:15:00.000Z"
    assert (
        device_info({"deviceId": DEVICE, "deviceTime": None, "lastUploadTime": None}).last_upload_time is None
    )
    with pytest.raises(SkipRecord):
        device_info({"deviceModel": "x"})


# ---- every simulated record ----------------------------------------------------------------------


@cache
def simulated(unknown: bool) -> dict[tuple[str, str], tuple[list[dict[str, Any]], MappingResult]]:
    config = default_acme_config(1, clock=FrozenClock(T0), admin_token="x")
    config = replace(config, accounts=tuple(replace(a, history_start=START) for a in config.accounts))
    simulator = AcmeSimulator(config)
    if unknown:
        simulator.faults.update(FaultUpdate(unknown_enums=True))
    out = {}
    for username, user in simulator.users.items():
        device = device_info(user.device(T0.timestamp())).device_id
        for kind, select in (("basal", simulator.basals), ("bolus", simulator.boluses)):
            records = select(username, START.timestamp(), T0.timestamp())
            out[username, kind] = (records, map_records(kind, records, device))
    return out


def test_every_simulated_record_maps_to_valid_datums() -> None:
    delivery_types: set[str] = set()
    for (username, kind), (records, result) in simulated(False).items():
        assert result.problems == [], (username, kind, result.problems[:3])
        assert [d["origin"]["id"] for d in result.datums] == [r["id"] for r in records]
        assert parse_data(result.datums).ok
        delivery_types.update(str(d.get("deliveryType", d.get("subType"))) for d in result.datums)
        for datum in result.datums:
            assert datum["deviceId"].startswith("ACMEPumpModel123-")
            assert abs(datum["clockDriftOffset"]) <= 240_000
    assert delivery_types == {"scheduled", "temp", "suspend", "normal", "square", "dual/square"}


def test_simulated_unknown_enums_are_skipped_and_reported() -> None:
    skipped = 0
    for (username, kind), (records, result) in simulated(True).items():
        assert parse_data(result.datums).ok, (username, kind)
        assert len(result.datums) + result.skipped == len(records)
        unknown = {r["id"] for r in records if r["deliveryType"] in ("automatedBoost", "superBolus")}
        assert {p.record_id for p in result.problems} == unknown
        assert all(p.field == "deliveryType" for p in result.problems)
        skipped += result.skipped
    assert skipped > 0

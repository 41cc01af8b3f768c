"""The Dexcom mapping (src/inlet/partners/dexcom/mapping.py): table-driven cases from the shared
reference's "Dexcom -> Tidepool mapping", the Dexcom time vectors run through the egv mapping, and
every record the simulator generates over 14 days (also with its unknown-enum fault) mapped into
datums that parse_data accepts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from inlet.model.parse import parse_data
from inlet.model.timeutil import format_rfc3339_nano, parse_rfc3339
from inlet.partners.dexcom import mapping
from inlet.partners.dexcom.mapping import MappingResult, map_records
from inlet.simulator import FrozenClock, default_dexcom_config
from inlet.simulator.dexcom import DexcomSimulator
from inlet.simulator.faults import FaultUpdate
from tests.vectors import cases

T0 = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
START = T0 - timedelta(days=14)
KINDS = ("egv", "calibration", "event", "alert", "device")
TX = "a" * 64


def egv(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "recordId": "3f1e6c1e-0b7a-4c8e-9a63-3f3b2d1c0a01",
        "systemTime": "2026-03-10T12:00:00Z",
        "displayTime": "2026-03-10T05:00:00-07:00",
        "transmitterId": TX,
        "transmitterTicks": 12345,
        "value": 120,
        "status": "ok",
        "trend": "flat",
        "trendRate": 0.4,
        "unit": "mg/dL",
        "rateUnit": "mg/dL/min",
        "displayDevice": "iOS",
        "transmitterGeneration": "g6",
    }
    record.update(changes)
    return record


def event(
    event_type: str, sub_type: str | None, value: str, unit: str | None, **changes: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "recordId": "7c0d2f0e-1111-4c8e-9a63-3f3b2d1c0a02",
        "systemTime": "2026-03-10T12:00:00",
        "displayTime": "2026-03-10T05:00:00",
        "eventStatus": "created",
        "eventType": event_type,
        "eventSubType": sub_type,
        "unit": unit,
        "value": value,
        "transmitterId": TX,
        "transmitterGeneration": "g6",
        "displayDevice": "receiver",
    }
    record.update(changes)
    return record


def one(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    result = map_records(kind, [record])
    assert [p for p in result.problems if p.skipped] == [], result.problems
    assert len(result.datums) == 1
    assert parse_data(result.datums).ok
    return result.datums[0]


# ---- egv ----------------------------------------------------------------------------------------------

TRENDS = [
    ("doubleUp", "rapidRise"),
    ("singleUp", "moderateRise"),
    ("fortyFiveUp", "slowRise"),
    ("flat", "constant"),
    ("fortyFiveDown", "slowFall"),
    ("singleDown", "moderateFall"),
    ("doubleDown", "rapidFall"),
    ("none", None),
    ("unknown", None),
    ("notComputable", None),
    ("rateOutOfRange", None),
    (None, None),
]


@pytest.mark.parametrize(("trend", "expected"), TRENDS)
def test_every_trend(trend: str | None, expected: str | None) -> None:
    datum = one("egv", egv(trend=trend))
    assert datum.get("trend") == expected
    assert map_records("egv", [egv(trend=trend)]).problems == []


def test_an_egv_maps_to_cbg_with_origin_payload_and_time() -> None:
    datum = one("egv", egv())
    assert datum["type"] == "cbg"
    assert (datum["units"], datum["value"]) == ("mg/dL", 120)
    assert (datum["trendRate"], datum["trendRateUnits"]) == (0.4, "mg/dL/minute")
    assert datum["origin"] == {"id": egv()["recordId"], "name": mapping.ORIGIN_NAME, "type": "service"}
    assert datum["payload"] == {
        key: egv()[key]
        for key in (
            "systemTime",
            "displayTime",
            "transmitterId",
            "transmitterTicks",
            "displayDevice",
            "transmitterGeneration",
            "status",
        )
    }
    assert datum["time"] == "2026-03-10T12:00:00.000Z"
    assert datum["deviceTime"] == "2026-03-10T05:00:00"
    assert datum["timezoneOffset"] == -420
    assert "clockDriftOffset" not in datum
    assert "conversionOffset" not in datum
    assert datum["deviceId"] == f"DexcomG6_{TX}"
    assert "annotations" not in datum


@pytest.mark.parametrize(
    ("changes", "value", "annotation"),
    [
        ({"value": None, "status": "high", "trend": "none", "trendRate": None}, 401, ("high", 400)),
        ({"value": None, "status": "low", "trend": "none", "trendRate": None}, 39, ("low", 40)),
        ({"value": 401, "status": "high", "trend": "none", "trendRate": None}, 401, ("high", 400)),
        ({"value": 39, "status": "low", "trend": "none", "trendRate": None}, 39, ("low", 40)),
        ({"value": 450, "status": "high"}, 401, ("high", 400)),
        ({"value": 25, "status": "low"}, 39, ("low", 40)),
        ({"value": 400, "status": "ok"}, 400, None),
        ({"value": 40, "status": "ok"}, 40, None),
        ({"value": None, "status": "high", "unit": "mmol/L", "rateUnit": "mmol/L/min"}, 22.3, ("high", 22.2)),
        ({"value": 1.5, "status": "low", "unit": "mmol/L", "rateUnit": "mmol/L/min"}, 2.1, ("low", 2.2)),
    ],
)
def test_high_and_low(changes: dict[str, Any], value: float, annotation: tuple[str, float] | None) -> None:
    datum = one("egv", egv(**changes))
    assert datum["value"] == value
    if annotation is None:
        assert "annotations" not in datum
    else:
        assert datum["annotations"] == [
            {"code": "bg/out-of-range", "value": annotation[0], "threshold": annotation[1]}
        ]


@pytest.mark.parametrize(
    ("unit", "rate_unit", "units", "rate_units"),
    [
        ("mg/dL", "mg/dL/min", "mg/dL", "mg/dL/minute"),
        ("mmol/L", "mmol/L/min", "mmol/L", "mmol/L/minute"),
    ],
)
def test_units(unit: str, rate_unit: str, units: str, rate_units: str) -> None:
    datum = one(
        "egv", egv(unit=unit, rateUnit=rate_unit, value=6.5 if unit == "mmol/L" else 117, trendRate=0.1)
    )
    assert (datum["units"], datum["trendRateUnits"]) == (units, rate_units)


@pytest.mark.parametrize(
    ("changes", "field", "skipped"),
    [
        ({"unit": "unknown"}, "unit", True),
        ({"unit": "mg/dl/x"}, "unit", True),
        ({"value": None, "status": "ok"}, "value", True),
        ({"value": None, "status": "outOfCalibration"}, "value", True),
        ({"recordId": None}, "recordId", True),
        ({"systemTime": "yesterday"}, "systemTime", True),
        ({"trend": "tripleUp"}, "trend", False),
        ({"status": "outOfCalibration"}, "status", False),
        ({"rateUnit": "unknown"}, "trendRate", False),
        ({"trendRate": 250.0}, "trendRate", False),
        ({"displayDevice": "watch"}, "displayDevice", False),
        ({"transmitterGeneration": "g8"}, "transmitterGeneration", False),
    ],
)
def test_bad_or_unknown_egv_fields_are_reported(changes: dict[str, Any], field: str, skipped: bool) -> None:
    result = map_records("egv", [egv(**changes)])
    assert any(p.field == field and p.skipped is skipped for p in result.problems), result.problems
    assert len(result.datums) == (0 if skipped else 1)
    assert parse_data(result.datums).ok


@pytest.mark.parametrize(
    ("generation", "transmitter", "expected"),
    [
        ("g4", TX, f"DexcomG4_{TX}"),
        ("g5", TX, f"DexcomG5_{TX}"),
        ("g6", TX, f"DexcomG6_{TX}"),
        ("g6 pro", TX, f"DexcomG6Pro_{TX}"),
        ("g6+", TX, f"DexcomG6Plus_{TX}"),
        ("dexcomPro", TX, f"DexcomPro_{TX}"),
        ("g7", TX, f"DexcomG7_{TX}"),
        ("g715day", TX, f"DexcomG7-15Day_{TX}"),
        ("unknown", TX, f"Dexcom_{TX}"),
        ("g8", TX, f"Dexcom_{TX}"),
        (None, "8GXXXX", "Dexcom_8GXXXX"),
        ("g6", "", "DexcomG6"),
        ("g7", None, "DexcomG7"),
    ],
)
def test_device_id_prefixes(generation: str | None, transmitter: str | None, expected: str) -> None:
    assert (
        one("egv", egv(transmitterGeneration=generation, transmitterId=transmitter))["deviceId"] == expected
    )


@pytest.mark.parametrize("vector", cases("dexcom_translate_time"))
def test_time_vectors_through_the_egv_mapping(vector: dict[str, Any]) -> None:
    given, expected = vector["input"], vector["expected"]
    result = map_records("egv", [egv(systemTime=given["systemTime"], displayTime=given["displayTime"])])
    assert result.problems == [] or all(not p.skipped for p in result.problems)
    assert len(result.datums) == 1
    datum = result.datums[0]
    assert parse_data([datum]).ok
    parsed = parse_rfc3339(datum["time"])
    assert parsed is not None
    assert format_rfc3339_nano(parsed) == expected["time"]
    assert datum.get("deviceTime") == expected["deviceTime"]
    assert datum.get("timezoneOffset") == expected["timezoneOffset"]
    assert datum.get("clockDriftOffset") == expected["clockDriftOffset"]
    assert datum.get("conversionOffset") == expected["conversionOffset"]


@pytest.mark.parametrize(
    ("system", "display", "offset", "drift", "conversion"),
    [
        ("2026-03-10T12:00:00Z", "2026-03-10T05:00:00", -420, None, None),
        ("2026-03-10T12:00:00Z", "2026-03-10T05:02:30", -420, 150000, None),
        ("2026-03-10T12:00:00Z", "2026-03-10T04:58:00", -420, -120000, None),
        ("2026-03-10T12:00:00Z", "2027-03-10T05:00:00", -420, None, 31536000000),
        ("2026-03-10T12:00:00Z", "2026-03-10T05:00:00-07:00", -420, None, None),
        ("2026-11-01T09:30:00Z", "2026-11-01T01:30:00-08:00", -480, None, None),
        ("2026-03-10T12:00:00Z", "2026-03-10T17:30:00", 330, None, None),
        ("2026-03-10T12:00", "2026-03-10T05:00", -420, None, None),  # times without seconds
    ],
)
def test_data_model_worked_cases(
    system: str, display: str, offset: int, drift: int | None, conversion: int | None
) -> None:
    datum = one("egv", egv(systemTime=system, displayTime=display))
    assert datum["timezoneOffset"] == offset
    assert datum.get("clockDriftOffset") == drift
    assert datum.get("conversionOffset") == conversion


# ---- calibration, events, alerts, devices ---------------------------------------------------------------


def test_calibration() -> None:
    record = {
        k: v for k, v in egv(value=105).items() if k not in ("trend", "trendRate", "rateUnit", "status")
    }
    datum = one("calibration", record)
    assert (datum["type"], datum["subType"], datum["units"], datum["value"]) == (
        "deviceEvent",
        "calibration",
        "mg/dL",
        105,
    )
    assert datum["origin"]["id"] == record["recordId"]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            event("carbs", None, "45", "grams"),
            {"type": "food", "nutrition": {"carbohydrate": {"net": 45, "units": "grams"}}},
        ),
        (
            event("insulin", "fastActing", "4.5", "units"),
            {
                "type": "insulin",
                "dose": {"total": 4.5, "units": "Units"},
                "formulation": {"simple": {"actingType": "rapid"}},
            },
        ),
        (
            event("insulin", "longActing", "22", "units"),
            {
                "type": "insulin",
                "dose": {"total": 22, "units": "Units"},
                "formulation": {"simple": {"actingType": "long"}},
            },
        ),
        (
            event("exercise", "light", "30", "minutes"),
            {
                "type": "physicalActivity",
                "reportedIntensity": "low",
                "duration": {"units": "minutes", "value": 30},
            },
        ),
        (
            event("exercise", "medium", "45", "minutes"),
            {
                "type": "physicalActivity",
                "reportedIntensity": "medium",
                "duration": {"units": "minutes", "value": 45},
            },
        ),
        (
            event("exercise", "heavy", "60", "minutes"),
            {
                "type": "physicalActivity",
                "reportedIntensity": "high",
                "duration": {"units": "minutes", "value": 60},
            },
        ),
        (
            event("health", "illness", "illness", None),
            {"type": "reportedState", "states": [{"state": "illness"}]},
        ),
        (
            event("health", "stress", "stress", None),
            {"type": "reportedState", "states": [{"state": "stress"}]},
        ),
        (
            event("health", "highSymptoms", "highSymptoms", None),
            {"type": "reportedState", "states": [{"state": "hyperglycemiaSymptoms"}]},
        ),
        (
            event("health", "lowSymptoms", "lowSymptoms", None),
            {"type": "reportedState", "states": [{"state": "hypoglycemiaSymptoms"}]},
        ),
        (event("health", "cycle", "cycle", None), {"type": "reportedState", "states": [{"state": "cycle"}]}),
        (
            event("health", "alcohol", "alcohol", None),
            {"type": "reportedState", "states": [{"state": "alcohol"}]},
        ),
        (
            event("notes", None, "new sensor site", None),
            {
                "type": "reportedState",
                "states": [{"state": "other", "stateOther": "new sensor site"}],
                "notes": ["new sensor site"],
            },
        ),
        (
            event("note", None, "x", None),
            {"type": "reportedState", "states": [{"state": "other", "stateOther": "x"}], "notes": ["x"]},
        ),
        (
            event("bloodGlucose", None, "112", "mg/dL"),
            {"type": "smbg", "units": "mg/dL", "value": 112, "subType": "manual"},
        ),
        (
            event("bloodGlucose", None, "6.2", "mmol/L"),
            {"type": "smbg", "units": "mmol/L", "value": 6.2, "subType": "manual"},
        ),
    ],
)
def test_each_event_type(record: dict[str, Any], expected: dict[str, Any]) -> None:
    datum = one("event", record)
    assert {key: datum[key] for key in expected} == expected
    assert datum["origin"]["id"] == record["recordId"]
    assert datum["payload"]["eventStatus"] == "created"
    assert datum["deviceId"] == f"DexcomG6_{TX}"


def test_updated_events_map_and_deleted_ones_are_tombstones() -> None:
    updated = event("carbs", None, "50", "grams", eventStatus="updated")
    deleted = event("carbs", None, "50", "grams", eventStatus="deleted", recordId="dead-beef")
    result = map_records("event", [updated, deleted])
    assert [d["nutrition"]["carbohydrate"]["net"] for d in result.datums] == [50]
    assert result.datums[0]["payload"]["eventStatus"] == "updated"
    assert result.deleted == ["dead-beef"]
    assert result.problems == []


@pytest.mark.parametrize(
    ("record", "field", "skipped"),
    [
        (event("meal", None, "40", "grams"), "eventType", True),
        (event("carbs", None, "40", "grams", eventStatus="archived"), "eventStatus", True),
        (event("carbs", None, "lots", "grams"), "value", True),
        (event("bloodGlucose", None, "110", "unknown"), "unit", True),
        (event("exercise", "superHeavy", "30", "minutes"), "eventSubType", False),
        (event("insulin", "inhaled", "4", "units"), "eventSubType", False),
        (event("health", "sleepy", "sleepy", None), "eventSubType", False),
        (event("exercise", "light", "30", "laps"), "value", False),
    ],
)
def test_unknown_event_values_are_reported(record: dict[str, Any], field: str, skipped: bool) -> None:
    result = map_records("event", [record])
    assert any(p.field == field and p.skipped is skipped for p in result.problems), result.problems
    assert len(result.datums) == (0 if skipped else 1)
    assert parse_data(result.datums).ok


def test_alert() -> None:
    record = {
        "recordId": "c0ffee00-1111-4c8e-9a63-3f3b2d1c0a03",
        "systemTime": "2026-03-10T12:00:00Z",
        "displayTime": "2026-03-10T05:00:00-07:00",
        "alertName": "urgentLow",
        "alertState": "activeAlarming",
        "displayDevice": "iOS",
        "transmitterGeneration": "g7",
        "transmitterId": TX,
        "displayApp": "G7",
    }
    datum = one("alert", record)
    assert (datum["type"], datum["name"], datum["issuedTime"]) == ("alert", "urgentLow", datum["time"])
    assert datum["payload"]["alertState"] == "activeAlarming"
    assert datum["deviceId"] == f"DexcomG7_{TX}"
    unknown = map_records("alert", [{**record, "alertName": "signalLoss", "alertState": "acknowledged"}])
    assert len(unknown.datums) == 1
    assert {p.field for p in unknown.problems} == {"alertName", "alertState"}
    assert map_records("alert", [{**record, "alertName": ""}]).skipped == 1


def device_record(**changes: Any) -> dict[str, Any]:
    def setting(name: str, value: float, unit: str, snooze: int = 30) -> dict[str, Any]:
        return {"alertName": name, "value": value, "unit": unit, "snooze": snooze, "enabled": True}

    record: dict[str, Any] = {
        "lastUploadDate": "2026-03-10T12:00:00Z",
        "transmitterId": TX,
        "transmitterGeneration": "g6",
        "displayDevice": "iOS",
        "displayApp": "G6",
        "alertSchedules": [
            {
                "alertScheduleSettings": {
                    "alertScheduleName": "",
                    "isEnabled": True,
                    "isDefaultSchedule": True,
                    "startTime": "00:00",
                    "endTime": "00:00",
                    "daysOfWeek": ["monday", "sunday"],
                },
                "alertSettings": [
                    setting("high", 250, "mg/dL", 120),
                    setting("low", 70, "mg/dL"),
                    setting("urgentLow", 55, "mg/dL"),
                    setting("urgentLowSoon", 55, "mg/dL"),
                    setting("rise", 3, "mg/dL/min", 0),
                    setting("fall", 3, "mg/dL/min", 0),
                    setting("noReadings", 20, "minutes", 0),
                    setting("outOfRange", 20, "minutes", 0),
                    setting("sensorExpiry", 6, "hours", 0),
                ],
            },
            {
                "alertScheduleSettings": {
                    "alertScheduleName": "Night",
                    "isEnabled": True,
                    "isDefaultSchedule": False,
                    "startTime": "22:00",
                    "endTime": "07:00",
                    "daysOfWeek": ["monday"],
                },
                "alertSettings": [setting("high", 300, "mg/dL", 180), setting("fixedLow", 55, "mg/dL")],
            },
        ],
    }
    record.update(changes)
    return record


def test_device_maps_to_cgm_settings() -> None:
    result = map_records("device", [device_record()])
    assert len(result.datums) == 1
    assert parse_data(result.datums).ok
    datum = result.datums[0]
    assert datum["type"] == "cgmSettings"
    assert datum["time"] == "2026-03-10T12:00:00.000Z"
    assert datum["deviceId"] == f"DexcomG6_{TX}"
    assert datum["transmitterId"] == TX
    assert datum["origin"]["type"] == "service"
    assert datum["origin"]["id"].startswith(TX)
    default, night = datum["scheduledAlerts"]
    assert (default["start"], default["end"], default["days"]) == (0, 86_400_000, ["sunday", "monday"])
    assert (night["name"], night["start"], night["end"]) == ("Night", 22 * 3_600_000, 31 * 3_600_000)
    assert set(default["alerts"]) == {
        "enabled",
        "high",
        "low",
        "urgentLow",
        "urgentLowPredicted",
        "rise",
        "fall",
        "noData",
        "outOfRange",
    }
    assert default["alerts"]["high"] == {
        "enabled": True,
        "level": 250,
        "units": "mg/dL",
        "snooze": {"duration": 120, "units": "minutes"},
    }
    assert night["alerts"]["urgentLow"]["level"] == 55
    assert datum["defaultAlerts"] == default["alerts"]
    # the unknown sensorExpiry setting is dropped and reported
    assert [(p.field, p.reason, p.skipped) for p in result.problems] == [
        ("alertSchedules/0/alertSettings", "unknown alertName 'sensorExpiry'", False)
    ]


def test_device_without_an_upload_date_is_skipped() -> None:
    result = map_records("device", [device_record(lastUploadDate=None)])
    assert result.datums == []
    assert result.skipped == 1


# ---- garbage never raises ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("record", [{}, None, [], "x", {"recordId": 5}, {"recordId": "r", "systemTime": 7}])
def test_garbage_is_skipped_not_raised(kind: str, record: Any) -> None:
    result = map_records(kind, [record])
    assert result.datums == []
    assert result.skipped == 1


# ---- every simulated record ----------------------------------------------------------------------


@cache
def simulated(unknown: bool) -> dict[tuple[str, str], tuple[int, MappingResult]]:
    config = default_dexcom_config(1, clock=FrozenClock(T0), admin_token="x")
    config = replace(config, accounts=tuple(replace(a, history_start=START) for a in config.accounts))
    simulator = DexcomSimulator(config)
    if unknown:
        simulator.faults.update(FaultUpdate(unknown_enums=True))
    out = {}
    for username in simulator.users:
        for kind, select in (
            ("egv", simulator.egvs),
            ("calibration", simulator.calibrations),
            ("event", simulator.events),
            ("alert", simulator.alerts),
            ("device", simulator.devices),
        ):
            records = select(username, START.timestamp(), T0.timestamp())
            out[username, kind] = (len(records), map_records(kind, records))
    return out


def test_every_simulated_record_maps_to_valid_datums() -> None:
    seen: set[str] = set()
    for (username, kind), (count, result) in simulated(False).items():
        assert result.problems == [], (username, kind, result.problems[:3])
        assert len(result.datums) + len(result.deleted) == count
        assert parse_data(result.datums).ok
        origin_ids = [d["origin"]["id"] for d in result.datums]
        assert len(origin_ids) == len(set(origin_ids))
        seen.update(d["type"] for d in result.datums)
    assert seen == {
        "cbg",
        "deviceEvent",
        "food",
        "insulin",
        "physicalActivity",
        "reportedState",
        "smbg",
        "alert",
        "cgmSettings",
    }
    assert sum(len(r.deleted) for _, r in simulated(False).values()) > 0
    assert any(d.get("annotations") for _, r in simulated(False).values() for d in r.datums)


def test_simulated_unknown_enums_are_skipped_or_reported_without_exceptions() -> None:
    problems = 0
    for (username, kind), (count, result) in simulated(True).items():
        assert parse_data(result.datums).ok, (username, kind)
        skipped = result.skipped
        assert len(result.datums) + len(result.deleted) + skipped == count
        for problem in result.problems:
            assert problem.kind == kind
            assert problem.reason
        problems += len(result.problems)
    assert problems > 100
    reported = {(p.kind, p.field) for _, r in simulated(True).values() for p in r.problems}
    assert {("egv", "trend"), ("egv", "status"), ("event", "eventType"), ("event", "eventStatus")} <= reported

"""The Dexcom v3 data API: envelope, the strict 30-day window, upload delay and growth, dataRange,
record shapes, the per-app rate limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from inlet.simulator import BackgroundSimulator, FrozenClock
from inlet.simulator.dexcom import DexcomSimulator

from .conftest import ADMIN_HEADERS, HISTORY_START, T0, bearer, connect, window

Http = Callable[[BackgroundSimulator], httpx.Client]
KINDS = {
    "egvs": "egv",
    "calibrations": "calibration",
    "events": "event",
    "alerts": "alert",
    "devices": "device",
}
HEX64 = re.compile(r"^[0-9a-f]{64}$")
EGV_FIELDS = {
    "recordId", "systemTime", "displayTime", "transmitterId", "transmitterTicks", "value", "status",
    "trend", "trendRate", "unit", "rateUnit", "displayDevice", "transmitterGeneration",
}  # fmt: skip
TRENDS = {
    "none", "unknown", "doubleUp", "singleUp", "fortyFiveUp", "flat", "fortyFiveDown", "singleDown",
    "doubleDown", "notComputable", "rateOutOfRange",
}  # fmt: skip
DEVICE_FIELDS = {
    "lastUploadDate",
    "transmitterId",
    "transmitterGeneration",
    "displayDevice",
    "displayApp",
    "alertSchedules",
}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def tokens(shared_dexcom: BackgroundSimulator) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=shared_dexcom.url) as client:
        return {name: connect(client, name) for name in ("SandboxUser1", "SandboxUser2", "SandboxUser7")}


def get(server: BackgroundSimulator, path: str, token: dict[str, Any], **params: str) -> httpx.Response:
    with httpx.Client(base_url=server.url) as client:
        return client.get(path, params=params, headers=bearer(token))


def parse_system(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_type_answers_in_the_v3_envelope(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]], kind: str
) -> None:
    response = get(
        shared_dexcom, f"/v3/users/self/{kind}", tokens["SandboxUser1"], **window(HISTORY_START, T0)
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"recordType", "recordVersion", "userId", "records"}
    assert body["recordType"] == KINDS[kind]
    assert body["recordVersion"] == "3.0"
    assert UUID.match(body["userId"])
    assert body["records"], f"16 days of {kind} should not be empty"


def test_a_window_of_30_days_is_fine_and_one_second_more_is_refused(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    token = tokens["SandboxUser1"]
    ok = get(shared_dexcom, "/v3/users/self/egvs", token, **window(T0 - timedelta(days=30), T0))
    assert ok.status_code == 200
    too_long = get(
        shared_dexcom, "/v3/users/self/egvs", token, **window(T0 - timedelta(days=30, seconds=1), T0)
    )
    assert too_long.status_code == 400
    assert "30 days" in too_long.json()["message"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"startDate": "2026-03-19T00:00:00"},
        {"startDate": "2026-03-19T00:00:00Z", "endDate": "2026-03-20T00:00:00Z"},
        {"startDate": "2026-03-19T00:00:00+01:00", "endDate": "2026-03-20T00:00:00"},
        {"startDate": "2026-03-19", "endDate": "2026-03-20"},
        {"startDate": "2026-03-19T00:00", "endDate": "2026-03-20T00:00"},
        {"startDate": "2026-02-30T00:00:00", "endDate": "2026-03-20T00:00:00"},
        {"startDate": "2026-03-20T00:00:00", "endDate": "2026-03-19T00:00:00"},
    ],
)
def test_dates_must_be_utc_without_offset_and_in_order(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]], params: dict[str, str]
) -> None:
    response = get(shared_dexcom, "/v3/users/self/egvs", tokens["SandboxUser1"], **params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_records_are_newest_first_and_inside_the_window_inclusive(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    records = get(
        shared_dexcom, "/v3/users/self/egvs", tokens["SandboxUser1"], **window(T0 - timedelta(days=2), T0)
    ).json()["records"]
    times = [parse_system(r["systemTime"]) for r in records]
    assert times == sorted(times, reverse=True)
    first = times[-1]
    exact = get(
        shared_dexcom,
        "/v3/users/self/egvs",
        tokens["SandboxUser1"],
        **window(first, first + timedelta(minutes=10)),
    )
    assert parse_system(exact.json()["records"][-1]["systemTime"]) == first


def test_records_appear_about_an_hour_after_their_time(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    records = get(
        shared_dexcom, "/v3/users/self/egvs", tokens["SandboxUser2"], **window(T0 - timedelta(hours=6), T0)
    ).json()["records"]
    newest = parse_system(records[0]["systemTime"])
    assert T0 - timedelta(hours=1, minutes=5) <= newest <= T0 - timedelta(hours=1)


def test_the_data_grows_as_simulated_time_passes(
    dexcom: BackgroundSimulator, http: Http, clock: FrozenClock
) -> None:
    client = http(dexcom)
    tokens = connect(client, "SandboxUser2")
    params = window(T0 - timedelta(hours=6), T0 + timedelta(hours=6))
    before = client.get("/v3/users/self/egvs", params=params, headers=bearer(tokens)).json()["records"]
    clock.advance(timedelta(minutes=100))  # less than the token's two hours
    after = client.get("/v3/users/self/egvs", params=params, headers=bearer(tokens)).json()["records"]
    assert len(after) >= len(before) + 18
    assert after[len(after) - len(before) :] == before, "what was there stays exactly as it was"


def test_the_admin_clock_moves_time_too(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    tokens = connect(client, "SandboxUser2")
    params = window(T0 - timedelta(hours=6), T0 + timedelta(hours=6))
    before = len(client.get("/v3/users/self/egvs", params=params, headers=bearer(tokens)).json()["records"])
    moved = client.post("/admin/clock", json={"advanceSeconds": 3600}, headers=ADMIN_HEADERS).json()
    assert moved["now"] == "2026-03-20T13:00:00Z"
    assert moved["offsetSeconds"] == 3600
    after = len(client.get("/v3/users/self/egvs", params=params, headers=bearer(tokens)).json()["records"])
    assert after > before
    assert client.post("/admin/clock", json={"now": "2026-03-21T00:00:00Z"}, headers=ADMIN_HEADERS).json()[
        "now"
    ] == ("2026-03-21T00:00:00Z")


def test_data_range_spans_the_visible_history(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    body = get(shared_dexcom, "/v3/users/self/dataRange", tokens["SandboxUser1"]).json()
    assert body["recordType"] == "dataRange"
    assert body["recordVersion"] == "3.0"
    assert set(body) >= {"userId", "egvs", "events", "calibrations"}
    egvs = body["egvs"]
    assert HISTORY_START <= parse_system(egvs["start"]["systemTime"]) < HISTORY_START + timedelta(days=1)
    assert (
        T0 - timedelta(hours=1, minutes=5)
        <= parse_system(egvs["end"]["systemTime"])
        <= T0 - timedelta(hours=1)
    )
    assert set(egvs["start"]) == {"systemTime", "displayTime"}


def test_data_range_with_last_sync_time_covers_only_newer_uploads(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    token = tokens["SandboxUser1"]
    since = T0 - timedelta(hours=3)
    body = get(shared_dexcom, "/v3/users/self/dataRange", token, lastSyncTime=since.isoformat()).json()
    start = parse_system(body["egvs"]["start"]["systemTime"])
    assert since - timedelta(hours=1, minutes=5) <= start <= since - timedelta(hours=1) + timedelta(minutes=5)
    nothing = get(shared_dexcom, "/v3/users/self/dataRange", token, lastSyncTime=T0.isoformat()).json()
    assert "egvs" not in nothing
    assert get(shared_dexcom, "/v3/users/self/dataRange", token, lastSyncTime="yesterday").status_code == 400


def test_egv_records_have_the_v3_shape(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    for name, generation in (("SandboxUser1", "g6"), ("SandboxUser7", "g7")):
        records = get(
            shared_dexcom, "/v3/users/self/egvs", tokens[name], **window(T0 - timedelta(days=1), T0)
        ).json()["records"]
        for record in records:
            assert set(record) == EGV_FIELDS
            assert UUID.match(record["recordId"])
            assert HEX64.match(record["transmitterId"])
            assert record["transmitterGeneration"] == generation
            assert record["unit"] == "mg/dL"
            assert record["rateUnit"] == "mg/dL/min"
            assert record["status"] in {"ok", "high", "low"}
            assert record["trend"] in TRENDS
            if record["status"] == "ok":
                assert 40 <= record["value"] <= 400
            assert record["transmitterTicks"] >= 0


def test_times_follow_the_display_device(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    receiver = get(
        shared_dexcom, "/v3/users/self/egvs", tokens["SandboxUser1"], **window(T0 - timedelta(hours=3), T0)
    ).json()
    phone = get(
        shared_dexcom, "/v3/users/self/egvs", tokens["SandboxUser2"], **window(T0 - timedelta(hours=3), T0)
    ).json()
    naive = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
    for record in receiver["records"]:
        assert record["displayDevice"] == "receiver"
        assert naive.match(record["systemTime"])
        assert naive.match(record["displayTime"])
    for record in phone["records"]:
        assert record["displayDevice"] == "iOS"
        assert record["systemTime"].endswith("Z")
        assert record["displayTime"].endswith("-05:00")  # Chicago, daylight time in March


def test_events_calibrations_alerts_and_devices_have_their_fields(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    token = tokens["SandboxUser2"]
    span = window(HISTORY_START, T0)
    events = get(shared_dexcom, "/v3/users/self/events", token, **span).json()["records"]
    assert {e["eventType"] for e in events} >= {"carbs", "insulin", "exercise", "health", "bloodGlucose"}
    assert {e["eventSubType"] for e in events if e["eventType"] == "insulin"} == {"fastActing", "longActing"}
    assert {e["eventSubType"] for e in events if e["eventType"] == "exercise"} <= {"light", "medium", "heavy"}
    assert all(isinstance(e["value"], str) for e in events)
    assert {e["unit"] for e in events if e["eventType"] == "carbs"} == {"grams"}
    assert {e["eventStatus"] for e in events} == {"created", "updated", "deleted"}
    calibrations = get(shared_dexcom, "/v3/users/self/calibrations", token, **span).json()["records"]
    assert all(c["unit"] == "mg/dL" and 40 <= c["value"] <= 400 for c in calibrations)
    alerts = get(shared_dexcom, "/v3/users/self/alerts", token, **span).json()["records"]
    assert {a["alertName"] for a in alerts} >= {"high", "low", "urgentLow", "fall"}
    assert {a["alertState"] for a in alerts} <= {"activeAlarming", "activeSnoozed", "inactive"}
    devices = get(shared_dexcom, "/v3/users/self/devices", token, **span).json()["records"]
    for device in devices:
        assert set(device) == DEVICE_FIELDS
        default, night = device["alertSchedules"]
        assert default["alertScheduleSettings"]["isDefaultSchedule"] is True
        assert night["alertScheduleSettings"]["alertScheduleName"] == "Night"
        names = {setting["alertName"] for setting in default["alertSettings"]}
        assert names >= {"high", "low", "urgentLow", "rise", "fall", "noReadings"}


def test_the_alert_settings_change_once_in_the_history(
    shared_dexcom: BackgroundSimulator, tokens: dict[str, dict[str, Any]]
) -> None:
    token = tokens["SandboxUser1"]
    highs = set()
    for day in range(0, 16, 3):
        start = HISTORY_START + timedelta(days=day)
        for device in get(
            shared_dexcom, "/v3/users/self/devices", token, **window(start, start + timedelta(days=1))
        ).json()["records"]:
            high = next(s for s in device["alertSchedules"][0]["alertSettings"] if s["alertName"] == "high")
            highs.add(high["value"])
    assert highs == {250, 220}


def test_an_edited_event_keeps_its_record_id(
    dexcom: BackgroundSimulator, http: Http, clock: FrozenClock
) -> None:
    client = http(dexcom)
    token = connect(client, "SandboxUser2")
    span = window(HISTORY_START, T0)
    updated = [
        e
        for e in client.get("/v3/users/self/events", params=span, headers=bearer(token)).json()["records"]
        if e["eventStatus"] == "updated"
    ]
    assert updated
    ids = {e["recordId"] for e in updated}
    simulator = dexcom.simulator
    assert isinstance(simulator, DexcomSimulator)
    old = [
        e
        for e in simulator.events(
            "SandboxUser2", HISTORY_START.timestamp(), T0.timestamp(), now=HISTORY_START.timestamp() + 1
        )
        if e["recordId"] in ids
    ]
    assert old == []  # nothing was visible yet at the start
    # Just after each one was created (an hour after its time), it was still "created", with another value.
    some = updated[0]
    created_at = parse_system(some["systemTime"]) + timedelta(hours=1, seconds=30)
    then = simulator.events(
        "SandboxUser2", HISTORY_START.timestamp(), T0.timestamp(), now=created_at.timestamp()
    )
    before = next(e for e in then if e["recordId"] == some["recordId"])
    assert before["eventStatus"] == "created"
    assert before["value"] != some["value"]


def test_the_rate_limit_is_per_app_and_per_hour(
    make_dexcom: Callable[..., BackgroundSimulator], http: Http, clock: FrozenClock
) -> None:
    from inlet.simulator import DEFAULT_CLIENT, OAuthClient

    other = OAuthClient("other-app", "other-secret", DEFAULT_CLIENT.redirect_uris)
    server = make_dexcom(requests_per_hour=3, clients=(DEFAULT_CLIENT, other))
    client = http(server)
    token = connect(client)
    params = window(T0 - timedelta(hours=2), T0)
    for _ in range(3):
        assert client.get("/v3/users/self/egvs", params=params, headers=bearer(token)).status_code == 200
    limited = client.get("/v3/users/self/egvs", params=params, headers=bearer(token))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) == 3600 - (T0.minute * 60)  # T0 is on the hour: a whole hour
    usage = client.get("/admin/usage", headers=ADMIN_HEADERS).json()
    assert usage == {"requestsPerHour": 3, "thisHour": {"inlet": 4}}
    clock.advance(timedelta(seconds=int(limited.headers["retry-after"])))
    assert client.get("/v3/users/self/egvs", params=params, headers=bearer(token)).status_code == 200

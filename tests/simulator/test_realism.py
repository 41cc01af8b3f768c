"""Realism, measured: time in range, variability, Highs and Lows, meals, warm-ups, time zones.

The default accounts are served with 30 days of history (clock at T0) and read over HTTP like a client
would; the statistics are computed here with a small helper, from the egv records alone.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from inlet.simulator import (
    BackgroundSimulator,
    FrozenClock,
    create_dexcom_app,
    default_dexcom_config,
    start_simulator,
)

from .conftest import T0, bearer, connect, window

START = T0 - timedelta(days=30)
ACCOUNTS = ("SandboxUser1", "SandboxUser2", "SandboxUser7")
FORTNIGHTS = [(START, START + timedelta(days=14)), (START + timedelta(days=14), START + timedelta(days=28))]


def serve(seed: int) -> BackgroundSimulator:
    config = default_dexcom_config(seed, clock=FrozenClock(T0))
    accounts = tuple(replace(a, history_start=START) for a in config.accounts)
    return start_simulator(create_dexcom_app(replace(config, accounts=accounts)))


@pytest.fixture(scope="module")
def records() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every account's egvs, events, calibrations, alerts and devices over the 30 days, newest first."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with serve(1) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        for name in ACCOUNTS:
            token = connect(client, name)
            found[name] = {
                kind: client.get(
                    f"/v3/users/self/{kind}", params=window(START, T0), headers=bearer(token)
                ).json()["records"]
                for kind in ("egvs", "events", "calibrations", "alerts", "devices")
            }
    return found


def system_time(record: dict[str, Any]) -> datetime:
    text = record["systemTime"].removesuffix("Z")
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def display_offset_minutes(record: dict[str, Any]) -> int:
    """displayTime - systemTime, rounded to 30 minutes (Tidepool's rule for the zone part)."""
    shown = datetime.fromisoformat(record["displayTime"])
    if shown.tzinfo is not None:
        offset = shown.utcoffset()
        assert offset is not None
        return int(offset.total_seconds() // 60)
    delta = (shown.replace(tzinfo=UTC) - system_time(record)).total_seconds() / 60
    return int(round(delta / 30) * 30)


def glucose(record: dict[str, Any]) -> int:
    """A reading in mg/dL, Highs as 401 and Lows as 39 (how Tidepool stores them)."""
    if record["status"] == "high":
        return 401
    if record["status"] == "low":
        return 39
    value: int = record["value"]
    return value


def stats(egvs: list[dict[str, Any]]) -> tuple[float, float]:
    """(time in range 70-180 mg/dL in %, coefficient of variation in %)."""
    values = [glucose(r) for r in egvs]
    in_range = 100 * sum(70 <= v <= 180 for v in values) / len(values)
    cv = 100 * statistics.stdev(values) / statistics.mean(values)
    return in_range, cv


def between(items: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    return [r for r in items if start <= system_time(r) < end]


@pytest.mark.parametrize("name", ACCOUNTS)
@pytest.mark.parametrize("fortnight", [0, 1])
def test_time_in_range_and_variability_look_like_type_1_diabetes(
    records: dict[str, dict[str, list[dict[str, Any]]]], name: str, fortnight: int
) -> None:
    egvs = between(records[name]["egvs"], *FORTNIGHTS[fortnight])
    assert len(egvs) > 14 * 288 * 0.85, "about 85 % or more of the readings are there (warm-ups, gaps)"
    in_range, cv = stats(egvs)
    assert 55 <= in_range <= 80
    assert 25 <= cv <= 40


@pytest.mark.parametrize("name", ACCOUNTS)
def test_every_week_has_a_high_and_a_low_reading(
    records: dict[str, dict[str, list[dict[str, Any]]]], name: str
) -> None:
    for week in range(4):
        start = START + timedelta(days=7 * week)
        egvs = between(records[name]["egvs"], start, start + timedelta(days=7))
        statuses = {r["status"] for r in egvs}
        assert {"high", "low"} <= statuses, f"week {week}"
    generation = records[name]["egvs"][0]["transmitterGeneration"]
    out_of_range = [r for r in records[name]["egvs"] if r["status"] != "ok"]
    values = {r["value"] for r in out_of_range}
    assert values <= ({39, 401} if generation == "g6" else {None})


@pytest.mark.parametrize("name", ACCOUNTS)
def test_three_meals_a_day_with_carbs_and_insulin(
    records: dict[str, dict[str, list[dict[str, Any]]]], name: str
) -> None:
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in records[name]["events"]:
        if event["eventStatus"] == "deleted":
            continue
        day = event["displayTime"][:10]
        if event["eventType"] == "carbs" and float(event["value"]) >= 25:
            per_day[day]["meals"] += 1
        if event["eventType"] == "insulin":
            per_day[day]["insulin"] += 1
            per_day[day][event["eventSubType"]] += 1
    days = sorted(per_day)[1:-1]  # whole days only
    assert len(days) >= 27
    for day in days:
        assert per_day[day]["meals"] >= 3, day
        assert per_day[day]["insulin"] >= 3, day
    assert sum(per_day[day]["fastActing"] for day in days) >= 3 * len(days)
    assert sum(per_day[day]["longActing"] for day in days) >= len(days) * 0.9


@pytest.mark.parametrize("name", ACCOUNTS)
def test_sensor_changes_leave_warm_up_gaps(
    records: dict[str, dict[str, list[dict[str, Any]]]], name: str
) -> None:
    egvs = list(reversed(records[name]["egvs"]))
    gaps = [
        (before, after)
        for before, after in itertools.pairwise(egvs)
        if system_time(after) - system_time(before) >= timedelta(hours=2)
    ]
    assert 2 <= len(gaps) <= 4, "a sensor lasts 10 (G6) or 10.5 (G7) days"
    for before, after in gaps:
        if before["transmitterGeneration"] == "g7":
            assert before["transmitterId"] != after["transmitterId"], "a G7 sensor has its own transmitter"
        assert after["trend"] == "notComputable", "no trend in the first readings of a sensor"


def test_transmitter_ids_are_64_hex_hashes(records: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    for name in ACCOUNTS:
        ids = {r["transmitterId"] for r in records[name]["egvs"]}
        assert all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids)
    assert (
        len({r["transmitterId"] for r in records["SandboxUser1"]["egvs"]}) <= 2
    )  # a G6 transmitter lasts 90 days
    assert len({r["transmitterId"] for r in records["SandboxUser7"]["egvs"]}) >= 3


@pytest.mark.parametrize(
    ("name", "home", "daylight", "trip"),
    [
        ("SandboxUser1", -480, -420, {-300, -240}),  # Los Angeles; New York
        ("SandboxUser2", -360, -300, {0}),  # Chicago; London (GMT until 29 March)
    ],
)
def test_display_times_show_the_dst_change_and_the_trip(
    records: dict[str, dict[str, list[dict[str, Any]]]], name: str, home: int, daylight: int, trip: set[int]
) -> None:
    offsets = [(system_time(r), display_offset_minutes(r)) for r in reversed(records[name]["egvs"])]
    seen = {offset for _, offset in offsets}
    assert {home, daylight} <= seen
    assert seen & trip
    change = datetime(2026, 3, 8, 10, tzinfo=UTC)  # 2 am Pacific, 8 March 2026
    assert all(offset != daylight for t, offset in offsets if t < change - timedelta(hours=2))
    assert offsets[-1][1] == daylight


def test_a_receivers_clock_is_a_little_off(records: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    record = records["SandboxUser1"]["egvs"][0]
    delta = datetime.fromisoformat(record["displayTime"]).replace(tzinfo=UTC) - system_time(record)
    drift = delta.total_seconds() % 1800
    assert drift != 0, "a receiver set by hand is seconds off the zone offset"


def test_some_events_have_times_without_seconds(records: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    for name in ACCOUNTS:
        events = records[name]["events"]
        short = [e for e in events if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ?", e["systemTime"])]
        assert 0.15 * len(events) < len(short) < 0.6 * len(events)


def test_events_are_varied_and_some_were_edited(records: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    for name in ACCOUNTS:
        events = records[name]["events"]
        kinds = {(e["eventType"], e["eventSubType"]) for e in events}
        assert {
            ("carbs", None),
            ("insulin", "fastActing"),
            ("insulin", "longActing"),
            ("bloodGlucose", None),
        } <= kinds
        assert {e["eventType"] for e in events} >= {"exercise", "health"}
        statuses = [e["eventStatus"] for e in events]
        assert statuses.count("updated") >= 1
        assert statuses.count("deleted") >= 1
        assert statuses.count("created") > 0.85 * len(statuses)


def test_calibrations_alerts_and_devices_accompany_the_readings(
    records: dict[str, dict[str, list[dict[str, Any]]]],
) -> None:
    for name in ("SandboxUser1", "SandboxUser2"):
        assert len(records[name]["calibrations"]) >= 3, "G6 users calibrate now and then"
    for name in ACCOUNTS:
        alerts = records[name]["alerts"]
        assert 30 <= len(alerts) <= 400
        assert {a["alertName"] for a in alerts} >= {"high", "low", "urgentLow"}
        assert records[name]["devices"]
        for device in records[name]["devices"]:
            assert device["alertSchedules"][0]["alertSettings"]


@pytest.mark.parametrize("seed", [2, 3])
def test_other_seeds_are_realistic_too(seed: int) -> None:
    with serve(seed) as server:
        simulator = server.simulator
        for name in ACCOUNTS:
            start, end = FORTNIGHTS[0]
            egvs = simulator.egvs(name, start.timestamp(), end.timestamp() - 1)  # type: ignore[attr-defined]
            in_range, cv = stats(egvs)
            assert 55 <= in_range <= 80, (name, in_range)
            assert 25 <= cv <= 40, (name, cv)

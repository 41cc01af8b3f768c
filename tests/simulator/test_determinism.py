"""Same seed, same records; another seed, other records; and nothing depends on when or how it is asked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from inlet.simulator import FrozenClock, create_acme_app, create_dexcom_app, start_simulator
from inlet.simulator.cgm import CgmTimeline

from .conftest import HISTORY_START, T0, acme_config, acme_connect, bearer, connect, dexcom_config, window

KINDS = ("egvs", "events", "calibrations", "alerts", "devices")


def dexcom_records(seed: int) -> dict[str, Any]:
    """Every record of every account over the whole history, from a fresh simulator over HTTP."""
    CgmTimeline.clear_cache()  # really build again, do not share the last run's timelines
    found: dict[str, Any] = {}
    with (
        start_simulator(create_dexcom_app(dexcom_config(FrozenClock(T0), seed))) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for name in ("SandboxUser1", "SandboxUser7"):  # a G6 and a G7
            token = connect(client, name)
            for kind in KINDS:
                response = client.get(
                    f"/v3/users/self/{kind}", params=window(HISTORY_START, T0), headers=bearer(token)
                )
                found[f"{name}/{kind}"] = response.json()
    return found


@pytest.fixture(scope="module")
def seed_one() -> dict[str, Any]:
    return dexcom_records(1)


def test_the_same_seed_gives_identical_records(seed_one: dict[str, Any]) -> None:
    assert dexcom_records(1) == seed_one
    assert sum(len(body["records"]) for body in seed_one.values()) > 2 * 15 * 288


def test_another_seed_gives_other_records(seed_one: dict[str, Any]) -> None:
    other = dexcom_records(2)
    for key, body in seed_one.items():
        if body["records"] or other[key]["records"]:  # a G7 may go weeks without a calibration
            assert body["records"] != other[key]["records"], key


def test_records_do_not_depend_on_the_order_or_window_of_queries() -> None:
    CgmTimeline.clear_cache()
    simulator = create_dexcom_app(dexcom_config(FrozenClock(T0))).state.simulator
    start, end = HISTORY_START.timestamp(), T0.timestamp()
    late = simulator.egvs("SandboxUser2", end - 86_400, end)  # builds the whole history at once
    CgmTimeline.clear_cache()
    fresh = create_dexcom_app(dexcom_config(FrozenClock(T0))).state.simulator
    pieces: list[dict[str, Any]] = []
    for day in range(16):  # builds it a day at a time
        pieces = fresh.egvs("SandboxUser2", start + day * 86_400, start + (day + 1) * 86_400) + pieces
    assert [r for r in pieces if r["systemTime"] >= late[-1]["systemTime"]] == late


def test_acme_is_deterministic_too() -> None:
    bodies = []
    for seed in (1, 1, 2):
        with (
            start_simulator(create_acme_app(acme_config(FrozenClock(T0), seed))) as server,
            httpx.Client(base_url=server.url) as client,
        ):
            token = acme_connect(client)
            device = client.get("/api/v1/devices", headers=bearer(token)).json()["data"][0]
            params = {"start": (T0 - timedelta(days=7)).isoformat(), "end": T0.isoformat(), "limit": "1000"}
            basals = client.get(
                f"/api/v1/devices/{device['deviceId']}/basals", params=params, headers=bearer(token)
            )
            boluses = client.get(
                f"/api/v1/devices/{device['deviceId']}/boluses", params=params, headers=bearer(token)
            )
            bodies.append((device, basals.json(), boluses.json()))
    assert bodies[0] == bodies[1]
    assert bodies[0][0]["deviceSerialNumber"] != bodies[2][0]["deviceSerialNumber"]
    assert bodies[0][2] != bodies[2][2]

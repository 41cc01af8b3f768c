"""Real Nightscout clients against a live Inlet server (uvicorn on loopback), on both databases:
``py-nightscout`` (PyPI) reads a site; ``nightscout-connect`` (npm) copies a cloud into one."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from py_nightscout import Api

from tests.live import LiveServer, start_live_server
from tests.nightscout.fake_librelinkup import FakeLibreLinkUp
from tests.nightscout.test_api_v1 import MIN, NOW_MS, iso, xdrip_entry


@pytest.fixture
def live(tmp_path: Path, db_url: str) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path, db_url)
    try:
        yield server
    finally:
        server.stop()


def open_site(base: str, email: str) -> tuple[str, str]:
    """Sign up and enable a site: (site URL, API secret)."""
    with httpx.Client(base_url=base) as http:
        made = http.post("/auth/user", json={"username": email, "password": "correct-horse"})
        assert made.status_code == 201, made.text
        token = made.headers["x-tidepool-session-token"]
        user_id = made.json()["userid"]
        site = http.put(f"/v1/users/{user_id}/nightscout", headers={"x-tidepool-session-token": token}).json()
    return site["siteUrl"], site["apiSecret"]


def test_py_nightscout_reads_a_site(live: LiveServer) -> None:
    site_url, secret = open_site(live.url, "reader@example.com")
    headers = {"api-secret": hashlib.sha1(secret.encode()).hexdigest()}
    entries = [xdrip_entry(NOW_MS - i * 5 * MIN, 100 + i) for i in range(3)]
    entries.append(
        {
            "type": "sgv",
            "sgv": 90,
            "date": NOW_MS - 20 * MIN,
            "device": "loop://iPhone",
            "direction": "NotComputable",
            "dateString": iso(NOW_MS - 20 * MIN, -300),
        }
    )
    treatments = [
        {
            "eventType": "Meal Bolus",
            "created_at": iso(NOW_MS - 30 * MIN),
            "insulin": 3,
            "carbs": 30,
            "enteredBy": "xdrip",
        },
        {
            "eventType": "Temp Basal",
            "created_at": iso(NOW_MS - 25 * MIN),
            "absolute": 1.1,
            "duration": 30,
            "enteredBy": "loop://iPhone",
        },
        {
            "eventType": "Note",
            "created_at": iso(NOW_MS - 24 * MIN),
            "notes": "run",
            "enteredBy": "careportal",
        },
    ]
    profile = {
        "defaultProfile": "Default",
        "startDate": iso(NOW_MS - 60 * MIN),
        "created_at": iso(NOW_MS - 60 * MIN),
        "store": {
            "Default": {
                "dia": "4",
                "carbratio": [{"time": "00:00", "value": "10", "timeAsSeconds": "0"}],
                "sens": [{"time": "00:00", "value": "45", "timeAsSeconds": "0"}],
                "basal": [{"time": "00:00", "value": "0.8", "timeAsSeconds": "0"}],
                "target_low": [{"time": "00:00", "value": "90", "timeAsSeconds": "0"}],
                "target_high": [{"time": "00:00", "value": "120", "timeAsSeconds": "0"}],
                "timezone": "UTC",
                "units": "mg/dl",
            }
        },
    }
    status = {"device": "loop://iPhone", "created_at": iso(NOW_MS), "loop": {"iob": {"iob": 1.5}}}
    with httpx.Client(base_url=site_url, headers=headers) as http:
        for path, body in (
            ("entries", entries),
            ("treatments", treatments),
            ("profile", profile),
            ("devicestatus", status),
        ):
            answer = http.post(f"api/v1/{path}.json", json=body)
            assert answer.status_code == 200, (path, answer.text)

    async def read() -> tuple[Any, ...]:
        api = Api(site_url, api_secret=secret)
        return (
            await api.get_sgvs(),
            await api.get_server_status(),
            await api.get_treatments(),
            await api.get_profiles(),
            await api.get_devices_status(),
        )

    sgvs, server_status, got_treatments, profiles, statuses = asyncio.run(read())
    assert [s.sgv for s in sgvs] == [100, 101, 102, 90]
    assert [s.direction for s in sgvs] == ["Flat", "Flat", "Flat", "NotComputable"]
    assert all(s.delta is not None for s in sgvs)
    assert server_status.status == "ok"
    assert sorted(t.eventType for t in got_treatments) == ["Meal Bolus", "Note", "Temp Basal"]
    meal = next(t for t in got_treatments if t.eventType == "Meal Bolus")
    assert (meal.insulin, meal.carbs) == (3, 30)
    active = profiles.get_profile_definition_active_at(profiles.profile_definitions[0].startDate)
    assert active.defaultProfile == "Default"
    assert active.get_default_profile().dia == 4.0
    assert [s.device for s in statuses] == ["loop://iPhone"]
    # a token works too (py-nightscout sends it as "api-secret: token=...")
    with httpx.Client(base_url=site_url, headers=headers) as http:
        made = http.post(
            "api/v2/authorization/subjects", json={"name": "viewer", "roles": ["readable"]}
        ).json()
    sgvs_by_token = asyncio.run(Api(site_url, api_secret=f"token={made['accessToken']}").get_sgvs())
    assert len(sgvs_by_token) == 4


CONNECT_DIR = Path(__file__).parent / "connect"
CONNECT_BIN = CONNECT_DIR / "node_modules" / ".bin" / "nightscout-connect"


def test_nightscout_connect_copies_librelinkup_into_a_site(live: LiveServer, tmp_path: Path) -> None:
    """nightscout-connect 0.0.12 (the real npm client, ``capture`` mode with a Nightscout output) reads
    a local HTTPS fake of LibreLinkUp and writes into an Inlet site: every reading arrives."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed: the nightscout-connect test needs them")
    if not CONNECT_BIN.exists():
        pytest.skip("nightscout-connect is not installed: run `make nightscout-connect` (needs npm)")
    site_url, secret = open_site(live.url, "connect@example.com")
    headers = {"api-secret": hashlib.sha1(secret.encode()).hexdigest()}
    # nightscout-connect only copies readings newer than the site's newest one (with an empty site it
    # copies nothing in 0.0.12): the site already holds one from an hour ago, as a real site would
    first = NOW_MS - 60 * MIN
    with httpx.Client(base_url=site_url, headers=headers) as http:
        seeded = {
            "type": "sgv",
            "sgv": 99,
            "date": first,
            "dateString": iso(first),
            "device": "xDrip-LibreReceiver",
        }
        assert http.post("api/v1/entries.json", json=[seeded]).status_code == 200
    readings = [(NOW_MS - (11 - i) * 5 * MIN, 110 + 3 * i, 3 + (i % 3) - 1) for i in range(10)]
    with FakeLibreLinkUp(tmp_path, readings) as cloud:
        env = {
            **os.environ,
            "TZ": "UTC",
            "NODE_EXTRA_CA_CERTS": str(cloud.cert_path),
            "CONNECT_SOURCE": "linkup",
            "CONNECT_LINK_UP_USERNAME": "someone@example.com",
            "CONNECT_LINK_UP_PASSWORD": "llu-password",
            "CONNECT_LINK_UP_SERVER": cloud.host,
            "CONNECT_NIGHTSCOUT_ENDPOINT": site_url,
            "CONNECT_API_SECRET": secret,
        }
        process = subprocess.Popen(
            [
                str(CONNECT_BIN),
                "capture",
                str(tmp_path / "har"),
                "--source",
                "linkup",
                "--output",
                "nightscout",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            got: list[dict[str, Any]] = []
            with httpx.Client(base_url=site_url, headers=headers) as http:
                while time.monotonic() < deadline:
                    got = http.get("api/v1/entries.json", params={"count": 100}).json()
                    if len(got) >= len(readings) + 1 or process.poll() is not None:
                        break
                    time.sleep(0.5)
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=20)
    log = output.decode(errors="replace")
    assert len(got) == len(readings) + 1, log[-4000:]
    copied = sorted(
        (e for e in got if e["device"] == "nightscout-connect-librelinkup"), key=lambda e: e["date"]
    )
    arrows = {2: "FortyFiveDown", 3: "Flat", 4: "FortyFiveUp"}
    assert [(e["date"], e["sgv"], e["direction"]) for e in copied] == [
        (ms, v, arrows[a]) for ms, v, a in readings
    ]
    assert all("delta" in e for e in copied)
    assert "POST /llu/auth/login" in cloud.calls

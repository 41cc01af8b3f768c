"""The ACME pump partner: PKCE-only OAuth on its own paths, devices, paged basals and boluses."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from inlet.simulator import BackgroundSimulator, FrozenClock

from .conftest import (
    ACME_REDIRECT,
    ADMIN_HEADERS,
    CLIENT_ID,
    CLIENT_SECRET,
    HISTORY_START,
    T0,
    acme_connect,
    bearer,
    consent,
    login_params,
    pkce_pair,
    redirect_query,
    refresh,
)

Http = Callable[[BackgroundSimulator], httpx.Client]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def span(start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {"start": iso(start), "end": iso(end), **extra}


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def token(shared_acme: BackgroundSimulator) -> dict[str, Any]:
    with httpx.Client(base_url=shared_acme.url) as client:
        return acme_connect(client)


@pytest.fixture(scope="module")
def device_id(shared_acme: BackgroundSimulator, token: dict[str, Any]) -> str:
    with httpx.Client(base_url=shared_acme.url) as client:
        device: str = client.get("/api/v1/devices", headers=bearer(token)).json()["data"][0]["deviceId"]
        return device


def fetch_all(
    server: BackgroundSimulator,
    token: dict[str, Any],
    path: str,
    start: datetime,
    end: datetime,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = None
    with httpx.Client(base_url=server.url) as client:
        while True:
            params = span(start, end, limit=limit, **({"cursor": cursor} if cursor else {}))
            body = client.get(path, params=params, headers=bearer(token)).json()
            records.extend(body["data"])
            cursor = body["meta"]["nextCursor"]
            if cursor is None:
                return records


def authorize_params(**extra: str) -> dict[str, str]:
    return login_params(ACME_REDIRECT, scope="pump:read offline_access", **extra)


def test_pkce_is_required(acme: BackgroundSimulator, http: Http) -> None:
    client = http(acme)
    missing = client.get("/oauth/authorize", params=authorize_params())
    query = redirect_query(missing)
    assert query["error"] == "invalid_request"
    assert query["state"] == "state-1"
    _, challenge = pkce_pair()
    plain = client.get(
        "/oauth/authorize", params=authorize_params(code_challenge=challenge, code_challenge_method="plain")
    )
    assert redirect_query(plain)["error"] == "invalid_request"
    no_method = client.get("/oauth/authorize", params=authorize_params(code_challenge=challenge))
    assert redirect_query(no_method)["error"] == "invalid_request"


def test_the_verifier_must_match_the_challenge(acme: BackgroundSimulator, http: Http) -> None:
    client = http(acme)
    _, challenge = pkce_pair()
    params = authorize_params(code_challenge=challenge, code_challenge_method="S256")
    code = redirect_query(consent(client, "acme-user-1", path="/oauth/authorize", params=params))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": ACME_REDIRECT}
    without = client.post("/oauth/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET))
    assert without.json()["error"] == "invalid_request"
    wrong_verifier, _ = pkce_pair()
    wrong = client.post(
        "/oauth/token", data={**form, "code_verifier": wrong_verifier}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert wrong.json()["error"] == "invalid_grant"


def test_the_whole_flow_with_basic_or_form_client_authentication(
    acme: BackgroundSimulator, http: Http
) -> None:
    client = http(acme)
    tokens = acme_connect(client)
    assert tokens["expires_in"] == 3600
    assert tokens["token_type"] == "Bearer"
    rotated = refresh(client, tokens["refresh_token"], "/oauth/token")  # client_secret_post
    assert rotated.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(rotated.json())).json()
    assert me["username"] == "acme-user-1"
    assert me["timezone"] == "America/Los_Angeles"
    assert me["devices"][0].startswith("ACMEPumpModel123-")
    revoked = client.post(
        "/oauth/revoke", data={"token": rotated.json()["access_token"]}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert revoked.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(rotated.json())).status_code == 401
    assert refresh(client, rotated.json()["refresh_token"], "/oauth/token").json()["error"] == "invalid_grant"


def test_deny_on_the_acme_consent_page(acme: BackgroundSimulator, http: Http) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(code_challenge=challenge, code_challenge_method="S256")
    page = http(acme).get("/oauth/authorize", params=params)
    assert "ACME" in page.text
    denied = consent(http(acme), "acme-user-1", "deny", "/oauth/authorize", params)
    assert redirect_query(denied)["error"] == "access_denied"


def test_the_device_record(shared_acme: BackgroundSimulator, token: dict[str, Any]) -> None:
    with httpx.Client(base_url=shared_acme.url) as client:
        device = client.get("/api/v1/devices", headers=bearer(token)).json()["data"][0]
    assert device["deviceModel"] == "ACMEPumpModel123"
    assert device["deviceManufacturer"] == "ACME"
    assert device["deviceName"] == "ACMEPumpCo ACMEPumpModel123"
    assert device["deviceId"] == f"ACMEPumpModel123-{device['deviceSerialNumber']}"
    assert len(device["deviceSerialNumber"]) == 10
    assert device["timezone"] == "America/Los_Angeles"
    clock_time = parse(device["deviceTime"])
    uploaded = parse(device["lastUploadTime"])
    assert clock_time.utcoffset() == timedelta(hours=-7)  # PDT on 20 March 2026
    assert timedelta(0) < abs(clock_time - uploaded) < timedelta(minutes=5), "the pump clock is a little off"
    assert T0 - timedelta(hours=2) < uploaded <= T0


def test_basal_segments_are_contiguous_and_well_formed(
    shared_acme: BackgroundSimulator, token: dict[str, Any], device_id: str
) -> None:
    start = HISTORY_START + timedelta(days=1)
    basals = fetch_all(
        shared_acme, token, f"/api/v1/devices/{device_id}/basals", start, start + timedelta(days=7)
    )
    assert {b["deliveryType"] for b in basals} == {"scheduled", "temp", "suspend"}
    for before, after in itertools.pairwise(basals):
        assert parse(before["time"]) + timedelta(milliseconds=before["duration"]) == parse(after["time"])
    for basal in basals:
        assert basal["type"] == "basal"
        assert 0 < basal["duration"] <= basal["expectedDuration"]
        assert basal["timezone"] == "America/Los_Angeles"
        if basal["deliveryType"] == "suspend":
            assert "rate" not in basal
            assert basal["suppressed"]["deliveryType"] == "scheduled"
        else:
            assert 0 < basal["rate"] <= 5
        if basal["deliveryType"] == "temp":
            assert basal["percent"] in {0.5, 0.6, 0.7, 1.3, 1.4, 1.5}
        if basal["deliveryType"] == "scheduled":
            assert basal["scheduleName"] == "Standard"


def test_boluses_normal_extended_and_combination(
    shared_acme: BackgroundSimulator, token: dict[str, Any], device_id: str
) -> None:
    boluses = fetch_all(
        shared_acme,
        token,
        f"/api/v1/devices/{device_id}/boluses",
        HISTORY_START,
        HISTORY_START + timedelta(days=7),
    )
    boluses += fetch_all(
        shared_acme,
        token,
        f"/api/v1/devices/{device_id}/boluses",
        HISTORY_START + timedelta(days=7),
        T0 - timedelta(days=2),
    )
    kinds = {b["deliveryType"] for b in boluses}
    assert kinds == {"normal", "extended", "combination"}
    assert len(boluses) >= 3 * 12
    for bolus in boluses:
        if bolus["deliveryType"] == "normal":
            assert bolus["normal"] > 0
            assert "extended" not in bolus
        if bolus["deliveryType"] == "extended":
            assert "normal" not in bolus
            assert bolus["extended"] > 0
            assert bolus["duration"] == bolus["expectedDuration"]
        if bolus["deliveryType"] == "combination":
            assert bolus["normal"] > 0
            assert bolus["extended"] > 0
            assert bolus["duration"] <= bolus["expectedDuration"]
        if "expectedNormal" in bolus:
            assert bolus["normal"] < bolus["expectedNormal"]
        if "expectedExtended" in bolus:
            assert bolus["extended"] < bolus["expectedExtended"]
    times = [parse(b["time"]) for b in boluses]
    assert times == sorted(times)


def test_local_times_follow_the_zone_and_its_dst_change(
    shared_acme: BackgroundSimulator, token: dict[str, Any], device_id: str
) -> None:
    basals = fetch_all(
        shared_acme,
        token,
        f"/api/v1/devices/{device_id}/basals",
        datetime(2026, 3, 5, tzinfo=UTC),
        datetime(2026, 3, 12, tzinfo=UTC),
    )
    offsets = set()
    for basal in basals:
        local = datetime.fromisoformat(basal["localTime"]).replace(tzinfo=UTC)
        offsets.add(round((local - parse(basal["time"])).total_seconds() / 1800) * 30)
    assert offsets == {-480, -420}
    midnights = [
        b
        for b in basals
        if b["localTime"][11:16] in ("00:00", "00:01", "00:02", "00:03", "23:56", "23:57", "23:58", "23:59")
    ]
    assert midnights, "segments are cut at the pump's midnight"


def test_paging_with_a_cursor(
    shared_acme: BackgroundSimulator, token: dict[str, Any], device_id: str
) -> None:
    path = f"/api/v1/devices/{device_id}/basals"
    start, end = HISTORY_START, HISTORY_START + timedelta(days=3)
    everything = fetch_all(shared_acme, token, path, start, end)
    paged = fetch_all(shared_acme, token, path, start, end, limit=7)
    assert paged == everything
    assert len({b["id"] for b in everything}) == len(everything)
    with httpx.Client(base_url=shared_acme.url) as client:
        first = client.get(path, params=span(start, end, limit=7), headers=bearer(token)).json()
        assert first["meta"]["count"] == 7
        cursor = first["meta"]["nextCursor"]
        other_window = client.get(
            path, params=span(start, end + timedelta(hours=1), cursor=cursor), headers=bearer(token)
        )
        assert other_window.status_code == 400
        assert other_window.json()["error"] == "invalid_cursor"
        assert (
            client.get(path, params=span(start, end, cursor="garbage"), headers=bearer(token)).status_code
            == 400
        )


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00"}, "invalid_request"),
        ({"start": "2026-03-01T00:00:00Z"}, "invalid_request"),
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "invalid_request"),
        ({"start": "2026-03-01T00:00:00Z", "end": "2026-03-08T00:00:01Z"}, "window_too_large"),
        ({"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z", "limit": "0"}, "invalid_request"),
        (
            {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z", "limit": "1001"},
            "invalid_request",
        ),
    ],
)
def test_queries_are_checked(
    shared_acme: BackgroundSimulator,
    token: dict[str, Any],
    device_id: str,
    params: dict[str, str],
    error: str,
) -> None:
    with httpx.Client(base_url=shared_acme.url) as client:
        response = client.get(f"/api/v1/devices/{device_id}/boluses", params=params, headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_a_seven_day_window_with_offsets_is_fine(
    shared_acme: BackgroundSimulator, token: dict[str, Any], device_id: str
) -> None:
    params = {"start": "2026-03-10T00:00:00-07:00", "end": "2026-03-17T00:00:00-07:00"}
    with httpx.Client(base_url=shared_acme.url) as client:
        response = client.get(f"/api/v1/devices/{device_id}/boluses", params=params, headers=bearer(token))
        assert response.status_code == 200
        assert (
            client.get(
                "/api/v1/devices/someone-else/boluses", params=params, headers=bearer(token)
            ).status_code
            == 404
        )


def test_records_appear_after_they_end_plus_the_upload_delay(
    acme: BackgroundSimulator, http: Http, clock: FrozenClock
) -> None:
    client = http(acme)
    tokens = acme_connect(client)
    device = client.get("/api/v1/devices", headers=bearer(tokens)).json()["data"][0]["deviceId"]
    params = span(T0 - timedelta(days=1), T0 + timedelta(days=1))
    before = client.get(f"/api/v1/devices/{device}/basals", params=params, headers=bearer(tokens)).json()[
        "data"
    ]
    last = before[-1]
    assert parse(last["time"]) + timedelta(milliseconds=last["duration"], minutes=15) <= T0
    clock.advance(timedelta(hours=12))
    after = client.get(f"/api/v1/devices/{device}/basals", params=params, headers=bearer(tokens)).json()
    assert after.get("error") == "invalid_token", "the hour-long access token expired meanwhile"
    renewed = refresh(client, tokens["refresh_token"], "/oauth/token").json()
    grown = client.get(f"/api/v1/devices/{device}/basals", params=params, headers=bearer(renewed)).json()[
        "data"
    ]
    assert len(grown) > len(before)
    assert grown[: len(before)] == before


def test_unknown_enums_and_the_admin_api_work_for_acme_too(acme: BackgroundSimulator, http: Http) -> None:
    client = http(acme)
    tokens = acme_connect(client)
    device = client.get("/api/v1/devices", headers=bearer(tokens)).json()["data"][0]["deviceId"]
    params = span(T0 - timedelta(days=3), T0)
    client.post("/admin/faults", json={"unknown_enums": True}, headers=ADMIN_HEADERS)
    basals = client.get(f"/api/v1/devices/{device}/basals", params=params, headers=bearer(tokens)).json()[
        "data"
    ]
    assert any(b["deliveryType"] == "automatedBoost" for b in basals)
    assert client.get("/admin", headers=ADMIN_HEADERS).json()["partner"] == "acme"
    client.post("/admin/faults", json={"error_rate": 1}, headers=ADMIN_HEADERS)
    assert client.get("/api/v1/me", headers=bearer(tokens)).status_code == 503


def test_the_rate_limit_default_is_a_thousand_an_hour(acme: BackgroundSimulator, http: Http) -> None:
    assert http(acme).get("/admin/usage", headers=ADMIN_HEADERS).json()["requestsPerHour"] == 1000

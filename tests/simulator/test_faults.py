"""Every fault, as a client sees it on the wire, and the admin API that sets them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from inlet.simulator import BackgroundSimulator
from inlet.simulator.cli import app as cli_app

from .conftest import (
    ADMIN,
    ADMIN_HEADERS,
    T0,
    bearer,
    connect,
    consent,
    exchange,
    redirect_query,
    refresh,
    window,
)

Http = Callable[[BackgroundSimulator], httpx.Client]
PARAMS = window(T0 - timedelta(hours=3), T0)


def set_faults(client: httpx.Client, **faults: Any) -> dict[str, Any]:
    response = client.post("/admin/faults", json=faults, headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def egvs(client: httpx.Client, tokens: dict[str, Any], **options: Any) -> httpx.Response:
    return client.get("/v3/users/self/egvs", params=PARAMS, headers=bearer(tokens), **options)


@pytest.fixture
def connected(dexcom: BackgroundSimulator, http: Http) -> tuple[httpx.Client, dict[str, Any]]:
    client = http(dexcom)
    return client, connect(client)


def test_server_errors_at_a_rate(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    set_faults(client, error_rate=1.0)
    failed = egvs(client, tokens)
    assert failed.status_code == 503
    assert failed.json()["error"] == "server_error"
    set_faults(client, error_status=500)
    assert egvs(client, tokens).status_code == 500
    set_faults(client, error_rate=0.5)
    statuses = [egvs(client, tokens).status_code for _ in range(40)]
    assert 5 <= statuses.count(500) <= 35
    assert statuses.count(200) == 40 - statuses.count(500)


def test_the_same_fault_seed_fails_the_same_requests(
    make_dexcom: Callable[..., BackgroundSimulator], http: Http
) -> None:
    runs = []
    for _ in range(2):
        client = http(make_dexcom(fault_seed=7))
        tokens = connect(client)
        set_faults(client, error_rate=0.5)
        runs.append([egvs(client, tokens).status_code for _ in range(12)])
    assert runs[0] == runs[1]


def test_latency_delays_every_targeted_request(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    set_faults(client, latency_ms=300)
    started = time.monotonic()
    assert egvs(client, tokens).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    client.get("/admin/faults", headers=ADMIN_HEADERS)
    assert time.monotonic() - started < 0.3, "the admin API is never faulted"


def test_a_hang_outlasts_the_clients_timeout(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    set_faults(client, timeout_rate=1.0, hang_seconds=60)
    with pytest.raises(httpx.ReadTimeout):
        egvs(client, tokens, timeout=0.3)
    client.delete("/admin/faults", headers=ADMIN_HEADERS)
    assert egvs(client, tokens).status_code == 200


def test_a_client_that_waits_out_the_hang_gets_504(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    set_faults(client, timeout_rate=1.0, hang_seconds=0.2)
    response = egvs(client, tokens, timeout=5)
    assert response.status_code == 504


def test_malformed_json_keeps_the_status(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    set_faults(client, malformed_rate=1.0)
    response = egvs(client, tokens)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_a_truncated_body_drops_the_connection_mid_body(
    connected: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, tokens = connected
    set_faults(client, truncated_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        egvs(client, tokens)
    client.delete("/admin/faults", headers=ADMIN_HEADERS)
    assert egvs(client, tokens).status_code == 200


def test_a_short_body_is_a_complete_message_with_half_the_json(
    connected: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, tokens = connected
    whole = egvs(client, tokens).content
    set_faults(client, truncated_rate=1.0, truncate_mode="short")
    response = egvs(client, tokens)
    assert response.status_code == 200
    assert response.content == whole[: len(whole) // 2]
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_a_burst_of_429s_then_normal_service(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    set_faults(client, burst_429=2, retry_after=120)
    for _ in range(2):
        limited = egvs(client, tokens)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "120"
    assert egvs(client, tokens).status_code == 200
    assert client.get("/admin/faults", headers=ADMIN_HEADERS).json()["burst_429"] == 0


def test_faults_can_target_the_token_endpoint(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    tokens = connect(client)
    set_faults(client, error_rate=1.0, targets=["token"])
    assert refresh(client, tokens["refresh_token"]).status_code == 503
    assert egvs(client, tokens).status_code == 200, "data is no longer targeted"
    set_faults(client, targets=["login"])
    assert client.get("/v2/oauth2/login").status_code == 503


def test_revoking_a_grant_at_the_partner(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    response = client.post("/admin/grants/revoke", json={"account": "SandboxUser1"}, headers=ADMIN_HEADERS)
    assert response.json() == {"revoked": 1}
    assert egvs(client, tokens).status_code == 401
    assert refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    grants = client.get("/admin/grants", headers=ADMIN_HEADERS).json()
    assert grants[0]["revokedBecause"] == "revoked by the account holder at the partner"
    assert grants[0]["liveRefreshTokens"] == 0


def test_revoking_by_grant_id_leaves_other_grants(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    first, second = connect(client, "SandboxUser1"), connect(client, "SandboxUser2")
    grants = client.get("/admin/grants", headers=ADMIN_HEADERS).json()
    target = next(g["id"] for g in grants if g["account"] == "SandboxUser1")
    client.post("/admin/grants/revoke", json={"grantId": target}, headers=ADMIN_HEADERS)
    assert egvs(client, first).status_code == 401
    assert egvs(client, second).status_code == 200


def test_expiring_every_refresh_token(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    expired = client.post("/admin/tokens/expire", json={"kind": "refresh"}, headers=ADMIN_HEADERS).json()
    assert expired == {"expired": {"refresh": 1, "access": 0}}
    assert egvs(client, tokens).status_code == 200, "the access token still works until it expires"
    assert refresh(client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_expiring_every_access_token_forces_a_refresh(connected: tuple[httpx.Client, dict[str, Any]]) -> None:
    client, tokens = connected
    client.post("/admin/tokens/expire", json={"kind": "access"}, headers=ADMIN_HEADERS)
    assert egvs(client, tokens).status_code == 401
    renewed = refresh(client, tokens["refresh_token"]).json()
    assert egvs(client, renewed).status_code == 200


def test_unknown_enum_values_only_when_the_fault_is_on(
    connected: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, tokens = connected
    span = window(T0 - timedelta(days=3), T0)
    known = {
        "trend": {
            "none", "unknown", "doubleUp", "singleUp", "fortyFiveUp", "flat", "fortyFiveDown", "singleDown",
            "doubleDown", "notComputable", "rateOutOfRange",
        },
        "status": {"ok", "high", "low", "unknown"},
        "displayDevice": {"receiver", "iOS", "android"},
        "transmitterGeneration": {"g6", "g7"},
    }  # fmt: skip

    def unknowns() -> list[dict[str, Any]]:
        records = client.get("/v3/users/self/egvs", params=span, headers=bearer(tokens)).json()["records"]
        return [r for r in records if any(r[key] not in values for key, values in known.items())]

    assert unknowns() == []
    set_faults(client, unknown_enums=True)
    odd = unknowns()
    assert 0 < len(odd) < 3 * 288
    events = client.get("/v3/users/self/events", params=span, headers=bearer(tokens)).json()["records"]
    assert any(e["eventType"] == "meal" or e["eventStatus"] == "archived" for e in events)


def test_unstorable_characters_in_records_from_an_instant_on(
    connected: tuple[httpx.Client, dict[str, Any]],
) -> None:
    """About one record in five at or after ``unstorable_since`` carries a NUL and a lone surrogate
    in its transmitterId (valid JSON escapes); earlier records and later reads are unchanged."""
    client, tokens = connected
    span = window(T0 - timedelta(days=1), T0)

    def read() -> list[dict[str, Any]]:
        response = client.get("/v3/users/self/egvs", params=span, headers=bearer(tokens))
        assert response.status_code == 200
        assert b"\\u0000" in response.content or not marked(json.loads(response.content)["records"])
        records: list[dict[str, Any]] = json.loads(response.content)["records"]  # the stdlib's parser
        return records

    def marked(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if "\x00" in r["transmitterId"] and "\ud800" in r["transmitterId"]]

    assert marked(read()) == []
    since = (T0 - timedelta(hours=12)).timestamp()
    set_faults(client, unstorable_since=since)
    first = read()
    odd = marked(first)
    assert 0 < len(odd) < len(first) // 2
    assert all(r["systemTime"] >= (T0 - timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%S") for r in odd)
    assert read() == first  # the same records, the same content, however often read


def test_the_admin_api_needs_its_token(
    dexcom: BackgroundSimulator, make_dexcom: Callable[..., BackgroundSimulator], http: Http
) -> None:
    client = http(dexcom)
    assert client.get("/admin/faults").status_code == 401
    assert client.get("/admin/faults", headers={"Authorization": "Bearer wrong"}).status_code == 401
    disabled = http(make_dexcom(admin_token=None))
    assert disabled.get("/admin/faults", headers=ADMIN_HEADERS).status_code == 404


def test_fault_settings_are_validated(dexcom: BackgroundSimulator, http: Http) -> None:
    client = http(dexcom)
    for bad in ({"error_rate": 2}, {"nonsense": 1}, {"targets": ["admin"]}, {"truncate_mode": "maybe"}):
        assert client.post("/admin/faults", json=bad, headers=ADMIN_HEADERS).status_code == 400
    assert client.post("/admin/faults", content=b"{", headers=ADMIN_HEADERS).status_code == 400


def test_the_overview_lists_accounts_grants_and_the_clock(
    connected: tuple[httpx.Client, dict[str, Any]],
) -> None:
    client, _ = connected
    overview = client.get("/admin", headers=ADMIN_HEADERS).json()
    assert overview["partner"] == "dexcom"
    assert overview["clock"] == {"now": "2026-03-20T12:00:00Z", "offsetSeconds": 0.0}
    assert [a["username"] for a in overview["accounts"]] == ["SandboxUser1", "SandboxUser2", "SandboxUser7"]
    assert overview["accounts"][2]["transmitterGeneration"] == "g7"
    assert len(overview["grants"]) == 1
    assert overview["grants"][0]["account"] == "SandboxUser1"
    assert overview["faults"]["error_rate"] == 0.0
    assert client.get("/admin/accounts", headers=ADMIN_HEADERS).json() == overview["accounts"]


def test_the_faults_command_drives_a_running_simulator(
    connected: tuple[httpx.Client, dict[str, Any]], dexcom: BackgroundSimulator
) -> None:
    client, tokens = connected
    runner = CliRunner()
    base = ["faults", "--url", dexcom.url, "--admin-token", ADMIN]
    result = runner.invoke(cli_app, [*base, "--error-rate", "1", "--error-status", "502", "--target", "data"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["faults"]["error_status"] == 502
    assert egvs(client, tokens).status_code == 502
    result = runner.invoke(cli_app, [*base, "--clear", "--expire-access-tokens", "--advance", "60"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.output)
    assert output["faults"]["error_rate"] == 0.0
    assert output["expire"] == {"expired": {"refresh": 0, "access": 1}}
    assert output["clock"]["now"] == "2026-03-20T12:01:00Z"
    result = runner.invoke(cli_app, [*base, "--revoke-account", "SandboxUser1"])
    assert json.loads(result.output)["revoke"] == {"revoked": 1}
    status = runner.invoke(cli_app, ["status", "--url", dexcom.url, "--admin-token", ADMIN])
    assert json.loads(status.output)["grants"][0]["revoked"] is not None
    wrong = runner.invoke(cli_app, ["faults", "--url", dexcom.url, "--admin-token", "wrong"])
    assert wrong.exit_code == 1


def test_injected_faults_spare_the_consent_and_token_flow_by_default(
    dexcom: BackgroundSimulator, http: Http
) -> None:
    client = http(dexcom)
    set_faults(client, error_rate=1.0)
    code = redirect_query(consent(client))["code"]
    assert exchange(client, code).status_code == 200

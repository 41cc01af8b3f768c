"""Schemathesis against the live server: every operation of /openapi.json, at least 25 generated
requests each, as an authenticated owner of real data; no request may ever get a 5xx."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.live import LiveServer, live_inlet  # noqa: F401

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="session")
def owner_headers(live_inlet: LiveServer) -> dict[str, str]:  # noqa: F811
    """An account with a closed data set, so generated requests can reach real rows."""
    with httpx.Client(base_url=live_inlet.url, timeout=30) as http:
        response = http.post(
            "/auth/user",
            json={"username": f"fuzz-{uuid.uuid4().hex[:8]}@example.org", "password": "fuzz-password"},
        )
        assert response.status_code == 201, response.text
        user_id = response.json()["userid"]
        headers = {"x-tidepool-session-token": response.headers["x-tidepool-session-token"]}
        created = http.post(f"/v1/users/{user_id}/data_sets", json={"deviceId": "Fuzz-1"}, headers=headers)
        assert created.status_code == 201, created.text
        data_set = created.json()["data"]["id"]
        datum = {
            "type": "cbg",
            "units": "mg/dL",
            "value": 120,
            "time": "2026-01-01T00:00:00Z",
            "deviceId": "Fuzz-1",
        }
        assert http.post(f"/v1/data_sets/{data_set}/data", json=[datum], headers=headers).status_code == 200
        assert (
            http.put(f"/v1/data_sets/{data_set}", json={"dataState": "closed"}, headers=headers).status_code
            == 200
        )
    return headers


def test_no_request_gets_a_server_error(live_inlet: LiveServer, owner_headers: dict[str, str]) -> None:  # noqa: F811
    schema = schemathesis.openapi.from_url(f"{live_inlet.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    counts: dict[str, int] = {}
    with_inputs: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        calls = 0

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers={**owner_headers, **(case.headers or {})}, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                )

        run()
        counts[operation.label] = calls
        definition = operation.definition.raw
        if definition.get("parameters") or "requestBody" in definition:
            with_inputs.add(operation.label)
    # hypothesis stops early only when an operation has fewer distinct inputs than that
    few = {label: n for label, n in counts.items() if n < EXAMPLES_PER_OPERATION}
    print("generated requests per operation:", counts)
    assert not few.keys() & with_inputs, few
    assert operations >= 40
    assert not failures, "\n".join(failures[:20])

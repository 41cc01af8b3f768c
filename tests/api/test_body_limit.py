"""Request bodies over INLET_MAX_BODY_BYTES get 413 in the platform format, and nothing is stored;
uploaders halve their batch on 413, and the halves go through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from inlet.app import create_app
from inlet.db.schema import device_data
from inlet.services import create_services
from inlet.settings import Settings
from tests.api.conftest import signup

LIMIT = 4096


@pytest.fixture
def small_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    services = create_services(settings.model_copy(update={"max_body_bytes": LIMIT}), engine)
    with TestClient(create_app(services=services)) as client:
        yield client


def cbg(minute: int) -> dict[str, object]:
    return {
        "type": "cbg",
        "units": "mg/dL",
        "value": 100,
        "time": f"2026-10-01T10:{minute:02d}:00Z",
        "deviceId": "d",
    }


def test_over_the_limit_is_413_and_the_halves_go_through(small_client: TestClient, engine: Engine) -> None:
    owner = signup(small_client, "big@example.org")
    created = small_client.post(
        f"/v1/users/{owner.user_id}/data_sets", json={"deviceId": "d"}, headers=owner.headers
    )
    data_set = created.json()["data"]["id"]
    batch = [cbg(m) for m in range(60)]
    response = small_client.post(f"/v1/data_sets/{data_set}/data", json=batch, headers=owner.headers)
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["code"] == "request-too-large"
    assert error["status"] == "413"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(device_data)).scalar() == 0
    for half in (batch[:30], batch[30:]):
        assert (
            small_client.post(f"/v1/data_sets/{data_set}/data", json=half, headers=owner.headers).status_code
            == 200
        )


def test_a_body_without_content_length_is_counted_as_it_streams(small_client: TestClient) -> None:
    owner = signup(small_client, "stream@example.org")

    def chunks() -> Iterator[bytes]:
        yield b"["
        for minute in range(60):
            yield (b"," if minute else b"") + str(cbg(minute)).replace("'", '"').encode()
        yield b"]"

    response = small_client.post(
        f"/v1/users/{owner.user_id}/data_sets", content=chunks(), headers=owner.headers
    )
    assert response.status_code == 413

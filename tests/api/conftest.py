"""API fixtures: the app over a real database (SQLite and PostgreSQL), and account helpers."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from inlet.app import create_app
from inlet.partners.registry import load_registry
from inlet.services import Services, create_services
from inlet.settings import Settings

SERVICE_SECRET = "test-service-secret-0123456789"
# Both partners are offered (credentials set); their servers are unreachable (every call answers 503).
PARTNER_ENV = {
    "INLET_PARTNER_DEXCOM_CLIENT_ID": "inlet",
    "INLET_PARTNER_DEXCOM_CLIENT_SECRET": "api-test-secret",
    "INLET_PARTNER_ACME_CLIENT_ID": "inlet",
    "INLET_PARTNER_ACME_CLIENT_SECRET": "api-test-secret",
}
OFFLINE = httpx2.MockTransport(lambda request: httpx2.Response(503, text="partner is down"))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        password_hashing="fast-insecure-for-tests",
        service_secret=SERVICE_SECRET,  # type: ignore[arg-type]
        public_url="http://testserver",
    )


@pytest.fixture
def services(settings: Settings, engine: Engine) -> Services:
    services = create_services(settings, engine)
    services.partners.registry = load_registry(PARTNER_ENV)
    services.partners.transport = OFFLINE
    return services


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@dataclass
class Account:
    user_id: str
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-tidepool-session-token": self.token}


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def signup(client: TestClient, username: str, password: str = "correct-horse", **extra: Any) -> Account:
    response = client.post("/auth/user", json={"username": username, "password": password, **extra})
    assert response.status_code == 201, response.text
    return Account(
        response.json()["userid"], username, password, response.headers["x-tidepool-session-token"]
    )


SERVICE_HEADERS = {"X-Tidepool-Service-Secret": SERVICE_SECRET}

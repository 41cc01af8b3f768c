"""Nightscout fixtures: the API fixtures (app over SQLite and PostgreSQL) and a person with a site."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Account, client, services, settings, signup  # noqa: F401


@dataclass
class NsSite:
    owner: Account
    url: str  # the site's base path, e.g. /ns/<id>
    secret: str

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.secret.encode()).hexdigest()

    @property
    def headers(self) -> dict[str, str]:
        return {"api-secret": self.sha1}


def make_site(client: TestClient, email: str) -> NsSite:  # noqa: F811
    owner = signup(client, email)
    response = client.put(f"/v1/users/{owner.user_id}/nightscout", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    path = body["siteUrl"].removeprefix("http://testserver").rstrip("/")
    return NsSite(owner, path, body["apiSecret"])


@pytest.fixture
def site(client: TestClient) -> NsSite:  # noqa: F811
    return make_site(client, "ns-owner@example.com")

"""Web page fixtures: the app over a real database (SQLite, and PostgreSQL when
``INLET_TEST_POSTGRES_URL`` is set) driven by Starlette's TestClient, and a browser-like helper that
reads each form's CSRF token from the page and logs people in through the login form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from inlet.app import create_app
from inlet.services import Services
from tests.api.conftest import (  # noqa: F401 (fixtures)
    OFFLINE,
    PARTNER_ENV,
    Account,
    services,
    settings,
    signup,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct-horse"


def csrf_of(page: Response | str) -> str:
    text = page if isinstance(page, str) else page.text
    found = CSRF.search(text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Web:
    """A person's browser: a cookie jar and the forms they submit."""

    client: TestClient

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.client.get(path, follow_redirects=False, **kwargs)

    def post(
        self, path: str, data: dict[str, str] | None = None, *, from_page: str | None = None
    ) -> Response:
        """Submit a form at ``path`` with the CSRF token of ``from_page`` (a GET first)."""
        fields = dict(data or {})
        if from_page is not None:
            fields["csrf_token"] = csrf_of(self.get(from_page))
        return self.client.post(path, data=fields, follow_redirects=False)

    def login(self, username: str, password: str = PASSWORD) -> Response:
        self.client.cookies.clear()
        response = self.post("/login", {"email": username, "password": password}, from_page="/login")
        assert response.status_code == 303, response.text
        return response

    def logout(self) -> None:
        self.client.cookies.clear()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@pytest.fixture
def web(client: TestClient) -> Web:
    return Web(client)


def account(client: TestClient, name: str, **extra: Any) -> Account:
    """An account made through the API (``POST /auth/user``), as another app would."""
    return signup(client, f"{name}@example.org", PASSWORD, **extra)

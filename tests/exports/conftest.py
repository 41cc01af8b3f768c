"""Export fixtures: the API fixtures (the app over SQLite and PostgreSQL) and a person with data."""

from __future__ import annotations

from tests.api.conftest import client, services, settings

__all__ = ["client", "services", "settings"]

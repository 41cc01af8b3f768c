"""FHIR fixtures: the API fixtures (the app over SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.api.conftest import client, services, settings

__all__ = ["client", "services", "settings"]

"""``/metrics`` on the API port: absent (404) unless INLET_METRICS_TOKEN is set, then only for its
bearer; the database figures behind it are read at most once per 15 s however often it is scraped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, event

from inlet.app import create_app
from inlet.services import Services
from inlet.sync.metrics import DATABASE_FIGURES_SECONDS, DatabaseCollector

METRICS_TOKEN = "metrics-token-0123456789"


@pytest.fixture
def metered(services: Services) -> Iterator[TestClient]:
    services.settings = services.settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    with TestClient(create_app(services=services)) as client:
        yield client


def source_queries(engine: Engine) -> list[str]:
    """Every statement ``engine`` runs from now on that counts the data sources per state (one of
    the database figures: one such statement is one read of them all)."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            "data_sources" in statement
            and "GROUP BY data_sources.provider_name, data_sources.state" in statement
        ):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return seen


def test_anonymous_metrics_are_404_without_a_token_configured(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


def test_metrics_need_the_bearer_token(metered: TestClient) -> None:
    assert metered.get("/metrics").status_code == 401
    wrong = metered.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert wrong.json()["errors"][0]["code"] == "unauthenticated"
    basic = metered.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
    assert basic.status_code == 401
    non_ascii = metered.get("/metrics", headers={"Authorization": "Bearer t\u00f6ken".encode()})
    assert non_ascii.status_code == 401
    ok = metered.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status_code == 200
    assert "inlet_sync_queue_lag_seconds" in ok.text
    assert "inlet_data_sources" in ok.text
    assert "process_" in ok.text or "python_" in ok.text  # this process's own figures too


def test_scrapes_within_15_seconds_read_the_database_once(metered: TestClient, services: Services) -> None:
    seen = source_queries(services.engine)
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    for _ in range(5):
        assert metered.get("/metrics", headers=headers).status_code == 200
    assert len(seen) == 1


def test_the_database_collector_caches_for_15_seconds(engine: Engine) -> None:
    now = [1000.0]
    collector = DatabaseCollector(engine, clock=lambda: now[0])
    seen = source_queries(engine)
    first = [family.name for family in collector.collect()]
    assert first == [
        "inlet_sync_queue_lag_seconds",
        "inlet_sync_tasks",
        "inlet_data_sources",
        "inlet_sources_stalled",
    ]
    now[0] += DATABASE_FIGURES_SECONDS - 0.5
    assert [family.name for family in collector.collect()] == first
    assert len(seen) == 1
    now[0] += 0.5
    list(collector.collect())
    assert len(seen) == 2

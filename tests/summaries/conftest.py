"""Summary fixtures: a data service on a hand-moved clock and helpers to store glucose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from inlet.data.records import DataSet
from inlet.data.service import DataService

ORIGIN = "org.tidepool.deduplicator.dataset.delete.origin"
BASE = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def service() -> DataService:
    return DataService(clock=Clock())


def at(minutes: float) -> str:
    return (BASE + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def cbg(minutes: float, mg: int, device: str = "DexG6_SM1", **extra: Any) -> dict[str, Any]:
    return {"type": "cbg", "units": "mg/dL", "value": mg, "time": at(minutes), "deviceId": device, **extra}


def smbg(minutes: float, mg: int, **extra: Any) -> dict[str, Any]:
    return {"type": "smbg", "units": "mg/dL", "value": mg, "time": at(minutes), "deviceId": "Meter1", **extra}


def continuous_set(engine: Engine, service: DataService, user: str) -> DataSet:
    body = {
        "dataSetType": "continuous",
        "deduplicator": {"name": ORIGIN},
        "client": {"name": "org.example.test", "version": "1.0.0"},
        "deviceId": "DexG6_SM1",
    }
    with engine.begin() as conn:
        return service.create_data_set(conn, user, body, created_user_id=user)

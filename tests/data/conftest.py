"""Fixtures for the data domain: the service with a controllable clock and helpers to read rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from inlet.data.records import DataSet
from inlet.data.service import DataService
from inlet.db.schema import device_data, device_data_staged


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> DataService:
    return DataService(clock=clock)


USER = "a1b2c3d4e5"


def cbg(minute: int, value: float = 120, device: str = "DexG6_SM1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "cbg",
        "units": "mg/dL",
        "value": value,
        "time": f"2026-10-01T10:{minute:02d}:00Z",
        "deviceId": device,
        **extra,
    }


@pytest.fixture
def make_set(engine: Engine, service: DataService) -> Callable[..., DataSet]:
    def make(**body: Any) -> DataSet:
        body.setdefault("deviceId", "DexG6_SM1")
        with engine.begin() as conn:
            return service.create_data_set(conn, USER, body, created_user_id=USER)

    return make


def all_rows(engine: Engine, *, staged: bool = False, **where: Any) -> list[dict[str, Any]]:
    """device_data's rows (or, ``staged``, device_data_staged's: open normal sets' rows), in order."""
    table = device_data_staged if staged else device_data
    query = select(table).order_by(table.c.pk)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    with engine.connect() as conn:
        out = []
        for row in conn.execute(query):
            item = dict(row._mapping)
            if isinstance(item["doc"], str):
                item["doc"] = orjson.loads(item["doc"])
            out.append(item)
        return out


def active_values(engine: Engine) -> list[float]:
    return sorted(r["doc"]["value"] for r in all_rows(engine, active=True))

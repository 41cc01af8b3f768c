"""The ingest pipeline on real SQLite and PostgreSQL: data sets, add, close, delete, selectors."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from sqlalchemy import Engine

from inlet.data.errors import DataSetClosed, DataSetNotFound, ValidationFailed
from inlet.data.records import DataSet
from inlet.data.service import DataService
from tests.data.conftest import USER, Clock, active_values, all_rows, cbg


def test_create_data_set_records_what_the_server_sets(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(client={"name": "org.tidepool.uploader", "version": "2.60.0"})
    assert len(data_set.id) == 32
    doc = data_set.doc
    assert doc["id"] == doc["uploadId"] == data_set.id
    assert doc["type"] == "upload"
    assert doc["state"] == "open"
    assert doc["dataSetType"] == "normal"
    assert doc["deduplicator"]["name"] == "org.tidepool.deduplicator.device.deactivate.hash"
    assert doc["createdUserId"] == USER
    with engine.connect() as conn:
        again = service.get_data_set(conn, data_set.id)
    assert again.doc == doc
    assert again.user_id == USER


def test_create_data_set_refuses_bad_body(engine: Engine, service: DataService) -> None:
    with engine.begin() as conn, pytest.raises(ValidationFailed) as raised:
        service.create_data_set(conn, USER, {"dataSetType": "weekly"})
    assert [(x.code, x.pointer) for x in raised.value.errors] == [("value-not-allowed", "/dataSetType")]


def test_normal_set_data_is_invisible_until_closed(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set()
    with engine.begin() as conn:
        outcome = service.add_data(conn, data_set, [cbg(0), cbg(5)])
    assert outcome.stored == 2
    # on PostgreSQL an open normal set's rows wait apart from device_data (closing moves them in,
    # active); SQLite stores them in device_data, inactive, and activates them in place
    staged = engine.dialect.name == "postgresql"
    assert all_rows(engine, staged=not staged) == []
    rows = all_rows(engine, staged=staged)
    assert [r["active"] for r in rows] == [False, False]
    assert all(r["doc"]["uploadId"] == data_set.id for r in rows)
    with engine.begin() as conn:
        service.close(conn, data_set)
    assert all_rows(engine, staged=True) == []
    moved = all_rows(engine)
    assert [r["active"] for r in moved] == [True, True]
    assert [r["id"] for r in moved] == [r["id"] for r in rows]  # in the order they were stored
    assert {r["modified_time"] for r in moved} == {service.now()}
    with engine.connect() as conn:
        assert service.get_data_set(conn, data_set.id).state == "closed"


def test_continuous_set_data_is_active_at_once(engine: Engine, make_set: Callable[..., DataSet]) -> None:
    data_set = make_set(dataSetType="continuous")
    assert data_set.deduplicator_name == "org.tidepool.deduplicator.dataset.delete.origin"
    with engine.begin() as conn:
        DataService().add_data(conn, data_set, [cbg(0)])
    assert [r["active"] for r in all_rows(engine)] == [True]


def test_an_invalid_datum_stores_nothing(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous")
    with engine.begin() as conn, pytest.raises(ValidationFailed) as raised:
        service.add_data(conn, data_set, [cbg(0), cbg(5, value=1001), cbg(10), {"type": "cbg"}])
    assert [(x.code, x.pointer) for x in raised.value.errors] == [
        ("value-out-of-range", "/1/value"),
        ("value-not-exists", "/3/time"),
        ("value-not-exists", "/3/units"),
        ("value-not-exists", "/3/value"),
    ]
    assert all_rows(engine) == []


def test_a_failure_in_storage_rolls_back_the_whole_request(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous")

    def failing_request() -> None:
        with engine.begin() as conn:
            service.add_data(conn, data_set, [cbg(0)])
            raise RuntimeError("the request failed after the insert")

    with pytest.raises(RuntimeError):
        failing_request()
    assert all_rows(engine) == []


def test_closed_and_missing_sets(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set()
    with engine.begin() as conn:
        service.close(conn, data_set)
        service.close(conn, data_set)  # closing twice is harmless
    with engine.begin() as conn, pytest.raises(DataSetClosed):
        service.add_data(conn, service.get_data_set(conn, data_set.id), [cbg(0)])
    with engine.connect() as conn, pytest.raises(DataSetNotFound):
        service.get_data_set(conn, "f" * 32)


def test_delete_data_set_tombstones_its_data(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService, clock: Clock
) -> None:
    data_set = make_set(dataSetType="continuous")
    with engine.begin() as conn:
        service.add_data(conn, data_set, [cbg(0), cbg(5)])
    clock.advance(minutes=1)
    with engine.begin() as conn:
        service.delete_data_set(conn, data_set)
    rows = all_rows(engine)
    assert len(rows) == 2  # kept for audit
    assert all(not r["active"] and r["deleted_time"] is not None for r in rows)
    with engine.connect() as conn:
        with pytest.raises(DataSetNotFound):
            service.get_data_set(conn, data_set.id)
        assert service.get_data_set(conn, data_set.id, include_deleted=True).deleted_time is not None


def test_delete_by_selectors(engine: Engine, make_set: Callable[..., DataSet], service: DataService) -> None:
    data_set = make_set(
        dataSetType="continuous", deduplicator={"name": "org.tidepool.deduplicator.dataset.drop.hash"}
    )
    with engine.begin() as conn:
        service.add_data(
            conn,
            data_set,
            [cbg(0, id="a" * 32), cbg(5, origin={"id": "o-5"}), cbg(10), cbg(15)],
        )
    by_minute = {r["doc"]["time"][14:16]: r for r in all_rows(engine)}
    selectors = [
        {"id": "a" * 32, "time": "2026-10-01T10:00:00Z"},
        {"origin": {"id": "o-5"}},
        {"deduplicator": {"hash": by_minute["10"]["dedup_hash"]}},
    ]
    with engine.begin() as conn:
        assert service.delete_data(conn, data_set, selectors) == 3
    assert active_values(engine) == [6.66090]  # only minute 15 is left
    assert len(all_rows(engine)) == 4


def test_delete_by_selectors_refuses_bad_selectors(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous")
    with engine.begin() as conn, pytest.raises(ValidationFailed) as raised:
        service.delete_data(
            conn, data_set, [{"id": "x", "origin": {"id": "y"}}, {}, "no", {"id": 5}, {"x": 1}]
        )
    assert [(x.code, x.pointer) for x in raised.value.errors] == [
        ("values-not-exist-for-one", "/0"),
        ("values-not-exist-for-one", "/1"),
        ("type-not-object", "/2"),
        ("type-not-string", "/3/id"),
        ("not-parsed", "/4/x"),
        ("values-not-exist-for-one", "/4"),
    ]


@pytest.mark.parametrize(
    "deduplicator",
    ["org.tidepool.deduplicator.device.deactivate.hash", "org.tidepool.deduplicator.dataset.drop.hash"],
)
def test_pipelined_bodies_store_what_one_request_at_a_time_stores(
    engine: Engine, service: DataService, make_set: Callable[..., DataSet], deduplicator: str
) -> None:
    """add_bodies parses the next body on a helper thread while the previous one is stored (PostgreSQL;
    SQLite takes them in turn); the rows it stores are those of add_data called once per body (ids aside)."""
    bodies = [[cbg(minute), cbg(minute + 1)] for minute in range(0, 40, 2)]
    bodies.append([cbg(3), cbg(3)])  # a retried datum: the deduplicator sees it
    stored = []
    for pipelined in (False, True):
        data_set = make_set(deduplicator={"name": deduplicator})
        with engine.begin() as conn:
            if pipelined:
                outcome = service.add_bodies(conn, data_set, (orjson.dumps(body) for body in bodies))
            else:
                for body in bodies:
                    service.add_data(conn, data_set, body)
            service.close(conn, data_set)
        rows = all_rows(engine, data_set_id=data_set.id)
        stored.append(
            sorted((r["time"], r["active"], r["dedup_hash"] is not None, r["doc"]["value"]) for r in rows)
        )
    assert stored[0] == stored[1]
    assert outcome.stored + outcome.dropped == 42


def test_pipelined_bodies_store_nothing_when_one_is_invalid(
    engine: Engine, service: DataService, make_set: Callable[..., DataSet]
) -> None:
    data_set = make_set()
    bodies = [
        orjson.dumps([cbg(0)]),
        orjson.dumps([cbg(1)]),
        orjson.dumps([{"type": "cbg"}]),
        orjson.dumps([cbg(2)]),
    ]
    with pytest.raises(ValidationFailed), engine.begin() as conn:
        service.add_bodies(conn, data_set, iter(bodies))
    assert all_rows(engine, data_set_id=data_set.id) == []


def test_an_open_normal_sets_rows_meet_deletes_and_a_reopen(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService, clock: Clock
) -> None:
    """Staged rows (PostgreSQL) take every path rows in device_data take: a delete by selector
    while the set is open, closing after it, reopening and closing again, deleting an open set."""
    data_set = make_set()
    with engine.begin() as conn:
        service.add_data(conn, data_set, [cbg(0, 100, id="a" * 32), cbg(5, 110)])
    clock.advance(minutes=1)
    with engine.begin() as conn:
        assert service.delete_data(conn, data_set, [{"id": "a" * 32}]) == 1
        service.add_data(conn, data_set, [cbg(10, 120)])
        service.close(conn, data_set)
    assert mg_dl(engine) == [110, 120]
    assert [r["deleted_time"] is not None for r in all_rows(engine)] == [True, False, False]
    clock.advance(minutes=1)
    with engine.begin() as conn:
        service.reopen(conn, data_set)
        service.add_data(conn, data_set, [cbg(10, 120), cbg(15, 130)])  # one resent, one new
        service.close(conn, data_set)
    assert mg_dl(engine) == [110, 120, 130]  # the resent 120 superseded, not doubled
    assert all_rows(engine, staged=True) == []

    second = make_set()
    with engine.begin() as conn:
        service.add_data(conn, second, [cbg(20, 140)])
    with engine.begin() as conn:
        service.delete_data_set(conn, second)
    rows = all_rows(engine, data_set_id=second.id)
    assert [(r["active"], r["deleted_time"] is not None) for r in rows] == [(False, True)]
    assert all_rows(engine, staged=True) == []


def mg_dl(engine: Engine) -> list[int]:
    """The active glucose values in mg/dL (stored in mmol/L)."""
    return [round(value * 18.01559) for value in active_values(engine)]

"""Every deduplicator's behaviour on real SQLite and PostgreSQL, plus selection and aliases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from inlet.data import deduplicators
from inlet.data.records import DataSet
from inlet.data.service import DataService
from tests.data.conftest import Clock, active_values, all_rows, cbg

DEACTIVATE = "org.tidepool.deduplicator.device.deactivate.hash"
TRUNCATE = "org.tidepool.deduplicator.device.truncate.dataset"
ORIGIN = "org.tidepool.deduplicator.dataset.delete.origin"
ORIGIN_OLDER = "org.tidepool.deduplicator.dataset.delete.origin.older"
DROP = "org.tidepool.deduplicator.dataset.drop.hash"
NONE = "org.tidepool.deduplicator.none"

# mg/dL -> stored mmol/L for the values used below
MMOL = {100: 5.55075, 110: 6.10582, 120: 6.6609, 130: 7.21597, 140: 7.77105}


def upload(engine: Engine, service: DataService, data_set: DataSet, data: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        service.add_data(conn, data_set, data)


def close(engine: Engine, service: DataService, data_set: DataSet) -> None:
    with engine.begin() as conn:
        service.close(conn, data_set)


# ---- selection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("named", "data_set_type", "device_id", "makers", "expected"),
    [
        (DROP, "normal", "d", (), DROP),
        ("org.tidepool.continuous.origin", "continuous", None, (), ORIGIN),
        ("org.tidepool.hash-deactivate-old", "normal", "d", (), DEACTIVATE),
        ("org.tidepool.truncate", "normal", "d", (), TRUNCATE),
        ("org.tidepool.continuous", "continuous", None, (), NONE),
        (None, "normal", "AnimasPing-1", ("Animas",), TRUNCATE),
        (None, "normal", "MedT-723-1", ("Medtronic",), DEACTIVATE),
        (None, "normal", "Some-Meter-1", ("Acme",), DEACTIVATE),  # Inlet's fallback
        (None, "normal", None, (), NONE),
        (None, "continuous", None, (), ORIGIN),
        (None, "continuous", "d", ("Animas",), ORIGIN),
    ],
)
def test_selection(
    named: str | None, data_set_type: str, device_id: str | None, makers: tuple[str, ...], expected: str
) -> None:
    chosen = deduplicators.select_name(
        named=named, data_set_type=data_set_type, device_id=device_id, manufacturers=makers
    )
    assert chosen == expected
    assert deduplicators.get(chosen).name == expected


def test_alias_is_stored_under_its_current_name(make_set: Callable[..., DataSet]) -> None:
    data_set = make_set(deduplicator={"name": "org.tidepool.hash-deactivate-old"})
    assert data_set.deduplicator_name == DEACTIVATE
    assert data_set.doc["deduplicator"] == {"name": DEACTIVATE, "version": "1.1.0"}


# ---- device.deactivate.hash ------------------------------------------------------------------------


def test_deactivate_hash_supersedes_earlier_uploads_and_delete_restores(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService, clock: Clock
) -> None:
    first = make_set(deduplicator={"name": DEACTIVATE})
    upload(engine, service, first, [cbg(0, 100), cbg(5, 110), cbg(10, 120)])
    close(engine, service, first)
    clock.advance(hours=1)

    second = make_set(deduplicator={"name": DEACTIVATE})
    upload(engine, service, second, [cbg(5, 110), cbg(10, 120), cbg(15, 130)])
    assert active_values(engine) == [MMOL[100], MMOL[110], MMOL[120]]  # second is not visible yet
    close(engine, service, second)

    assert active_values(engine) == [MMOL[100], MMOL[110], MMOL[120], MMOL[130]]
    archived = [r for r in all_rows(engine, data_set_id=first.id) if not r["active"]]
    assert sorted(r["doc"]["value"] for r in archived) == [MMOL[110], MMOL[120]]
    assert all(r["archived_data_set_id"] == second.id and r["archived_time"] for r in archived)

    with engine.begin() as conn:
        service.delete_data_set(conn, second)
    assert active_values(engine) == [MMOL[100], MMOL[110], MMOL[120]]
    assert all(r["active"] and r["archived_time"] is None for r in all_rows(engine, data_set_id=first.id))
    assert all(not r["active"] and r["deleted_time"] for r in all_rows(engine, data_set_id=second.id))


def test_deactivate_hash_only_matches_the_same_device_and_user(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    first = make_set(deviceId="MeterA")
    upload(engine, service, first, [cbg(0, 100, device="MeterA")])
    close(engine, service, first)
    other_device = make_set(deviceId="MeterB")
    upload(engine, service, other_device, [cbg(0, 100, device="MeterB")])
    close(engine, service, other_device)
    assert active_values(engine) == [MMOL[100], MMOL[100]]


def test_deactivate_hash_retried_batch_is_not_doubled(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set()
    batch = [cbg(0, 100), cbg(5, 110)]
    upload(engine, service, data_set, batch)
    upload(engine, service, data_set, batch)  # the client's automatic retry
    close(engine, service, data_set)
    assert active_values(engine) == [MMOL[100], MMOL[110]]
    assert len(all_rows(engine)) == 4  # the retried copies are kept, inactive, for audit


def test_same_instant_posted_with_two_offsets_deduplicates(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    first = make_set()
    upload(engine, service, first, [cbg(0, 100)])
    close(engine, service, first)
    second = make_set()
    upload(engine, service, second, [{**cbg(0, 100), "time": "2026-10-01T03:00:00-07:00"}])
    close(engine, service, second)
    assert active_values(engine) == [MMOL[100]]


# ---- device.truncate.dataset -----------------------------------------------------------------------


def test_truncate_replaces_the_devices_earlier_data(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    body = {"deviceId": "AnimasPing-1", "deviceManufacturers": ["Animas"], "deviceModel": "Ping"}
    first = make_set(**body)
    assert first.deduplicator_name == TRUNCATE
    upload(engine, service, first, [cbg(0, 100, device="AnimasPing-1"), cbg(5, 110, device="AnimasPing-1")])
    close(engine, service, first)
    other = make_set(deviceId="Meter")
    upload(engine, service, other, [cbg(0, 140, device="Meter")])
    close(engine, service, other)

    second = make_set(**body)
    upload(engine, service, second, [cbg(5, 120, device="AnimasPing-1")])
    close(engine, service, second)
    assert active_values(engine) == [MMOL[120], MMOL[140]]
    assert all(r["deleted_time"] for r in all_rows(engine, data_set_id=first.id))
    with engine.connect() as conn:
        assert service.get_data_set(conn, first.id, include_deleted=True).deleted_time is not None
        assert service.get_data_set(conn, other.id).deleted_time is None


# ---- dataset.delete.origin -------------------------------------------------------------------------


def test_delete_origin_replaces_by_origin_id_keeping_id_and_history(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous", deduplicator={"name": ORIGIN})
    upload(engine, service, data_set, [cbg(0, 100, origin={"id": "egv-1"}), cbg(5, 110)])
    original_id = all_rows(engine, origin_id="egv-1")[0]["id"]
    upload(engine, service, data_set, [cbg(0, 130, origin={"id": "egv-1"})])

    versions = all_rows(engine, origin_id="egv-1")
    assert [(r["version"], r["active"], r["id"]) for r in versions] == [
        (0, False, original_id),
        (1, True, original_id),
    ]
    assert versions[0]["archived_time"] is not None
    assert versions[1]["doc"]["id"] == original_id
    assert active_values(engine) == [MMOL[110], MMOL[130]]


def test_delete_origin_within_one_batch_versions_each_copy(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous", deduplicator={"name": ORIGIN})
    upload(
        engine,
        service,
        data_set,
        [cbg(0, 100, origin={"id": "o"}), cbg(0, 110, origin={"id": "o"}), cbg(0, 120, origin={"id": "o"})],
    )
    rows = all_rows(engine, origin_id="o")
    assert [(r["version"], r["active"]) for r in rows] == [(0, False), (1, False), (2, True)]
    assert len({r["id"] for r in rows}) == 1
    assert active_values(engine) == [MMOL[120]]


def test_delete_origin_repeated_post_never_doubles(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous")
    batch = [cbg(m, 100 + m, origin={"id": f"egv-{m}"}) for m in (0, 5, 10)]
    upload(engine, service, data_set, batch)
    upload(engine, service, data_set, batch)
    assert len(all_rows(engine, active=True)) == 3


def test_delete_origin_is_scoped_to_the_data_set(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    one = make_set(dataSetType="continuous")
    two = make_set(dataSetType="continuous")
    upload(engine, service, one, [cbg(0, 100, origin={"id": "same"})])
    upload(engine, service, two, [cbg(0, 110, origin={"id": "same"})])
    assert active_values(engine) == [MMOL[100], MMOL[110]]


# ---- dataset.delete.origin.older ---------------------------------------------------------------


def _bolus(normal: float, origin_time: str) -> dict[str, object]:
    return {
        "type": "bolus",
        "subType": "normal",
        "normal": normal,
        "time": "2026-10-01T12:00:00Z",
        "origin": {"id": "bolus-1", "time": origin_time},
    }


def test_delete_origin_older_keeps_the_newer_bolus(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous", deduplicator={"name": ORIGIN_OLDER})
    upload(engine, service, data_set, [_bolus(2.0, "2026-10-01T12:05:00Z")])
    upload(engine, service, data_set, [_bolus(1.0, "2026-10-01T12:01:00Z")])  # an older copy: dropped
    rows = all_rows(engine, active=True)
    assert [r["doc"]["normal"] for r in rows] == [2.0]
    upload(engine, service, data_set, [_bolus(3.0, "2026-10-01T12:09:00Z")])  # newer: replaces
    assert [r["doc"]["normal"] for r in all_rows(engine, active=True)] == [3.0]
    assert [r["version"] for r in all_rows(engine, origin_id="bolus-1")] == [0, 1]


def test_delete_origin_older_always_replaces_other_types(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous", deduplicator={"name": ORIGIN_OLDER})
    upload(engine, service, data_set, [cbg(0, 100, origin={"id": "e", "time": "2026-10-01T12:05:00Z"})])
    upload(engine, service, data_set, [cbg(0, 110, origin={"id": "e", "time": "2026-10-01T12:00:00Z"})])
    assert active_values(engine) == [MMOL[110]]


# ---- dataset.drop.hash -------------------------------------------------------------------------------


def test_drop_hash_drops_what_the_set_already_has_and_last_copy_wins(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous", deduplicator={"name": DROP})
    upload(engine, service, data_set, [cbg(0, 100), cbg(5, 110)])
    with engine.begin() as conn:
        outcome = service.add_data(
            conn, data_set, [cbg(0, 100), cbg(10, 120, notes=["first"]), cbg(10, 120, notes=["last"])]
        )
    assert (outcome.stored, outcome.dropped) == (1, 2)
    assert active_values(engine) == [MMOL[100], MMOL[110], MMOL[120]]
    assert all_rows(engine, active=True)[-1]["doc"]["notes"] == ["last"]


# ---- none --------------------------------------------------------------------------------------------


def test_none_stores_everything(
    engine: Engine, make_set: Callable[..., DataSet], service: DataService
) -> None:
    data_set = make_set(dataSetType="continuous", deduplicator={"name": NONE})
    upload(engine, service, data_set, [cbg(0, 100), cbg(0, 100)])
    assert active_values(engine) == [MMOL[100], MMOL[100]]

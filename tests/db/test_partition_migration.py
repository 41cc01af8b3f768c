"""Migrations 0009 and 0010 on a database that holds data of every type: every row survives the move
into the partitioned ``device_data`` (PostgreSQL) unchanged, primary keys keep counting up, upload
records get their read columns from their documents, and reads still serve everything."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from sqlalchemy import Engine, func, select, text

from inlet.data.rows import build_rows, identity_hasher, serialize
from inlet.db.bulk import insert_rows
from inlet.db.migrate import downgrade, upgrade
from inlet.db.schema import DEVICE_DATA_INSERT_COLUMNS, data_sets, device_data
from inlet.model.identity import IDENTITY_DEVICE_ID
from inlet.model.parse import parse_data, type_names
from tests.model import test_types_a as a
from tests.model import test_types_b as b

USERS = [f"{index:02d}" + "a" * 8 for index in range(12)]


def every_type() -> list[dict[str, Any]]:
    """One valid datum of each type and subtype the model knows."""
    datums = [
        a.CBG_RATE_MGDL,
        a.SMBG_MMOLL,
        a.KETONE,
        a.SCHEDULED,
        a.TEMP,
        a.SUSPEND,
        a.AUTOMATED_BASAL,
        a.NORMAL,
        a.SQUARE,
        a.DUAL,
        a.AUTOMATED_BOLUS,
        a.WIZARD_MGDL,
        a.FOOD,
        a.INSULIN,
        a.WATER,
        a.PHYSICAL,
        a.REPORTED,
        a.ALERT,
        *(base for name, base in b.BASES.items()),
    ]
    out = []
    for index, datum in enumerate(datums):
        item = copy.deepcopy(datum)
        item["deviceId"] = "every-type"
        item["time"] = f"2025-01-{1 + index % 28:02d}T0{index % 10}:00:00Z"
        item.pop("id", None)
        out.append(item)
    return out


def _rows_at_0008(engine: Engine) -> None:
    """Data sets and device data written as revision 0008 stored them."""
    parsed = parse_data(every_type())
    assert parsed.ok, parsed.errors[:3]
    assert {datum.type for datum in parsed.datums} == set(type_names()) - {"upload"}
    with engine.begin() as conn:
        for number, user_id in enumerate(USERS):
            set_id = f"{number:02d}" + "b" * 30
            client = "org.inlet.partner.dexcom" if number % 3 == 0 else "org.tidepool.uploader"
            doc = {
                "id": set_id,
                "uploadId": set_id,
                "type": "upload",
                "dataSetType": "normal",
                "state": "closed",
                "time": "2025-01-02T03:04:05.000Z",
                "deviceModel": "723",
                "client": {"name": client, "version": "1"},
            }
            conn.execute(
                text(
                    "INSERT INTO data_sets (id, user_id, data_set_type, state, deduplicator_name, "
                    "deduplicator_version, client_name, created_time, doc) "
                    "VALUES (:id, :user_id, 'normal', 'closed', 'none', '1.0.0', :client, 7, :doc)"
                ),
                {"id": set_id, "user_id": user_id, "client": client, "doc": orjson.dumps(doc).decode()},
            )
            datums = parse_data(every_type()).datums
            rows = build_rows(
                user_id,
                set_id,
                datums,
                active=True,
                now=1,
                hasher=identity_hasher(user_id, IDENTITY_DEVICE_ID),
            )
            insert_rows(conn, "device_data", DEVICE_DATA_INSERT_COLUMNS, serialize(rows))


def _snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    d = device_data.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                d.pk, d.id, d.user_id, d.data_set_id, d.type, d.time, d.dedup_hash, d.active, d.doc
            ).order_by(d.pk)
        ).all()
    return [(*row[:-1], orjson.dumps(row[-1], option=orjson.OPT_SORT_KEYS)) for row in rows]


def test_every_row_of_every_type_survives_the_move(engine: Engine) -> None:
    downgrade(engine, "0008")
    _rows_at_0008(engine)
    before = _snapshot(engine)
    assert len(before) == len(USERS) * len(every_type())
    upgrade(engine)
    assert _snapshot(engine) == before
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'device_data'")).scalar()
            assert kind == "p"  # partitioned
            parts = conn.execute(
                text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'device_data'::regclass")
            ).scalar()
            assert parts == 16
            key = conn.execute(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_device_data'")
            ).scalar()
            assert key == "PRIMARY KEY (user_id, pk)"
            # the rows are spread over the partitions by user
            spread = conn.execute(text("SELECT count(DISTINCT tableoid) FROM device_data")).scalar()
            assert spread is not None
            assert spread > 1
        sets = conn.execute(
            select(data_sets.c.id, data_sets.c.time, data_sets.c.device_model, data_sets.c.cloud)
        ).all()
        assert {row.time for row in sets} == {1_735_787_045_000_000}  # 2025-01-02T03:04:05Z
        assert {row.device_model for row in sets} == {"723"}
        assert sorted(row.cloud for row in sets) == [False] * 8 + [True] * 4
    # the key keeps counting after the move: a new row gets a pk above every moved one
    with engine.begin() as conn:
        datums = parse_data(every_type()[:1]).datums
        insert_rows(
            conn,
            "device_data",
            DEVICE_DATA_INSERT_COLUMNS,
            serialize(build_rows(USERS[0], "x" * 32, datums, active=True, now=2)),
        )
        newest = conn.execute(select(func.max(device_data.c.pk))).scalar()
    assert newest == max(row[0] for row in before) + 1


def test_downgrade_moves_the_rows_back(engine: Engine) -> None:
    downgrade(engine, "0008")
    _rows_at_0008(engine)
    before = _snapshot(engine)
    upgrade(engine)
    downgrade(engine, "0011")
    assert _snapshot(engine) == before
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'device_data'")).scalar()
            assert kind == "r"
    upgrade(engine)
    assert _snapshot(engine) == before

"""``inlet import`` on SQLite and PostgreSQL, run through typer's CliRunner: a Tidepool export becomes
data sets and data through the ingest pipeline; idempotent, resumable, bad datums set aside."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from inlet.accounts.service import AccountService
from inlet.cli import app
from inlet.data.importer import ImportFailed, derived_id, iter_json_array, rejected_path
from inlet.db.schema import data_sets, device_data
from inlet.model.common import STORAGE_ONLY

EMAIL = "importer@example.org"
UPLOAD_1 = "0123456789abcdef0123456789abcdef"
UPLOAD_2 = "fedcba9876543210fedcba9876543210"
START = datetime(2026, 10, 1, tzinfo=UTC)


def datum_id(n: int) -> str:
    return f"{n:032x}"


def cbg(n: int, upload: str | None = UPLOAD_1, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "cbg",
        "units": "mmol/L",
        "value": 5.5,
        "time": (START + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "deviceId": "Pump-1",
        "id": datum_id(n),
        "_active": True,
        "_version": 0,
        "_userId": "tidepool-user",
        "_schemaVersion": 3,
        "createdTime": "2026-10-02T00:00:00.000Z",
        "modifiedTime": "2026-10-02T00:00:00.000Z",
        "_deduplicator": {"hash": "abc="},
        "revision": 1,
        **extra,
    }
    if upload is not None:
        item["uploadId"] = upload
    return item


def upload_record(upload: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "upload",
        "id": upload,
        "uploadId": upload,
        "time": "2026-10-02T00:00:00.000Z",
        "deviceId": "Pump-1",
        "deviceManufacturers": ["Tandem"],
        "deviceModel": "tandemCIQ",
        "deviceTags": ["cgm", "insulin-pump"],
        "client": {"name": "org.tidepool.uploader", "version": "2.60.0"},
        "dataSetType": "normal",
        "_active": True,
        "_userId": "tidepool-user",
        "_state": "closed",
        "createdTime": "2026-10-02T00:00:00.000Z",
        "createdUserId": "tidepool-user",
        "byUser": "tidepool-user",
        "_deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash", "version": "1.1.0"},
        "revision": 2,
        **extra,
    }


def export() -> list[Any]:
    """Two uploads, their data, an orphan, an id-less datum, an inactive one and two bad ones."""
    loop = {
        "type": "cbg",
        "units": "mg/dL",
        "value": 100,
        "time": "2026-10-01T05:00:00Z",
        "deviceId": "Loop",
        "uploadId": UPLOAD_2,
        "origin": {"id": "loop-1", "time": "2026-10-01T05:00:01Z"},
        "id": datum_id(500),
        "_active": True,
    }
    return [
        upload_record(UPLOAD_1),
        cbg(0),
        cbg(5),
        cbg(10),
        cbg(15, value=99),  # out of range for mmol/L: rejected
        cbg(20, _active=False),  # archived in Tidepool: skipped
        upload_record(
            UPLOAD_2,
            dataSetType="continuous",
            deviceId="Loop",
            client={"name": "com.loopkit.Loop", "version": "3.4.0"},
        ),
        loop,
        cbg(30, upload="ffffffffffffffffffffffffffffffff"),  # its upload is not in the file
        {"type": "smbg", "units": "mg/dL", "value": 100, "time": "2026-10-01T06:00:00Z", "deviceId": "Meter"},
        5,  # not a datum at all
    ]


@pytest.fixture
def make_user(engine: Engine) -> Callable[[str], str]:
    def make(email: str = EMAIL) -> str:
        with engine.begin() as conn:
            user = AccountService(password_profile="fast-insecure-for-tests").create_user(
                conn, username=email, password="correct-horse"
            )
        return user.id

    return make


@pytest.fixture
def run(db_url: str, tmp_path: Path) -> Callable[..., Result]:
    def invoke(path: Path, email: str = EMAIL) -> Result:
        env = {"INLET_DATABASE_URL": db_url, "INLET_DATA_DIR": str(tmp_path / "state")}
        return CliRunner().invoke(app, ["import", "--user", email, str(path)], env=env)

    return invoke


def write(tmp_path: Path, items: list[Any], name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(items, option=orjson.OPT_INDENT_2))
    return path


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        out = []
        for row in conn.execute(select(device_data).order_by(device_data.c.time, device_data.c.pk)):
            item = dict(row._mapping)
            if isinstance(item["doc"], str):
                item["doc"] = orjson.loads(item["doc"])
            out.append(item)
        return out


def sets(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {row.id: row for row in conn.execute(select(data_sets))}


def test_import_builds_data_sets_and_sets_bad_datums_aside(
    engine: Engine, make_user: Callable[[str], str], run: Callable[..., Result], tmp_path: Path
) -> None:
    user_id = make_user(EMAIL)
    path = write(tmp_path, export())
    result = run(path)
    assert result.exit_code == 1, result.output
    assert "6 datums added" in result.output
    assert "2 rejected" in result.output

    found = sets(engine)
    first, second, imported = (
        derived_id(user_id, UPLOAD_1),
        derived_id(user_id, UPLOAD_2),
        derived_id(user_id, "inlet-import"),
    )
    assert set(found) == {first, second, imported}
    assert (found[first].state, found[first].data_set_type) == ("closed", "normal")
    assert found[first].deduplicator_name == "org.tidepool.deduplicator.device.deactivate.hash"
    assert (found[second].state, found[second].data_set_type) == ("open", "continuous")
    assert found[imported].state == "closed"
    assert found[imported].client_name == "org.inlet.import"

    stored = rows(engine)
    assert all(r["active"] for r in stored)
    assert all(r["user_id"] == user_id for r in stored)
    by_id = {r["id"]: r for r in stored}
    assert {by_id[datum_id(n)]["data_set_id"] for n in (0, 5, 10)} == {first}
    assert by_id[datum_id(500)]["data_set_id"] == second
    assert by_id[datum_id(30)]["data_set_id"] == imported  # unknown upload: the import set
    smbg = next(r for r in stored if r["type"] == "smbg")
    assert smbg["data_set_id"] == imported
    assert len(smbg["id"]) == 32
    for r in stored:
        assert not STORAGE_ONLY.intersection(r["doc"]), r["doc"]
        assert r["doc"]["uploadId"] == r["data_set_id"]
    assert datum_id(20) not in by_id  # _active: false in the export

    rejected = orjson.loads(rejected_path(path).read_bytes())
    assert [(item["index"], [e["source"]["pointer"] for e in item["errors"]]) for item in rejected] == [
        (4, ["/4/value"]),
        (10, ["/10"]),
    ]
    assert rejected[0]["datum"]["id"] == datum_id(15)
    assert rejected[0]["errors"][0]["code"] == "value-out-of-range"


def test_a_second_run_adds_nothing(
    engine: Engine, make_user: Callable[[str], str], run: Callable[..., Result], tmp_path: Path
) -> None:
    make_user(EMAIL)
    path = write(tmp_path, export())
    assert run(path).exit_code == 1
    before = [(r["pk"], r["id"], r["active"], r["archived_time"]) for r in rows(engine)]
    states = {k: (v.state, v.modified_time) for k, v in sets(engine).items()}
    again = run(path)
    assert again.exit_code == 1  # the same two bad datums are still in the file
    assert "0 data sets created, 0 datums added, 6 already present" in again.output
    assert [(r["pk"], r["id"], r["active"], r["archived_time"]) for r in rows(engine)] == before
    assert {k: (v.state, v.modified_time) for k, v in sets(engine).items()} == states


def test_an_interrupted_import_resumes(
    engine: Engine, make_user: Callable[[str], str], run: Callable[..., Result], tmp_path: Path
) -> None:
    user_id = make_user(EMAIL)
    items = export()
    partial = run(write(tmp_path, items[:3], "partial.json"))  # the first upload and two of its datums
    assert partial.exit_code == 0, partial.output
    assert sets(engine)[derived_id(user_id, UPLOAD_1)].state == "closed"
    result = run(write(tmp_path, items))
    assert result.exit_code == 1
    assert "4 datums added, 2 already present" in result.output
    first = sets(engine)[derived_id(user_id, UPLOAD_1)]
    assert first.state == "closed"  # reopened for its new datum, closed again
    stored = rows(engine)
    assert len(stored) == 6
    assert all(r["active"] for r in stored)
    assert sorted(r["id"] for r in stored if r["data_set_id"] == first.id) == [
        datum_id(n) for n in (0, 5, 10)
    ]


def test_a_clean_file_exits_0_in_batches(
    engine: Engine, make_user: Callable[[str], str], run: Callable[..., Result], tmp_path: Path
) -> None:
    make_user(EMAIL)
    items: list[Any] = [upload_record(UPLOAD_1)]
    items += [cbg(n, id=datum_id(10_000 + n)) for n in range(2500)]  # three batches of up to 1,000
    path = write(tmp_path, items)
    stale = rejected_path(path)
    stale.write_text("[]")
    result = run(path)
    assert result.exit_code == 0, result.output
    assert "2500 datums added" in result.output
    assert not stale.exists()  # a report from an earlier run is removed
    assert len(rows(engine)) == 2500


def test_unusable_input_exits_2_and_writes_nothing(
    engine: Engine, make_user: Callable[[str], str], run: Callable[..., Result], tmp_path: Path
) -> None:
    make_user(EMAIL)
    good = write(tmp_path, export())
    unknown = run(good, email="nobody@example.org")
    assert unknown.exit_code == 2
    assert "no user" in unknown.output
    for name, content in (
        ("object.json", b'{"type": "cbg"}'),
        ("broken.json", b'[{"type": "cbg"}, {'),
        ("e.json", b""),
    ):
        (tmp_path / name).write_bytes(content)
        result = run(tmp_path / name)
        assert result.exit_code == 2, (name, result.output)
    assert run(tmp_path / "missing.json").exit_code == 2
    assert rows(engine) == []
    assert sets(engine) == {}


def test_the_reader_streams_any_layout(tmp_path: Path) -> None:
    items = [{"a": "x,]}[", "n": 1234567890123}, 1.5e3, "s", None, [1, [2]], {"nan": "NaN"}]
    text = b"\xef\xbb\xbf \n[ " + b" ,\n ".join(orjson.dumps(i) for i in items) + b" ]\n"
    path = tmp_path / "layout.json"
    path.write_bytes(text)
    for chunk in (1, 3, 7, 1 << 20):
        assert list(iter_json_array(path, chunk_size=chunk)) == items
    path.write_text('[{"value": NaN}]')
    assert list(iter_json_array(path)) == [{"value": "NaN"}]  # refused later by the model, not here
    path.write_text("[]")
    assert list(iter_json_array(path)) == []
    for bad in ("[1 2]", "[1,", "[1] x", "{}", "[1,]", "[" + "9" * 5000 + "]"):
        path.write_text(bad)
        with pytest.raises(ImportFailed):
            list(iter_json_array(path, chunk_size=2))


def test_rejected_path_names() -> None:
    assert rejected_path(Path("/x/export.json")) == Path("/x/export.rejected.json")
    assert rejected_path(Path("/x/export.JSON")) == Path("/x/export.rejected.json")
    assert rejected_path(Path("/x/export")) == Path("/x/export.rejected.json")

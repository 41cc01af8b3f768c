"""``GET /data/:userId`` does not grow with a person's history: for three years of daily uploads
(~1,100 data sets) a read runs the same few statements as for three data sets, on one pooled
connection, and gives it back before the body is sent. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event

from inlet.data import queries
from inlet.db.engine import read_only
from inlet.model.data_set import parse_data_set
from inlet.model.parse import parse_data
from inlet.services import Services
from tests.api.conftest import Account
from tests.api.test_data_sets import user

DAYS = 1_100
CLOUD_SETS = 6  # a partner connected again now and then: one continuous set each time
DAY_US = 86_400_000_000


def _day(index: int) -> str:
    """A time on day ``index`` counted from 2023-01-01."""
    moment = datetime(2023, 1, 1, 12, tzinfo=UTC) + timedelta(days=index)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cbg(time: str, device: str) -> dict[str, Any]:
    return {"type": "cbg", "units": "mg/dL", "value": 120, "time": time, "deviceId": device}


def seed_history(services: Services, user_id: str, days: int, cloud_sets: int) -> None:
    """``days`` closed daily uploads (one cbg and a bolus each; a loopable Medtronic pump every
    tenth) and ``cloud_sets`` partner sets, straight through the pipeline in one transaction."""
    data = services.data
    with services.engine.begin() as conn:
        for index in range(days):
            model = "723" if index % 10 == 0 else "G6"
            body = {
                "type": "upload",
                "dataSetType": "normal",
                "client": {"name": "org.tidepool.uploader", "version": "2.0.0"},
                "deviceId": f"dev-{index % 3}",
                "deviceManufacturers": ["Medtronic" if model == "723" else "Dexcom"],
                "deviceModel": model,
                "deviceSerialNumber": "1",
                "deviceTags": ["cgm"],
                "time": _day(index),
                "timezone": "UTC",
                "timezoneOffset": 0,
                "computerTime": _day(index)[:-1],
                "conversionOffset": 0,
                "version": "2.0.0",
            }
            parsed, errors = parse_data_set(body)
            assert parsed is not None, errors
            data_set = data.create_data_set_from(conn, user_id, parsed)
            datums = parse_data(
                [
                    _cbg(_day(index), f"dev-{index % 3}"),
                    {"type": "bolus", "subType": "normal", "normal": 1, "time": _day(index), "deviceId": "P"},
                ]
            )
            assert datums.ok, datums.errors
            data.add_datums(conn, data_set, datums.datums)
            data.close(conn, data_set)
        for index in range(cloud_sets):
            body = {
                "type": "upload",
                "dataSetType": "continuous",
                "client": {"name": "org.inlet.partner.dexcom", "version": "1.0.0"},
                "deviceManufacturers": ["Dexcom"],
            }
            parsed, errors = parse_data_set(body)
            assert parsed is not None, errors
            data_set = data.create_data_set_from(conn, user_id, parsed)
            start = days - 10 * (index + 1)
            datums = parse_data([_cbg(_day(start + k), "cloud") for k in range(3)])
            data.add_datums(conn, data_set, datums.datums)


@contextmanager
def counting(engine: Engine) -> Iterator[dict[str, int]]:
    """Statements executed and pool checkouts made while the block runs."""
    counts = {"statements": 0, "checkouts": 0}

    def on_statement(*_: Any) -> None:
        counts["statements"] += 1

    def on_checkout(*_: Any) -> None:
        counts["checkouts"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine.pool, "checkout", on_checkout)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine.pool, "checkout", on_checkout)


READS = [
    {},  # everything: no type filter, so upload records, cloud spans and the Medtronic rule all apply
    {"startDate": _day(DAYS - 14), "endDate": _day(DAYS)},
    {"type": "cbg", "startDate": _day(DAYS - 14)},
    {"latest": "true", "type": "cbg,bolus,upload"},
]


def test_a_read_runs_the_same_statements_for_1100_data_sets_as_for_3(
    client: TestClient, services: Services
) -> None:
    """Every read shape in ``READS`` against one seeding (seeding 1,100 uploads is the slow part, so
    the shapes share it rather than seed once each)."""
    long_history, short_history = user(client, "years"), user(client, "newcomer")
    seed_history(services, long_history.user_id, DAYS, CLOUD_SETS)
    seed_history(services, short_history.user_id, 3, 1)
    for params in READS:
        _check_read(client, services, (long_history, short_history), params)


def _check_read(
    client: TestClient, services: Services, people: tuple[Account, Account], params: dict[str, str]
) -> None:
    long_history, short_history = people
    found = {}
    for account in (long_history, short_history):
        url = f"/data/{account.user_id}"
        client.get(url, headers=account.headers, params=params)  # warm: compiled statement cache
        with counting(services.engine) as counts:
            response = client.get(url, headers=account.headers, params=params)
        assert response.status_code == 200, (params, response.text)
        found[account.username] = (counts["statements"], counts["checkouts"], response.json())
    (long_statements, long_checkouts, items), (short_statements, _, _) = (
        found[long_history.username],
        found[short_history.username],
    )
    assert long_statements == short_statements, params
    assert long_statements <= 7, params
    assert long_checkouts == 1, params  # who is asking, the permission and the read: one pooled connection
    uploads = [item for item in items if item["type"] == "upload"]
    if "startDate" in params and "type" not in params:
        # only the records of the window were read and served
        assert sorted(u["time"][:19] for u in uploads) == [_day(day)[:19] for day in range(DAYS - 14, DAYS)]
    if not params:
        assert len(uploads) == DAYS + CLOUD_SETS
        cloud_days = {
            item["time"][:10] for item in items if item["type"] == "cbg" and item["deviceId"] == "cloud"
        }
        hidden = [
            i
            for i in items
            if i["type"] == "cbg" and i["deviceId"] != "cloud" and i["time"][:10] in cloud_days
        ]
        assert hidden == []  # the cloud CGM overlap rule still applies


def test_the_connection_is_free_while_the_client_reads(services: Services, engine: Engine) -> None:
    """Every page is fetched on a connection that goes back to the pool before the page is sent, so
    a slow client holds no pooled connection (and no SQLite read snapshot) between pages."""
    seed_history(services, "a" * 10, 40, 1)
    borrowed: list[Connection] = []

    def connect() -> Connection:
        conn = read_only(engine)
        borrowed.append(conn)
        return conn

    query = queries.DataQuery(user_id="a" * 10)
    with read_only(engine) as conn:
        plan = queries.prepare(conn, query)
        first = queries.fetch_page(conn, plan, limit=7)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    chunks = []
    for chunk in queries.stream_json(connect, plan, first, limit=7):
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        chunks.append(chunk)
    assert len(borrowed) >= 80 // 7  # one borrow per further page
    items = orjson.loads(b"".join(chunks))
    assert [i["time"] for i in items] == sorted(i["time"] for i in items)
    keys = [(i["type"], i["id"]) for i in items]
    # 40 days of cbg and bolus, 3 cloud cbg hiding the 3 daily cbg of their days, 41 upload records:
    # no row skipped or repeated across pages
    assert len(keys) == len(set(keys)) == 40 * 2 - 3 + 3 + 41

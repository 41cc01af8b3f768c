"""API benchmark: HTTP ingest against the in-process pipeline, and read latency against raw SQL.

(a) ingest: one year of 5-minute CGM (105,120 cbg) posted in batches of 1,000 to a real uvicorn server
    (a child process on 127.0.0.1) vs the in-process pipeline of bench/ingest.py on the same bytes.
    Target: ratio <= 1.5.
(b) reads: --users N --days D of CGM seeded in bulk with COPY (not through the API); p50 and p99 of
    GET /data/:userId for 14 days of one user, and of ?latest=true, against a floor: the raw SQL
    fetch of the same rows on the same database. Targets: 14-day p99 < 50 ms and <= 1.5x the
    floor's p99; latest p99 < 20 ms. The same for a person with --history-sets daily uploads (3 years:
    1,100 data sets) read without a ``type`` filter (upload records included; the floor fetches the
    same device data and upload records).

Usage: python bench/api.py [--json PATH] [--users N] [--days D] [--skip-ingest] [--skip-reads]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result, Timer, fresh_database, postgres_url, write_json
from bench.ingest import batches, run_pipeline
from inlet.accounts.service import AccountService
from inlet.db.bulk import insert_rows
from inlet.db.schema import DEVICE_DATA_INSERT_COLUMNS, data_sets
from inlet.model.identity import new_id

INGEST_RATIO_TARGET = 1.5
P99_TARGET_MS = 50.0
P99_RATIO_TARGET = 1.5
LATEST_P99_TARGET_MS = 20.0
START = datetime(2025, 1, 1, tzinfo=UTC)
PASSWORD = "benchmark-password"


def cgm_year(days: int = 365) -> list[dict[str, Any]]:
    rng = random.Random(3)
    out = []
    for step in range(days * 288):
        moment = START + timedelta(minutes=5 * step)
        out.append(
            {
                "type": "cbg",
                "units": "mg/dL",
                "value": rng.randint(60, 250),
                "time": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "deviceId": "DexG7_BENCH",
                "sampleInterval": 300000,
            }
        )
    return out


@contextmanager
def live_server(database_url: str) -> Iterator[str]:
    """``inlet serve`` in a child process on a free loopback port; yields its base URL."""
    env = dict(os.environ)
    env.update(
        {
            "INLET_DATABASE_URL": database_url,
            "INLET_PASSWORD_HASHING": "fast-insecure-for-tests",
            "INLET_MAX_BODY_BYTES": str(64 * 1024 * 1024),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "inlet.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        base = None
        deadline = time.monotonic() + 60
        while base is None and time.monotonic() < deadline:
            match = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
            if match:
                base = match.group(1)
        if base is None:
            raise RuntimeError("server did not start")
        # keep reading the child's log so a full pipe never stalls it
        stdout = process.stdout
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def signup(client: httpx.Client, username: str) -> tuple[str, dict[str, str]]:
    response = client.post("/auth/user", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return response.json()["userid"], {
        "x-tidepool-session-token": response.headers["x-tidepool-session-token"]
    }


def http_ingest(base: str, bodies: list[bytes]) -> float:
    with httpx.Client(base_url=base, timeout=120) as client:
        user_id, headers = signup(client, "ingest@bench.example")
        created = client.post(
            f"/v1/users/{user_id}/data_sets",
            headers=headers,
            json={
                "deviceId": "DexG7_BENCH",
                "client": {"name": "org.tidepool.uploader", "version": "2.60.0"},
                "deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash"},
            },
        )
        created.raise_for_status()
        data_set_id = created.json()["data"]["id"]
        post_headers = {**headers, "content-type": "application/json"}
        with Timer() as timer:
            for body in bodies:
                client.post(
                    f"/v1/data_sets/{data_set_id}/data", headers=post_headers, content=body
                ).raise_for_status()
            client.put(
                f"/v1/data_sets/{data_set_id}", headers=headers, json={"dataState": "closed"}
            ).raise_for_status()
    return timer.seconds


def ingest(kind: str, pg: str | None) -> list[Result]:
    bodies = batches(cgm_year())
    with fresh_database(kind, pg) as engine, Timer() as t:
        run_pipeline(engine, bodies)
    in_process = t.seconds
    with fresh_database(kind, pg) as engine:
        url = engine.url.render_as_string(hide_password=False)
        with live_server(url) as base:
            over_http = http_ingest(base, bodies)
    datums = len(bodies) * 1000
    return [
        Result(
            f"api.{kind}.ingest_throughput",
            datums / over_http,
            "datums/s",
            datums / in_process,
            over_http / in_process,
            INGEST_RATIO_TARGET,
        )
    ]


def _cbg_row(user_id: str, data_set_id: str, step: int, now: int) -> tuple[Any, ...]:
    """The leading columns of a seeded cbg row (the document comes from :func:`_doc_of`)."""
    micros = int((START + timedelta(minutes=5 * step)).timestamp() * 1e6)
    datum_id = new_id()
    return (
        datum_id,
        user_id,
        data_set_id,
        "cbg",
        None,
        micros,
        "DexG7_BENCH",
        None,
        None,
        None,
        True,
        0,
        now,
    )


def seed(engine: Any, user_ids: list[str], days: int) -> None:
    """Bulk rows for each user: ``days`` of CGM, written straight into device_data with COPY."""
    now = int(time.time() * 1e6)
    tail = (None, None, None, None)
    for user_id in user_ids:
        data_set_id = new_id()
        rows = []
        for step in range(days * 288):
            row = _cbg_row(user_id, data_set_id, step, now)
            rows.append((*row, *tail, _doc_of(row, step, data_set_id)))
        with engine.begin() as conn:
            insert_rows(conn, "device_data", DEVICE_DATA_INSERT_COLUMNS, rows)


def _doc_of(row: tuple[Any, ...], step: int, data_set_id: str) -> str:
    moment = START + timedelta(minutes=5 * step)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return (
        f'{{"type":"cbg","units":"mmol/L","value":{5 + (step % 50) / 10},"time":"{text}",'
        f'"deviceId":"DexG7_BENCH","sampleInterval":300000,"id":"{row[0]}","uploadId":"{data_set_id}"}}'
    )


def seed_history(engine: Any, user_id: str, days: int, sets: int) -> None:
    """A person with ``sets`` closed daily uploads ending on the last seeded day, the last ``days`` of
    them holding that day's CGM (what an uploader's daily use of three years leaves)."""
    now = int(time.time() * 1e6)
    last_day = days - 1
    set_rows = []
    set_of_day: dict[int, str] = {}
    for index in range(sets):
        day = last_day - (sets - 1 - index)
        data_set_id = new_id()
        set_of_day[day] = data_set_id
        moment = START + timedelta(days=day, hours=23, minutes=59)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        doc = {
            "id": data_set_id,
            "uploadId": data_set_id,
            "type": "upload",
            "dataSetType": "normal",
            "state": "closed",
            "dataState": "closed",
            "time": text,
            "deviceId": "DexG7_BENCH",
            "deviceManufacturers": ["Dexcom"],
            "deviceModel": "G7",
            "deviceTags": ["cgm"],
            "client": {"name": "org.tidepool.uploader", "version": "2.60.0"},
            "deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash", "version": "1.1.0"},
            "createdTime": text,
            "modifiedTime": text,
        }
        set_rows.append(
            {
                "id": data_set_id,
                "user_id": user_id,
                "data_set_type": "normal",
                "state": "closed",
                "deduplicator_name": "org.tidepool.deduplicator.device.deactivate.hash",
                "deduplicator_version": "1.1.0",
                "device_id": "DexG7_BENCH",
                "client_name": "org.tidepool.uploader",
                "created_time": int(moment.timestamp() * 1e6),
                "modified_time": int(moment.timestamp() * 1e6),
                "doc": doc,
                "time": int(moment.timestamp() * 1e6),
                "device_model": "G7",
                "cloud": False,
            }
        )
    tail = (None, None, None, None)
    rows = []
    for step in range(days * 288):
        data_set_id = set_of_day[step // 288]
        row = _cbg_row(user_id, data_set_id, step, now)
        rows.append((*row, *tail, _doc_of(row, step, data_set_id)))
    with engine.begin() as conn:
        conn.execute(data_sets.insert(), set_rows)
        insert_rows(conn, "device_data", DEVICE_DATA_INSERT_COLUMNS, rows)


@contextmanager
def indexes_built_after(engine: Any) -> Iterator[None]:
    """On PostgreSQL, device_data's secondary indexes are dropped for the bulk seed and built again
    after it (a bulk load's usual order: 26 M rows load several times faster than into six live
    indexes). The primary key and unique indexes stay; the reads run on the same indexes as production."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.begin() as conn:
        definitions = conn.exec_driver_sql(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'device_data'::regclass AND NOT i.indisprimary AND NOT i.indisunique"
        ).all()
        for name, _ in definitions:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
            for _, definition in definitions:
                # a partitioned table's index is defined ON ONLY the parent: built that way it would
                # cover no partition
                conn.exec_driver_sql(definition.replace(" ON ONLY ", " ON ", 1))
            invalid = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_index WHERE indrelid = 'device_data'::regclass AND NOT indisvalid"
            ).scalar()
            assert invalid == 0, "an index of device_data covers no partition"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(samples: int, call: Any) -> list[float]:
    out = []
    for _ in range(samples):
        with Timer() as t:
            call()
        out.append(t.seconds * 1000)
    return out


def reads(kind: str, pg: str | None, users: int, days: int, samples: int, history_sets: int) -> list[Result]:
    from sqlalchemy import text

    results = []
    with fresh_database(kind, pg) as engine:
        with engine.begin() as conn:
            accounts = AccountService(password_profile="fast-insecure-for-tests")
            reader = accounts.create_user(conn, username="reader@bench.example", password=PASSWORD)
            token = accounts.create_session(conn, reader.id)
            keeper = accounts.create_user(conn, username="keeper@bench.example", password=PASSWORD)
            keeper_token = accounts.create_session(conn, keeper.id)
        # the reader is one of the users, in the middle of the table
        user_ids = [f"{i:010x}" for i in range(1, users)]
        user_ids.insert(len(user_ids) // 2, reader.id)
        with Timer() as t:
            with indexes_built_after(engine):
                seed(engine, user_ids, days)
                seed_history(engine, keeper.id, days, history_sets)
            if kind == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE device_data")
                    conn.exec_driver_sql("VACUUM ANALYZE data_sets")
        print(
            f"seeded {users} users x {days} days ({users * days * 288:,} rows) and one person with "
            f"{history_sets} data sets on {kind} in {t.seconds:.1f} s"
        )
        end = START + timedelta(days=days)
        start = end - timedelta(days=14)
        window = {
            "startDate": start.isoformat().replace("+00:00", "Z"),
            "endDate": end.isoformat().replace("+00:00", "Z"),
        }
        doc = "doc" if kind == "sqlite" else "doc::text"
        data_sql = text(
            f"SELECT {doc} FROM device_data WHERE user_id = :u AND active AND time >= :s AND time <= :e "
            "ORDER BY time"
        )
        sets_sql = text(
            f"SELECT {doc} FROM data_sets WHERE user_id = :u AND deleted_time IS NULL AND time >= :s "
            "AND time <= :e ORDER BY time"
        )
        bounds = {"s": int(start.timestamp() * 1e6), "e": int(end.timestamp() * 1e6)}

        def floor(user_id: str, with_sets: bool) -> tuple[list[float], int]:
            count = 0

            def fetch() -> None:
                nonlocal count
                with engine.connect() as conn:
                    count = len(conn.execute(data_sql, {"u": user_id, **bounds}).all())
                    if with_sets:
                        count += len(conn.execute(sets_sql, {"u": user_id, **bounds}).all())

            return _timed(samples, fetch), count

        url = engine.url.render_as_string(hide_password=False)
        cases = (
            ("", reader.id, {"x-tidepool-session-token": token}, window, False),
            ("_history", keeper.id, {"x-tidepool-session-token": keeper_token}, window, True),
        )
        with live_server(url) as base, httpx.Client(base_url=base, timeout=30) as client:
            for suffix, target, headers, query, with_sets in cases:
                floor_ms, expected = floor(target, with_sets)
                f50, f99 = percentile(floor_ms, 0.5), percentile(floor_ms, 0.99)
                latest = {"latest": "true"} if with_sets else {"latest": "true", "type": "cbg"}
                for name, params in (("range14d", query), ("latest", latest)):
                    response = client.get(f"/data/{target}", params=params, headers=headers)
                    response.raise_for_status()
                    if name == "range14d":
                        got = len(orjson.loads(response.content))
                        assert got == expected, (got, expected)

                    def call(
                        url: str = f"/data/{target}", params: dict[str, str] = params, headers: Any = headers
                    ) -> None:
                        client.get(url, params=params, headers=headers).raise_for_status()

                    timings = _timed(samples, call)
                    p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
                    label = f"api.{kind}.read_{name}{suffix}"
                    if name == "range14d":
                        results.append(Result(f"{label}_p50", p50, "ms", f50, p50 / f50, None))
                        results.append(Result(f"{label}_p99", p99, "ms", f99, p99 / f99, P99_TARGET_MS))
                    else:
                        results.append(Result(f"{label}_p50", p50, "ms", None, None, None))
                        results.append(Result(f"{label}_p99", p99, "ms", None, None, LATEST_P99_TARGET_MS))
                print(
                    f"14 days of {'the 1,100-set person' if with_sets else 'one user'}: {expected:,} rows; "
                    f"floor p50 {f50:.1f} ms, p99 {f99:.1f} ms"
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--history-sets", type=int, default=1100, help="data sets of the long-history person")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    pg = postgres_url() if "postgresql" in args.databases else None
    results: list[Result] = []
    for kind in args.databases.split(","):
        if kind == "postgresql" and pg is None:
            continue
        if not args.skip_ingest:
            results += ingest(kind, pg)
        if not args.skip_reads:
            results += reads(kind, pg, args.users, args.days, args.samples, args.history_sets)
        for result in results:
            print(result.line())
    write_json(args.json, results)


if __name__ == "__main__":
    main()

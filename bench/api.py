"""API benchmark: HTTP ingest against the in-process pipeline, and read latency against raw SQL.

(a) ingest: one year of 5-minute CGM (105,120 cbg) posted in batches of 1,000 to a real uvicorn server
    (a child process on 127.0.0.1) vs the in-process pipeline of bench/ingest.py on the same bytes.
    Target: ratio <= 1.5.
(b) reads: --users N --days D of CGM seeded in bulk (not through the API); p50 and p99 of
    GET /data/:userId for 14 days of one user, and of ?latest=true, against a floor: the raw SQL
    fetch of the same rows on the same database. Target: p99 < 100 ms.

Usage: python bench/api.py [--json PATH] [--users N] [--days D] [--skip-ingest] [--skip-reads]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
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
from inlet.db.schema import DEVICE_DATA_INSERT_COLUMNS
from inlet.model.identity import new_id

INGEST_RATIO_TARGET = 1.5
P99_TARGET_MS = 100.0
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


def seed(engine: Any, user_ids: list[str], days: int) -> None:
    """Bulk rows for each user: ``days`` of CGM, written straight into device_data."""
    now = int(time.time() * 1e6)
    for user_id in user_ids:
        data_set_id = new_id()
        rows = []
        for step in range(days * 288):
            moment = START + timedelta(minutes=5 * step)
            micros = int(moment.timestamp() * 1e6)
            datum_id = new_id()
            text = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            doc = (
                f'{{"type":"cbg","units":"mmol/L","value":{5 + (step % 50) / 10},"time":"{text}",'
                f'"deviceId":"DexG7_BENCH","sampleInterval":300000,"id":"{datum_id}","uploadId":"{data_set_id}"}}'
            )
            rows.append(
                (
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
                    None,
                    None,
                    None,
                    None,
                    doc,
                )
            )
        with engine.begin() as conn:
            insert_rows(conn, "device_data", DEVICE_DATA_INSERT_COLUMNS, rows)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def reads(kind: str, pg: str | None, users: int, days: int, samples: int) -> list[Result]:
    results = []
    with fresh_database(kind, pg) as engine:
        with engine.begin() as conn:
            accounts = AccountService(password_profile="fast-insecure-for-tests")
            reader = accounts.create_user(conn, username="reader@bench.example", password=PASSWORD)
            token = accounts.create_session(conn, reader.id)
        # the reader is one of the users, in the middle of the table
        user_ids = [f"{i:010x}" for i in range(1, users)]
        user_ids.insert(len(user_ids) // 2, reader.id)
        target = reader.id
        with Timer() as t:
            seed(engine, user_ids, days)
        print(
            f"seeded {users} users x {days} days ({users * days * 288:,} rows) on {kind} in {t.seconds:.1f} s"
        )
        end = START + timedelta(days=days)
        start = end - timedelta(days=14)
        query = {
            "startDate": start.isoformat().replace("+00:00", "Z"),
            "endDate": end.isoformat().replace("+00:00", "Z"),
        }
        headers = {"x-tidepool-session-token": token}
        sql = (
            "SELECT doc" if kind == "sqlite" else "SELECT doc::text"
        ) + " FROM device_data WHERE user_id = :u AND active AND time >= :s AND time <= :e ORDER BY time"
        from sqlalchemy import text

        params = {"u": target, "s": int(start.timestamp() * 1e6), "e": int(end.timestamp() * 1e6)}
        floor_ms = []
        for _ in range(samples):
            with engine.connect() as conn, Timer() as t:
                rows = conn.execute(text(sql), params).all()
            floor_ms.append(t.seconds * 1000)
        expected = len(rows)
        url = engine.url.render_as_string(hide_password=False)
        with live_server(url) as base, httpx.Client(base_url=base, timeout=30) as client:
            for name, params_extra in (("range14d", query), ("latest", {"latest": "true"})):
                timings = []
                for _ in range(samples):
                    with Timer() as t:
                        response = client.get(f"/data/{target}", params=params_extra, headers=headers)
                    response.raise_for_status()
                    timings.append(t.seconds * 1000)
                if name == "range14d":
                    got = len(orjson.loads(response.content))
                    assert got == expected, (got, expected)
                p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
                f50, f99 = percentile(floor_ms, 0.5), percentile(floor_ms, 0.99)
                results.append(Result(f"api.{kind}.read_{name}_p50", p50, "ms", f50, p50 / f50, None))
                results.append(
                    Result(f"api.{kind}.read_{name}_p99", p99, "ms", f99, p99 / f99, P99_TARGET_MS)
                )
        print(f"14 days of one user: {expected:,} rows; median {statistics.median(floor_ms):.1f} ms raw SQL")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--samples", type=int, default=200)
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
            results += reads(kind, pg, args.users, args.days, args.samples)
        for result in results:
            print(result.line())
    write_json(args.json, results)


if __name__ == "__main__":
    main()

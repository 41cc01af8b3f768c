"""Nightscout benchmark: a year of sgv entries POSTed to a site in batches of 1,000, and reading the
last day back.

Ours: ``POST /ns/<site>/api/v1/entries.json`` through the app in process (no network: Starlette's test
client), each body a batch of 1,000 xDrip-shaped entries: JSON -> prepare -> map to cbg -> the
upload pipeline (model parse, the device's continuous set, dataset.delete.origin) -> bulk insert,
one transaction per request as the server does.
Floor, same run: the same readings, already mapped to the same datums outside the timing, as
1,000-datum JSON bodies through the in-process pipeline (``DataService.add_data`` into one continuous
set, one transaction per body): what an upload of the same data costs without Nightscout.
Reads: ``GET entries.json?count=288`` (the last day, newest first, with delta) with the year stored;
p99 over 200 requests.

Usage: python bench/nightscout.py [--json PATH] [--days N]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from bench.common import Result, Timer, fresh_database, postgres_url, write_json
from inlet.app import create_app
from inlet.data.service import DataService
from inlet.nightscout import mapping
from inlet.services import create_services
from inlet.settings import Settings

BATCH = 1000
RATIO_TARGET = 1.5
P99_TARGET_MS = 50.0
READS = 200
OFFSET_MIN = 60


def generate(days: int, seed: int = 11) -> list[dict[str, Any]]:
    """Five-minute sgv entries ending now, shaped like xDrip+'s (delta, noise, filtered...)."""
    rng = random.Random(seed)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    zone = __import__("datetime").timezone(timedelta(minutes=OFFSET_MIN))
    out: list[dict[str, Any]] = []
    previous = 120
    for step in range(days * 288):
        moment = start + timedelta(minutes=5 * step)
        hour = (step % 288) / 12
        value = int(min(max(125 + 40 * math.sin(2 * math.pi * (hour - 5) / 24) + rng.gauss(0, 10), 40), 400))
        ms = int(moment.timestamp() * 1000)
        out.append(
            {
                "device": "xDrip-DexcomG6",
                "date": ms,
                "dateString": moment.astimezone(zone).isoformat(timespec="milliseconds"),
                "sgv": value,
                "delta": value - previous,
                "direction": "Flat",
                "type": "sgv",
                "filtered": value * 1000,
                "unfiltered": value * 1000 + 500,
                "rssi": 100,
                "noise": 1,
                "sysTime": moment.astimezone(zone).isoformat(timespec="milliseconds"),
            }
        )
        previous = value
    return out


def batches(items: list[Any]) -> list[bytes]:
    return [orjson.dumps(items[i : i + BATCH]) for i in range(0, len(items), BATCH)]


def floor_bodies(entries: list[dict[str, Any]]) -> list[bytes]:
    """The same readings as the datums the Nightscout path makes (prepared outside the timing)."""
    datums = []
    for index, entry in enumerate(entries):
        datums.extend(mapping.entry_datums(mapping.prepare_entry(entry, index), index))
    return batches(datums)


def run_floor(engine: Any, bodies: list[bytes]) -> None:
    service = DataService()
    with engine.begin() as conn:
        data_set = service.create_data_set(
            conn,
            "0123456789",
            {
                "dataSetType": "continuous",
                "deviceId": "xDrip-DexcomG6",
                "client": {"name": "org.nightscout.xdrip", "version": "1.0.0"},
                "deduplicator": {"name": "org.tidepool.deduplicator.dataset.delete.origin"},
            },
        )
    for body in bodies:
        with engine.begin() as conn:
            service.add_data(conn, data_set, orjson.loads(body))


class Site:
    """An app over ``engine`` with one person and their enabled site."""

    def __init__(self, engine: Any, directory: str) -> None:
        settings = Settings(
            data_dir=Path(directory),
            database_url=str(engine.url),
            password_hashing="fast-insecure-for-tests",
            public_url="http://testserver",
        )
        self.client = TestClient(create_app(services=create_services(settings, engine)))
        self.client.__enter__()  # one event-loop portal for every request (not one per request)
        made = self.client.post(
            "/auth/user", json={"username": "bench@example.com", "password": "correct-horse"}
        )
        token = made.headers["x-tidepool-session-token"]
        user = made.json()["userid"]
        site = self.client.put(
            f"/v1/users/{user}/nightscout", headers={"x-tidepool-session-token": token}
        ).json()
        self.path = site["siteUrl"].removeprefix("http://testserver").rstrip("/")
        self.headers = {
            "api-secret": hashlib.sha1(site["apiSecret"].encode()).hexdigest(),
            "content-type": "application/json",
        }

    def post_all(self, bodies: list[bytes]) -> None:
        for body in bodies:
            answer = self.client.post(f"{self.path}/api/v1/entries.json", content=body, headers=self.headers)
            assert answer.status_code == 200, answer.text[:300]

    def read_p99_ms(self) -> tuple[float, float]:
        times = []
        for _ in range(READS):
            start = time.perf_counter()
            answer = self.client.get(f"{self.path}/api/v1/entries.json?count=288", headers=self.headers)
            times.append((time.perf_counter() - start) * 1000)
            assert answer.status_code == 200
            assert len(answer.json()) == 288
        times.sort()
        return times[math.ceil(0.99 * len(times)) - 1], statistics.median(times)


def measure(kind: str, entries: list[dict[str, Any]], pg: str | None) -> list[Result]:
    bodies = batches(entries)
    floor_input = floor_bodies(entries)
    ours, floor = math.inf, math.inf
    p99 = median = math.inf
    for attempt in range(2):
        with fresh_database(kind, pg) as engine, Timer() as t:
            run_floor(engine, floor_input)
        floor = min(floor, t.seconds)
        with fresh_database(kind, pg) as engine, tempfile.TemporaryDirectory() as directory:
            site = Site(engine, directory)
            with Timer() as t:
                site.post_all(bodies)
            ours = min(ours, t.seconds)
            if attempt == 0:
                p99, median = site.read_p99_ms()
            site.client.__exit__(None, None, None)
    n = len(entries)
    return [
        Result(
            f"nightscout.{kind}.post_throughput", n / ours, "entries/s", n / floor, ours / floor, RATIO_TARGET
        ),
        Result(f"nightscout.{kind}.post_seconds", ours, "s", floor, ours / floor, None),
        Result(f"nightscout.{kind}.read_288_p99", p99, "ms", None, None, P99_TARGET_MS),
        Result(f"nightscout.{kind}.read_288_median", median, "ms", None, None, None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="write result rows here")
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    entries = generate(args.days)
    print(f"{len(entries):,} sgv entries in {math.ceil(len(entries) / BATCH)} bodies of {BATCH}")
    results: list[Result] = []
    pg = postgres_url()
    for kind in ("sqlite", "postgresql"):
        if kind == "postgresql" and pg is None:
            continue
        results.extend(measure(kind, entries, pg))
    for result in results:
        print(result.line())
    write_json(args.json, results)


if __name__ == "__main__":
    main()

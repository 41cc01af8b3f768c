"""Ingest benchmark: one year of CGM and pump data for one user, JSON bytes to stored rows.

Ours: orjson.loads of each 1,000-datum request body -> parse, validate, normalize -> device.deactivate.hash
(identity hashes; close archives duplicates and activates) -> bulk insert, in one transaction; the
next body is parsed on a helper thread while the driver stores the previous one (DataService.add_bodies).
Floor, same run: orjson.loads of the same bytes + the driver's fastest insert (executemany on SQLite,
COPY on PostgreSQL) of the same rows into the same indexed table, in one transaction.
Peak memory: a child process that runs only our pipeline on SQLite reports its maximum RSS.

Usage: python bench/ingest.py [--json PATH] [--days N]
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result, Timer, fresh_database, postgres_url, write_json
from inlet.data import storage
from inlet.data.rows import build_rows
from inlet.data.service import DataService
from inlet.db.bulk import insert_rows
from inlet.db.schema import DEVICE_DATA_INSERT_COLUMNS
from inlet.model.parse import parse_data

USER = "0123456789"
DEVICE = "MedT-723-1234567"
BATCH = 1000
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 400.0
START = datetime(2025, 1, 1, tzinfo=UTC)
OFFSET_MIN = -480  # the pump's display clock runs on Pacific time


def _times(moment: datetime) -> dict[str, Any]:
    local = moment + timedelta(minutes=OFFSET_MIN)
    return {
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "deviceTime": local.strftime("%Y-%m-%dT%H:%M:%S"),
        "timezoneOffset": OFFSET_MIN,
        "conversionOffset": 0,
        "deviceId": DEVICE,
    }


def generate(days: int, seed: int = 7) -> list[dict[str, Any]]:
    """A realistic year: 5-minute CGM, 6 basal segments a day plus temp basals, ~6 boluses a day
    (4 through the calculator, with the carbs entered as food)."""
    rng = random.Random(seed)
    data: list[dict[str, Any]] = []
    meals = (7.5, 12.5, 19.0)
    for day in range(days):
        midnight = START + timedelta(days=day)
        for step in range(288):
            moment = midnight + timedelta(minutes=5 * step)
            hour = step / 12
            meal_rise = sum(70 * math.exp(-((hour - m - 1.0) ** 2) / 0.8) for m in meals)
            value = 125 + 30 * math.sin(2 * math.pi * (hour - 4) / 24) + meal_rise + rng.gauss(0, 12)
            value = int(min(max(value, 40), 400))
            data.append(
                {
                    "type": "cbg",
                    "units": "mg/dL",
                    "value": value,
                    "trend": rng.choice(("constant", "slowRise", "slowFall")),
                    "sampleInterval": 300000,
                    **_times(moment),
                }
            )
        for segment, rate in enumerate((0.8, 0.7, 1.1, 0.9, 1.0, 0.85)):
            data.append(
                {
                    "type": "basal",
                    "deliveryType": "scheduled",
                    "scheduleName": "Standard",
                    "rate": rate,
                    "duration": 4 * 3600_000,
                    "expectedDuration": 4 * 3600_000,
                    **_times(midnight + timedelta(hours=4 * segment)),
                }
            )
        if day % 3 == 0:
            data.append(
                {
                    "type": "basal",
                    "deliveryType": "temp",
                    "rate": 0.4,
                    "percent": 0.5,
                    "duration": 3600_000,
                    **_times(midnight + timedelta(hours=15, minutes=7)),
                }
            )
        for meal in (*meals, 21.5):
            moment = midnight + timedelta(hours=meal, minutes=rng.randint(0, 40))
            carbs = rng.choice((20, 30, 45, 60, 75))
            bolus = {"type": "bolus", "subType": "normal", "normal": round(carbs / 10, 1), **_times(moment)}
            bolus_id = f"{rng.getrandbits(128):032x}"
            bolus["id"] = bolus_id
            data.append(bolus)
            data.append(
                {
                    "type": "wizard",
                    "units": "mg/dL",
                    "bgInput": rng.randint(80, 220),
                    "carbInput": carbs,
                    "insulinCarbRatio": 10,
                    "insulinSensitivity": 45,
                    "insulinOnBoard": round(rng.random(), 2),
                    "bgTarget": {"low": 100, "high": 120},
                    "recommended": {
                        "carb": round(carbs / 10, 1),
                        "correction": 0.5,
                        "net": round(carbs / 10, 1),
                    },
                    "bolus": bolus_id,
                    **_times(moment),
                }
            )
            data.append(
                {
                    "type": "food",
                    "nutrition": {"carbohydrate": {"net": carbs, "units": "grams"}},
                    **_times(moment),
                }
            )
        for correction in range(2):
            moment = midnight + timedelta(hours=10 + 6 * correction, minutes=rng.randint(0, 59))
            data.append({"type": "bolus", "subType": "normal", "normal": 1.0, **_times(moment)})
    return data


def batches(data: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(data[i : i + BATCH]) for i in range(0, len(data), BATCH)]


def run_pipeline(engine: Any, bodies: Iterable[bytes]) -> int:
    """Ours: what an uploader's requests go through, in one transaction."""
    service = DataService()
    stored = 0
    with engine.begin() as conn:
        data_set = service.create_data_set(
            conn,
            USER,
            {
                "deviceId": DEVICE,
                "deviceManufacturers": ["Medtronic"],
                "deviceModel": "723",
                "deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash"},
                "client": {"name": "org.tidepool.uploader", "version": "2.60.0"},
            },
        )
        # the next body is decoded, validated and made into rows on a helper thread while the driver
        # stores the previous one (DataService.add_bodies)
        stored += service.add_bodies(conn, data_set, bodies).stored
        service.close(conn, data_set)
    return stored


def floor_rows(bodies: list[bytes]) -> list[tuple[Any, ...]]:
    """The rows our pipeline stores, prepared outside the timing (ids and docs as ours makes them)."""
    datums = []
    for body in bodies:
        result = parse_data(orjson.loads(body))
        assert result.ok, result.errors[:3]
        datums.extend(result.datums)
    rows = build_rows(USER, "f" * 32, datums, active=True, now=0)
    return storage.serialize(rows)


def run_floor(engine: Any, bodies: list[bytes], rows: list[tuple[Any, ...]]) -> None:
    for body in bodies:
        orjson.loads(body)
    with engine.begin() as conn:
        insert_rows(conn, "device_data", DEVICE_DATA_INSERT_COLUMNS, rows)


def measure(
    kind: str, bodies: list[bytes], rows: list[tuple[Any, ...]], pg: str | None
) -> tuple[float, float]:
    """Best of two runs each, on fresh databases, alternating floor and ours."""
    ours, floor = math.inf, math.inf
    for _ in range(2):
        with fresh_database(kind, pg) as engine, Timer() as t:
            run_floor(engine, bodies, rows)
        floor = min(floor, t.seconds)
        with fresh_database(kind, pg) as engine, Timer() as t:
            stored = run_pipeline(engine, bodies)
        ours = min(ours, t.seconds)
        assert stored == len(rows), (stored, len(rows))
    return ours, floor


def child_peak_memory(bodies: list[bytes]) -> float:
    """Run only the pipeline in a child process (it reads the request bodies from a file, one per
    line, as a server receives them one at a time); return its peak RSS in MB."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as file:
        file.write(b"\n".join(bodies))
        file.flush()
        output = subprocess.run(
            [sys.executable, __file__, "--child", file.name], check=True, capture_output=True, text=True
        ).stdout
    return float(output.strip().splitlines()[-1])


def child(path: str) -> None:
    with open(path, "rb") as file, fresh_database("sqlite") as engine:
        run_pipeline(engine, (line for line in file))
    print(peak_rss_mb())


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ``ru_maxrss``: on Linux that survives exec and so
    starts at the parent's size when the child was forked."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="write result rows here")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    data = generate(args.days)
    bodies = batches(data)
    rows = floor_rows(bodies)
    counts: dict[str, int] = {}
    for datum in data:
        counts[datum["type"]] = counts.get(datum["type"], 0) + 1
    size = sum(len(b) for b in bodies)
    print(f"{len(data):,} datums ({counts}) in {len(bodies)} bodies, {size / 1e6:.1f} MB of JSON")

    results: list[Result] = []
    pg = postgres_url()
    for kind in ("sqlite", "postgresql"):
        if kind == "postgresql" and pg is None:
            continue
        ours, floor = measure(kind, bodies, rows, pg)
        results.append(
            Result(
                f"ingest.{kind}.throughput",
                len(rows) / ours,
                "datums/s",
                len(rows) / floor,
                ours / floor,
                RATIO_TARGET,
            )
        )
        results.append(Result(f"ingest.{kind}.seconds", ours, "s", floor, ours / floor, None))
    peak = child_peak_memory(bodies)
    results.append(Result("ingest.sqlite.peak_memory", peak, "MB", None, None, MEMORY_TARGET_MB))
    for result in results:
        print(result.line())
    write_json(args.json, results)


if __name__ == "__main__":
    main()

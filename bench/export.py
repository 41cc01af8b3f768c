"""Export benchmark: a 3-year export of 5-minute CGM (~315,000 cbg) to an Excel workbook.

Setup: one person's 3 years of 5-minute CGM (1,095 days x 288 = 315,360 cbg, each with a
timezoneOffset and sampleInterval) written straight into device_data (bulk insert, not the API).
Ours: what ``GET /export/:userId?bgUnits=mg/dL`` and ``inlet export --format xlsx`` run: the read API's
query for the window (``inlet.exports.service.documents``: batches from the cursor, ``orjson.loads``,
glucose to mg/dL) into ``inlet.exports.xlsx.write_workbook`` (spooled per type, XlsxWriter
``constant_memory``).
Floor, same run: the same query's rows, ``orjson.loads`` of each document and ``csv.writer`` of its
values to a file: reading the same rows and writing the simplest tabular file.
Peak memory: a child process that opens the seeded database and runs only the export (VmHWM).
Target: peak memory < 300 MB.

Usage: python bench/export.py [--json PATH] [--days N]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Result, Timer, fresh_database, postgres_url, write_json
from bench.ingest import peak_rss_mb
from inlet.db.bulk import insert_rows
from inlet.db.engine import create_db_engine, read_only
from inlet.db.schema import DEVICE_DATA_INSERT_COLUMNS
from inlet.exports import service
from inlet.exports.units import MGDL
from inlet.exports.xlsx import write_workbook
from inlet.model.identity import new_id

MEMORY_TARGET_MB = 300.0
START = datetime(2023, 1, 1, tzinfo=UTC)
USER = "0123456789"


def seed(engine: object, days: int) -> int:
    """``days`` of 5-minute CGM for USER, in bulk, one transaction per 30 days."""
    data_set_id = new_id()
    now = int(time.time() * 1e6)
    total = 0
    for chunk in range(0, days, 30):
        rows = []
        for step in range(chunk * 288, min(days, chunk + 30) * 288):
            moment = START + timedelta(minutes=5 * step)
            micros = int(moment.timestamp() * 1e6)
            datum_id = new_id()
            text = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            doc = (
                f'{{"type":"cbg","units":"mmol/L","value":{4 + (step % 90) / 10},"time":"{text}",'
                f'"timezoneOffset":-300,"deviceId":"DexG7_BENCH","sampleInterval":300000,'
                f'"id":"{datum_id}","uploadId":"{data_set_id}"}}'
            )
            rows.append(
                (
                    datum_id,
                    USER,
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
        with engine.begin() as conn:  # type: ignore[attr-defined]
            insert_rows(conn, "device_data", DEVICE_DATA_INSERT_COLUMNS, rows)
        total += len(rows)
    return total


def ours(url: str, out: Path) -> int:
    engine = create_db_engine(url)
    try:
        with read_only(engine) as conn:
            plan = service.plan_for(conn, USER, None, None)
            result = write_workbook(service.documents(conn, plan, MGDL), out)
        assert result.error is None, result.error
        return result.documents
    finally:
        engine.dispose()


def floor(url: str, out: Path) -> int:
    engine = create_db_engine(url)
    rows = 0
    try:
        with read_only(engine) as conn, out.open("w", newline="") as handle:
            writer = csv.writer(handle)
            plan = service.plan_for(conn, USER, None, None)
            for batch in service.text_batches(conn, plan):
                for text in batch:
                    writer.writerow(orjson.loads(text).values())
                    rows += 1
        return rows
    finally:
        engine.dispose()


def child_peak_memory(url: str) -> float:
    """Run only the export in a child process; its peak RSS in MB."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", url], check=True, capture_output=True, text=True
    ).stdout
    return float(output.strip().splitlines()[-1])


def child(url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours(url, Path(tmp) / "export.xlsx")
    print(peak_rss_mb())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", help="write result rows here")
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    results: list[Result] = []
    pg = postgres_url()
    for kind in ("sqlite", "postgresql"):
        if kind == "postgresql" and pg is None:
            continue
        with fresh_database(kind, pg) as engine, tempfile.TemporaryDirectory() as tmp:
            url = engine.url.render_as_string(hide_password=False)
            rows = seed(engine, args.days)
            print(f"{kind}: {rows:,} cbg seeded")
            with Timer() as floor_time:
                assert floor(url, Path(tmp) / "floor.csv") == rows
            with Timer() as ours_time:
                assert ours(url, Path(tmp) / "export.xlsx") == rows
            size = os.path.getsize(Path(tmp) / "export.xlsx") / 1e6
            print(f"{kind}: workbook {size:.1f} MB")
            ratio = ours_time.seconds / floor_time.seconds
            results.append(
                Result(f"export.{kind}.seconds", ours_time.seconds, "s", floor_time.seconds, ratio, None)
            )
            results.append(
                Result(f"export.{kind}.throughput", rows / ours_time.seconds, "rows/s", None, None, None)
            )
            peak = child_peak_memory(url)
            results.append(Result(f"export.{kind}.peak_memory", peak, "MB", None, None, MEMORY_TARGET_MB))
    for result in results:
        print(result.line())
    write_json(args.json, results)


if __name__ == "__main__":
    main()

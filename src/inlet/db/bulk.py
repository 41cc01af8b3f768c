"""Bulk inserts on each driver's fastest path: executemany on SQLite, COPY on PostgreSQL (executemany
there too for a few rows).

Rows are tuples in the table's column order with JSON already serialized to text, so the same rows
feed both paths and the benchmark's floor measures exactly the driver's own cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

# Below this many rows an executemany (one pipelined round trip with psycopg 3) costs less than
# opening a COPY: a partner sync's batch is usually a dozen readings.
COPY_FROM = 100


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        return
    marks = ", ".join(("%s" if conn.dialect.name == "postgresql" else "?") for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(rows))

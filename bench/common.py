"""Shared benchmark plumbing: fresh databases, timing, result rows in the contract's shape."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import Engine, make_url

from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Result:
    """One row of ``--json`` output: ``{name, value, unit, floor, ratio, target}``."""

    name: str
    value: float
    unit: str
    floor: float | None
    ratio: float | None
    target: float | None

    def line(self) -> str:
        floor = "" if self.floor is None else f"  floor {self.floor:,.2f}"
        ratio = "" if self.ratio is None else f"  ratio {self.ratio:.2f}"
        target = "" if self.target is None else f"  target {self.target:g}"
        return f"{self.name:<38} {self.value:>14,.2f} {self.unit:<10}{floor}{ratio}{target}"


def write_json(path: str | None, results: list[Result]) -> None:
    if path:
        Path(path).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


def postgres_url() -> str | None:
    """The PostgreSQL server to benchmark on, or None (with the reason printed) when it is down."""
    url = os.environ.get("INLET_BENCH_POSTGRES_URL") or os.environ.get("INLET_TEST_POSTGRES_URL")
    url = url or DEFAULT_POSTGRES_URL
    try:
        engine = create_db_engine(url)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as error:
        print(f"PostgreSQL rows omitted: cannot connect to {make_url(url).render_as_string()}: {error}")
        return None
    return url


@contextmanager
def fresh_database(kind: str, pg_url: str | None = None) -> Iterator[Engine]:
    """A new, migrated database: a temporary SQLite file, or a new database on the PostgreSQL server."""
    if kind == "sqlite":
        with TemporaryDirectory() as tmp:
            engine = create_db_engine(f"sqlite:///{tmp}/bench.db")
            upgrade(engine)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    assert pg_url is not None
    admin = create_db_engine(pg_url)
    name = f"inlet_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_db_engine(make_url(pg_url).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start

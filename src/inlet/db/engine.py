"""Engine factory: SQLite (embedded default, WAL) or PostgreSQL (psycopg 3), by URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3; ``sqlite://`` uses the stdlib driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """WAL for concurrent readers with one writer; NORMAL sync is durable under WAL except for the
    last transactions on power loss; a busy timeout instead of immediate 'database is locked'."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # pysqlite's own transaction handling is off (isolation_level=None). Writers take the write lock
    # at BEGIN so two writers queue on busy_timeout instead of failing on lock upgrade; connections
    # marked ``readonly`` (see :func:`read_only`) begin deferred so readers never wait for writers.
    if conn.get_execution_options().get("readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_db_engine(url: str, *, echo: bool = False, pool_size: int = 10, pre_ping: bool = True) -> Engine:
    """JSON columns go through orjson both ways: fast, and a huge integer that PostgreSQL's numeric
    keeps (``1e30`` comes back as 31 digits) reads back as a float instead of breaking encoding.

    ``pre_ping`` (PostgreSQL): test each pooled connection before use, a round trip per checkout. The
    sync worker, which checks out several times per run, turns it off and recycles connections every
    five minutes instead (a connection the server dropped then fails one run, which is retried)."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "isolation_level": None, "timeout": 10},
            poolclass=NullPool if database in (None, "", ":memory:") else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=-1 if pre_ping else 300,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def read_only(engine: Engine) -> Connection:
    """A connection for reads only (on SQLite it does not take the write lock)."""
    return engine.connect().execution_options(readonly=True)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"

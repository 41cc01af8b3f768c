"""A fresh, migrated PostgreSQL database for one chaos run (``python -m tests.chaos``), dropped after."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

from sqlalchemy.engine import make_url

from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"inlet_chaos_{secrets.token_hex(4)}"
    admin = create_db_engine(server_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

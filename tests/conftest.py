"""Shared fixtures: real SQLite and real PostgreSQL engines, migrated by Alembic.

Every test that takes ``engine`` runs once per database. PostgreSQL runs when
``INLET_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it); otherwise those cases are skipped with a
message saying so, and the session summary repeats it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade
from inlet.db.schema import metadata

POSTGRES_URL = os.environ.get("INLET_TEST_POSTGRES_URL")


def pytest_configure(config: pytest.Config) -> None:
    """Every datum any test parses through the fast path is checked against the three-step path."""
    from inlet.model import parse

    parse.VERIFY_FAST_PATH = True


POSTGRES_SKIP = "PostgreSQL storage tests skipped: INLET_TEST_POSTGRES_URL is not set (.ci/run sets it)"
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database on the test server for this session, migrated once, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip(POSTGRES_SKIP)
    admin = create_db_engine(POSTGRES_URL)
    name = f"inlet_test_{uuid.uuid4().hex[:12]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        # A test database needs no durability against a server crash: commits return before the WAL
        # reaches the disk (a clean restart, as tests/db/test_pg_restart.py does, still keeps them).
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _truncate_all(engine: Engine) -> None:
    """Empty the session's PostgreSQL database between tests.

    TRUNCATE gives every relation new files, which costs about a second for all tables with their
    partitions and indexes; most tests write to a handful of tables, so only the tables holding
    rows are truncated, and the sequences a test drew from are reset (``last_value`` is NULL for a
    sequence nobody has drawn from since its reset), which is what ``RESTART IDENTITY`` did."""
    names = [t.name for t in metadata.sorted_tables]
    probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in names)
    with engine.begin() as conn:
        filled = [row[0] for row in conn.exec_driver_sql(probe)]
        if filled:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(filled)} CASCADE")
        conn.exec_driver_sql(
            "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, 1, false)"
            " FROM pg_sequences WHERE last_value IS NOT NULL"
        )


@pytest.fixture
def pg_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied, for behaviour only PostgreSQL has (SKIP LOCKED,
    row locks re-checked after a wait). Skipped, saying why, only where no PostgreSQL is configured."""
    engine = create_db_engine(postgres_database)
    _truncate_all(engine)
    engine.dispose()
    return postgres_database


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL: a copy of the SQLite template, or the session's PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "inlet.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    engine = create_db_engine(url)
    _truncate_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not POSTGRES_URL:
        terminalreporter.write_line(f"NOTE: {POSTGRES_SKIP}", yellow=True)


from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
hypothesis_settings.register_profile("dev", max_examples=200, deadline=None)
hypothesis_settings.register_profile("deep", max_examples=5000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last: Playwright's sync API keeps an event loop on the main thread for
    the session's one browser, and tests after it could not start their own (``asyncio.run``)."""
    browser = [item for item in items if "tests/browser/" in item.nodeid]
    if browser:
        items[:] = [item for item in items if "tests/browser/" not in item.nodeid] + browser

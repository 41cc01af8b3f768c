"""``inlet worker --once`` leaves every summary current: the one-shot worker runs the summary updater
after its sync pass, until nothing is outdated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, select

from inlet.data.service import DataService
from inlet.db.engine import create_db_engine
from inlet.db.migrate import upgrade
from inlet.db.schema import summaries
from inlet.summaries import store
from inlet.summaries.updater import update_all_outdated
from tests.summaries.conftest import cbg, continuous_set, smbg

USERS = [f"{i:032x}" for i in range(1, 4)]


def _outdated(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(summaries.c.user_id).where(summaries.c.outdated_since.is_not(None))).scalars()
        )


def _seed(engine: Engine, service: DataService) -> None:
    for n, user in enumerate(USERS):
        data_set = continuous_set(engine, service, user)
        with engine.begin() as conn:
            service.add_data(conn, data_set, [cbg(5 * i, 100 + n * 40) for i in range(12)] + [smbg(3, 90)])


def test_update_all_outdated_takes_rounds_until_none_is_left(engine: Engine, service: DataService) -> None:
    _seed(engine, service)
    assert sorted(set(_outdated(engine))) == USERS
    assert update_all_outdated(engine, service.now, limit=1) == 3  # three rounds of one
    assert _outdated(engine) == []
    assert update_all_outdated(engine, service.now) == 0


def test_worker_once_leaves_the_summaries_current(tmp_path: Path, service: DataService) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")}
    env["INLET_DATA_DIR"] = str(tmp_path / "state")
    engine = create_db_engine(f"sqlite:///{tmp_path / 'state' / 'inlet.db'}")
    try:
        upgrade(engine)
        _seed(engine, service)
        assert _outdated(engine)
        result = subprocess.run(
            [sys.executable, "-m", "inlet.cli", "worker", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert _outdated(engine) == []
        with engine.connect() as conn:
            for user in USERS:
                summary = store.platform_summary(conn, user, "cgm")
                assert summary is not None
                assert summary["periods"]["1d"]["total"]["records"] == 12
                assert summary["periods"]["1d"]["max"] > 0
    finally:
        engine.dispose()

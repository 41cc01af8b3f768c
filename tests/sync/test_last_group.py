"""A run's last group of batches is stored in the completion's transaction (one commit fewer per
run). A record the database refuses there must not cost the run its other records, nor its
watermarks: the completion is rolled back, the group stored batch by batch and record by record,
and the run completes after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import text

from inlet.db.schema import sync_tasks
from tests.sync.harness import SyncEnv
from tests.sync.test_dexcom_faults import synced


@contextmanager
def refuse_on_insert(env: SyncEnv, origin_id: str) -> Iterator[None]:
    """A trigger that makes the database itself refuse the record ``origin_id`` (a data error),
    dropped after: the PostgreSQL test database outlives the test."""
    with env.services.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.origin_id = '{origin_id}' THEN "
                    "RAISE EXCEPTION 'refused' USING ERRCODE = '22000'; END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON device_data "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_one()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON device_data "
                    f"WHEN NEW.origin_id = '{origin_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    try:
        yield
    finally:
        with env.services.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("DROP TRIGGER refuse_one ON device_data"))
                conn.execute(text("DROP FUNCTION refuse_one()"))
            else:
                conn.execute(text("DROP TRIGGER refuse_one"))


def test_a_record_refused_in_the_completion_costs_only_itself(sync_env: SyncEnv) -> None:
    account = synced(sync_env)
    before = set(sync_env.stored(account.user_id, "cbg"))
    sync_env.advance(timedelta(hours=1))
    new = sorted(set(sync_env.dexcom_expected("egv")) - before)
    assert len(new) >= 2
    refused = new[len(new) // 2]
    sync_env.make_due()
    with refuse_on_insert(sync_env, refused):
        stats = sync_env.run_once()
    assert stats.succeeded == 1, stats.summary()
    stored = set(sync_env.stored(account.user_id, "cbg"))
    assert stored == before | (set(new) - {refused})  # every other new record, none lost after it
    source = sync_env.source(account.user_id)
    assert source.state == "connected"
    assert source.sync_state["counters"]["skipped"] >= 1  # counted, as a skipped record
    assert source.sync_state["counters"]["runs"] == 2  # the run completed once, after its group
    with sync_env.services.engine.connect() as conn:
        task = conn.execute(sync_tasks.select().where(sync_tasks.c.user_id == account.user_id)).one()
    assert task.lease_owner is None
    assert task.last_error is None

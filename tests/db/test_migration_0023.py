"""Migration 0023_clinic_periods on both databases: a summary computed before it is marked outdated
(``SCHEMA_MIGRATION``) so the updater writes its clinic periods; one already outdated keeps its
reasons; a person without data is left alone; the downgrade drops the column."""

from __future__ import annotations

import importlib
import json

from sqlalchemy import Engine, inspect, text

from inlet.db.migrate import downgrade, upgrade

BEFORE = importlib.import_module("inlet.db.migrations.versions.0023_clinic_periods").down_revision


def test_0023_marks_computed_summaries_outdated(engine: Engine) -> None:
    downgrade(engine, BEFORE)
    assert "clinic_periods" not in {c["name"] for c in inspect(engine).get_columns("summaries")}
    with engine.begin() as conn:
        for user, kind, last, since, reasons in (
            ("a" * 32, "cgm", 10, None, None),  # computed, current
            ("b" * 32, "cgm", 10, 5, '["DATA_ADDED"]'),  # already outdated
            ("c" * 32, "cgm", None, None, None),  # no data
            ("a" * 32, "con", 10, None, None),  # con: no clinic periods
        ):
            conn.execute(
                text(
                    "INSERT INTO summaries (user_id, type, last_data, outdated_since, outdated_reasons) "
                    "VALUES (:u, :t, :l, :s, :r)"
                ),
                {"u": user, "t": kind, "l": last, "s": since, "r": reasons},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = {
            (r.user_id[0], r.type): (r.outdated_since, r.outdated_reasons)
            for r in conn.execute(
                text("SELECT user_id, type, outdated_since, outdated_reasons, clinic_periods FROM summaries")
            )
        }

    def reasons(value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    since, why = rows[("a", "cgm")]
    assert since is not None
    assert reasons(why) == ["SCHEMA_MIGRATION"]
    assert rows[("b", "cgm")][0] == 5
    assert reasons(rows[("b", "cgm")][1]) == ["DATA_ADDED"]
    assert rows[("c", "cgm")] == (None, None)
    assert rows[("a", "con")] == (None, None)

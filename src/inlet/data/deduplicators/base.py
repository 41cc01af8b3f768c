"""What every deduplicator does, and the hooks each one overrides.

A deduplicator decides how a data set's incoming data meets the data already stored: on ``add`` (each
batch), on ``close`` (the upload is complete) and on ``delete`` (the data set is removed). Tidepool
hard-deletes in places; Inlet always tombstones (``deleted_time``) or supersedes (``archived_time``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Connection

from inlet.data import storage
from inlet.data.records import DataSet
from inlet.data.rows import Hasher, Row, build_rows, identity_hasher, serialize_docs
from inlet.model.parse import Datum


@dataclass(slots=True)
class AddOutcome:
    stored: int = 0
    replaced: int = 0
    dropped: int = 0


class Deduplicator:
    name: ClassVar[str]
    version: ClassVar[str] = "1.0.0"
    hash_version: ClassVar[str | None] = None
    """Identity-hash version stored with each datum ("device-id" or "data-set-id"), if any."""
    stages_open_sets: ClassVar[bool] = False
    """Whether a normal set's rows wait in device_data_staged until it closes: only for deduplicators
    whose ``add`` never looks at the set's own stored rows (storage.unstage)."""

    def staged(self, conn: Connection, data_set: DataSet) -> bool:
        """Whether this set's rows are staged while it is open: continuous sets are live at once, and
        SQLite updates a row in place (activating a set there costs little; the double write of
        staging cost more, docs/benchmarks.md)."""
        return self.stages_open_sets and not data_set.is_continuous and conn.dialect.name == "postgresql"

    def hasher(self, data_set: DataSet) -> Hasher | None:
        if self.hash_version is None:
            return None
        return identity_hasher(data_set.user_id, self.hash_version)

    def add(
        self,
        conn: Connection,
        data_set: DataSet,
        datums: Sequence[Datum],
        now: int,
        current: Mapping[str, Any] | None = None,
        *,
        stage: bool = True,
    ) -> AddOutcome:
        """``current``: the caller's own lookup of the set's current rows by origin id
        (:func:`storage.current_by_origin`), for deduplicators that match on origin ids."""
        return self.store(conn, data_set, self.rows(data_set, datums, now), now, current, stage=stage)

    def rows(self, data_set: DataSet, datums: Sequence[Datum], now: int) -> list[Row]:
        """The storage rows of ``datums`` (identity hashes included): pure work, no database, so it
        may run on another thread. When :meth:`prepare` is the default (keeps every row as it is)
        the documents are serialized here too."""
        rows = build_rows(
            data_set.user_id,
            data_set.id,
            datums,
            active=data_set.is_continuous,
            now=now,
            hasher=self.hasher(data_set),
        )
        if type(self).prepare is Deduplicator.prepare:
            serialize_docs(rows)
        return rows

    def store(
        self,
        conn: Connection,
        data_set: DataSet,
        rows: list[Row],
        now: int,
        current: Mapping[str, Any] | None = None,
        *,
        stage: bool = True,
    ) -> AddOutcome:
        """Meet what is stored (:meth:`prepare`, or :meth:`prepare_with` given the caller's lookup)
        and insert: into staging when the set stages its rows and the caller allows it (``stage``:
        rows written straight to device_data are just as correct, closing finds them there and takes
        the in-place path)."""
        outcome = AddOutcome()
        if current is None:
            rows = self.prepare(conn, data_set, rows, now, outcome)
        else:
            rows = self.prepare_with(conn, data_set, rows, now, outcome, current)
        outcome.stored = storage.insert(conn, rows, staged=stage and self.staged(conn, data_set))
        return outcome

    def prepare(
        self, conn: Connection, data_set: DataSet, rows: list[Row], now: int, outcome: AddOutcome
    ) -> list[Row]:
        """Hook: drop or re-version incoming rows against what is stored. Default: keep all."""
        return rows

    def prepare_with(
        self,
        conn: Connection,
        data_set: DataSet,
        rows: list[Row],
        now: int,
        outcome: AddOutcome,
        current: Mapping[str, Any],
    ) -> list[Row]:
        """:meth:`prepare` given the caller's lookup of the current rows by origin id; deduplicators
        that do not match on origin ids ignore it."""
        return self.prepare(conn, data_set, rows, now, outcome)

    def close(self, conn: Connection, data_set: DataSet, now: int) -> None:
        """Make the set's data visible. Staged rows move in already active (one INSERT ... SELECT,
        not a rewrite of every row); rows the set holds in device_data are activated in place."""
        placed = self.staged(conn, data_set) and storage.unstage(
            conn, data_set.user_id, data_set.id, now, activate=True
        )
        self.before_activate(conn, data_set, now, placed)
        if not placed:
            storage.activate_data_set(conn, data_set.user_id, data_set.id, now)

    def before_activate(self, conn: Connection, data_set: DataSet, now: int, placed: bool) -> None:
        """Hook run at close before the data set's data becomes visible. ``placed``: every row of the
        set came from staging just now, active, and no identity hash twice (storage.unstage)."""

    def unstage(self, conn: Connection, data_set: DataSet, now: int) -> None:
        """Move a set's staged rows into device_data as they are (inactive) before a statement that
        changes the set's rows in place (a delete)."""
        if self.staged(conn, data_set):
            storage.unstage(conn, data_set.user_id, data_set.id, now, activate=False)

    def delete(self, conn: Connection, data_set: DataSet, now: int) -> None:
        self.unstage(conn, data_set, now)
        self.before_delete(conn, data_set, now)
        storage.tombstone_data_set_data(conn, data_set.user_id, data_set.id, now)

    def before_delete(self, conn: Connection, data_set: DataSet, now: int) -> None:
        """Hook run before the data set's data is tombstoned."""

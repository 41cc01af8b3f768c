"""org.tidepool.deduplicator.dataset.delete.origin: incoming data with an ``origin.id`` replaces the
data set's current datum with that origin id (mobile apps and partner syncs resend records).

The replacement keeps the datum's ``id``, gets ``_version`` + 1, and the old version is kept,
inactive, for audit (Tidepool deletes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from inlet.data import storage
from inlet.data.deduplicators.base import AddOutcome, Deduplicator
from inlet.data.records import DataSet
from inlet.data.rows import (
    ACTIVE,
    ARCHIVED_TIME,
    DOC,
    ID,
    MODIFIED_TIME,
    ORIGIN_ID,
    ORIGIN_TIME,
    TYPE,
    VERSION,
    Row,
)


class DataSetDeleteOrigin(Deduplicator):
    name = "org.tidepool.deduplicator.dataset.delete.origin"

    def keep_existing(self, existing_type: str, existing_time: int | None, incoming: Row) -> bool:
        """Hook for the "older" variant: True drops the incoming row in favour of what is stored."""
        return False

    def prepare(
        self, conn: Connection, data_set: DataSet, rows: list[Row], now: int, outcome: AddOutcome
    ) -> list[Row]:
        origin_ids = [row[ORIGIN_ID] for row in rows if row[ORIGIN_ID] is not None]
        if not origin_ids:
            return rows
        stored = storage.current_by_origin(conn, data_set.user_id, data_set.id, origin_ids)
        return self.prepare_with(conn, data_set, rows, now, outcome, stored)

    def prepare_with(
        self,
        conn: Connection,
        data_set: DataSet,
        rows: list[Row],
        now: int,
        outcome: AddOutcome,
        current: Mapping[str, Any],
    ) -> list[Row]:
        """``current``: the set's current rows by origin id, looked up by the caller for at least
        every origin id in ``rows`` (a partner sync shares its own lookup)."""
        stored = current
        latest: dict[str, Any] = {}  # origin id -> the row (stored or incoming) that is current now
        superseded: list[int] = []
        out: list[Row] = []
        for row in rows:
            origin_id = row[ORIGIN_ID]
            if origin_id is None:
                out.append(row)
                continue
            previous = latest.get(origin_id)
            if previous is None and origin_id in stored:
                previous = stored[origin_id]
            if previous is None:
                latest[origin_id] = row
                out.append(row)
                continue
            if isinstance(previous, list):
                prev_id, prev_version, prev_type, prev_time = (
                    previous[ID],
                    previous[VERSION],
                    previous[TYPE],
                    previous[ORIGIN_TIME],
                )
            else:
                prev_id, prev_version, prev_type, prev_time = (
                    previous.id,
                    previous.version,
                    previous.type,
                    previous.origin_time,
                )
            if self.keep_existing(prev_type, prev_time, row):
                outcome.dropped += 1
                continue
            if isinstance(previous, list):
                previous[ACTIVE] = False
                previous[ARCHIVED_TIME] = now
                previous[MODIFIED_TIME] = now
            else:
                superseded.append(previous.pk)
            row[ID] = prev_id
            row[DOC]["id"] = prev_id
            row[VERSION] = prev_version + 1
            latest[origin_id] = row
            outcome.replaced += 1
            out.append(row)
        storage.supersede(conn, data_set.user_id, superseded, now)
        return out

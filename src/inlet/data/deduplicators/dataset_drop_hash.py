"""org.tidepool.deduplicator.dataset.drop.hash: incoming data whose data-set-id identity hash is
already in the data set is dropped; within one batch the last copy wins."""

from __future__ import annotations

from sqlalchemy import Connection

from inlet.data import storage
from inlet.data.deduplicators.base import AddOutcome, Deduplicator
from inlet.data.records import DataSet
from inlet.data.rows import HASH, Row
from inlet.model.identity import IDENTITY_DATA_SET_ID


class DataSetDropHash(Deduplicator):
    name = "org.tidepool.deduplicator.dataset.drop.hash"
    hash_version = IDENTITY_DATA_SET_ID

    def prepare(
        self, conn: Connection, data_set: DataSet, rows: list[Row], now: int, outcome: AddOutcome
    ) -> list[Row]:
        last: dict[str, int] = {}
        for index, row in enumerate(rows):
            if row[HASH] is not None:
                last[row[HASH]] = index
        stored = storage.existing_hashes(conn, data_set.user_id, data_set.id, list(last))
        out = [
            row
            for index, row in enumerate(rows)
            if row[HASH] is None or (last[row[HASH]] == index and row[HASH] not in stored)
        ]
        outcome.dropped += len(rows) - len(out)
        return out

"""org.tidepool.deduplicator.device.truncate.dataset: a new upload of a device replaces all of that
device's earlier data (Animas pumps). At close, the device's data in the user's other data sets is
tombstoned (Tidepool hard-deletes it) and those data sets are marked deleted."""

from __future__ import annotations

from sqlalchemy import Connection

from inlet.data import storage
from inlet.data.deduplicators.base import Deduplicator
from inlet.data.records import DataSet


class DeviceTruncateDataSet(Deduplicator):
    name = "org.tidepool.deduplicator.device.truncate.dataset"

    stages_open_sets = True

    def before_activate(self, conn: Connection, data_set: DataSet, now: int, placed: bool) -> None:
        if not data_set.device_id:
            return
        others = storage.tombstone_device_data_elsewhere(
            conn, data_set.user_id, data_set.device_id, data_set.id, now
        )
        storage.mark_data_sets_deleted(conn, others, now)

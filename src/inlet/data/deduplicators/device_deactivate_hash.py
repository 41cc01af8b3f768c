"""org.tidepool.deduplicator.device.deactivate.hash: a new upload of a device supersedes the same
readings from its earlier uploads.

add: store each datum with its device-id identity hash, inactive. close: the user's other active data
of the same deviceId with a hash in this upload is archived (``archived_data_set_id`` = this set),
then this upload is activated. delete: what this set archived is restored, then its own data is tombstoned.
Inlet also archives earlier copies of one hash within the same upload, so a retried batch never
doubles the data.
"""

from __future__ import annotations

from sqlalchemy import Connection

from inlet.data import storage
from inlet.data.deduplicators.base import Deduplicator
from inlet.data.records import DataSet
from inlet.model.identity import IDENTITY_DEVICE_ID


class DeviceDeactivateHash(Deduplicator):
    name = "org.tidepool.deduplicator.device.deactivate.hash"
    version = "1.1.0"
    hash_version = IDENTITY_DEVICE_ID

    stages_open_sets = True

    def before_activate(self, conn: Connection, data_set: DataSet, now: int, placed: bool) -> None:
        if not placed:
            storage.archive_duplicates_within(conn, data_set.user_id, data_set.id, now)
        device_id = data_set.device_id
        if device_id and storage.other_data_sets_of_device(conn, data_set.user_id, device_id, data_set.id):
            storage.archive_device_data_with_hashes_of(conn, data_set.user_id, device_id, data_set.id, now)

    def before_delete(self, conn: Connection, data_set: DataSet, now: int) -> None:
        storage.unarchive_data_archived_by(conn, data_set.user_id, data_set.id, now)

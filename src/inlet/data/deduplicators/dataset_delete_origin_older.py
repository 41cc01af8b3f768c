"""org.tidepool.deduplicator.dataset.delete.origin.older: as dataset.delete.origin, but a bolus or a
food record is replaced only when the incoming ``origin.time`` is newer than the stored one (a phone
resending an older copy of an edited entry must not undo the edit)."""

from __future__ import annotations

from inlet.data.deduplicators.dataset_delete_origin import DataSetDeleteOrigin
from inlet.data.rows import ORIGIN_TIME, Row

ONLY_NEWER_TYPES = frozenset({"bolus", "food"})


class DataSetDeleteOriginOlder(DataSetDeleteOrigin):
    name = "org.tidepool.deduplicator.dataset.delete.origin.older"

    def keep_existing(self, existing_type: str, existing_time: int | None, incoming: Row) -> bool:
        if existing_type not in ONLY_NEWER_TYPES or existing_time is None:
            return False
        incoming_time = incoming[ORIGIN_TIME]
        return incoming_time is None or incoming_time <= existing_time

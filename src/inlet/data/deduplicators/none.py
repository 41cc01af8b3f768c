"""org.tidepool.deduplicator.none: store everything as sent."""

from __future__ import annotations

from inlet.data.deduplicators.base import Deduplicator


class NoneDeduplicator(Deduplicator):
    name = "org.tidepool.deduplicator.none"
    stages_open_sets = True

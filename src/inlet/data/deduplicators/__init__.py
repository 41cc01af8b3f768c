"""The deduplicators, one module each, and the rule that picks one for a data set."""

from __future__ import annotations

from collections.abc import Iterable

from inlet.data.deduplicators.base import AddOutcome, Deduplicator
from inlet.data.deduplicators.dataset_delete_origin import DataSetDeleteOrigin
from inlet.data.deduplicators.dataset_delete_origin_older import DataSetDeleteOriginOlder
from inlet.data.deduplicators.dataset_drop_hash import DataSetDropHash
from inlet.data.deduplicators.device_deactivate_hash import DeviceDeactivateHash
from inlet.data.deduplicators.device_truncate_dataset import DeviceTruncateDataSet
from inlet.data.deduplicators.none import NoneDeduplicator
from inlet.model.data_set import canonical_deduplicator

DEDUPLICATORS: dict[str, Deduplicator] = {
    d.name: d
    for d in (
        DeviceDeactivateHash(),
        DeviceTruncateDataSet(),
        DataSetDeleteOrigin(),
        DataSetDeleteOriginOlder(),
        DataSetDropHash(),
        NoneDeduplicator(),
    )
}

TRUNCATE_MANUFACTURERS = frozenset({"Animas"})


def get(name: str) -> Deduplicator:
    return DEDUPLICATORS[canonical_deduplicator(name)]


def select_name(
    *,
    named: str | None,
    data_set_type: str,
    device_id: str | None,
    manufacturers: Iterable[str] = (),
) -> str:
    """The deduplicator for a new data set.

    A named one wins (deprecated aliases map to their current names). Otherwise Tidepool's automatic
    choice: truncate for Animas, deactivate.hash for allow-listed device models of normal sets.
    Where Tidepool would answer 500 "deduplicator not found", Inlet's rule: a normal set with a
    deviceId gets device.deactivate.hash, a continuous set dataset.delete.origin, anything else none.
    """
    if named:
        return canonical_deduplicator(named)
    makers = set(manufacturers)
    if data_set_type == "normal" and device_id:
        if makers & TRUNCATE_MANUFACTURERS:
            return DeviceTruncateDataSet.name
        return DeviceDeactivateHash.name
    if data_set_type == "continuous":
        return DataSetDeleteOrigin.name
    return NoneDeduplicator.name


__all__ = ["DEDUPLICATORS", "AddOutcome", "Deduplicator", "get", "select_name"]

"""One module per datum type. Importing this package registers every type with the model."""

from __future__ import annotations

from inlet.model.base import DatumType
from inlet.model.parse import register
from inlet.model.types import (
    alert,
    basal,
    blood_ketone,
    bolus,
    cbg,
    cgm_settings,
    controller_settings,
    controller_status,
    device_event,
    dosing_decision,
    food,
    insulin,
    physical_activity,
    pump_settings,
    pump_status,
    reported_state,
    smbg,
    water,
    wizard,
)

ALL: list[DatumType] = [
    *cbg.TYPES,
    *smbg.TYPES,
    *blood_ketone.TYPES,
    *basal.TYPES,
    *bolus.TYPES,
    *wizard.TYPES,
    *food.TYPES,
    *insulin.TYPES,
    *water.TYPES,
    *physical_activity.TYPES,
    *reported_state.TYPES,
    *alert.TYPES,
    *device_event.TYPES,
    *pump_settings.TYPES,
    *cgm_settings.TYPES,
    *dosing_decision.TYPES,
    *controller_settings.TYPES,
    *controller_status.TYPES,
    *pump_status.TYPES,
]
register(*ALL)

"""bloodKetone: a blood ketone reading, mmol/L only (platform data/types/blood/ketone)."""

from __future__ import annotations

from inlet.model.base import DatumType
from inlet.model.fields import Canonical, Float

VALUE_MIN, VALUE_MAX = 0.0, 10.0
UNITS = {"mmol/L": "mmol/L", "mmol/l": "mmol/L"}

BLOOD_KETONE = DatumType(
    type="bloodKetone",
    units_key="units",
    fields={
        "units": Canonical(UNITS),
        "value": Float(VALUE_MIN, VALUE_MAX),
    },
    required=("units", "value"),
    description="blood ketone reading",
)

TYPES = [BLOOD_KETONE]

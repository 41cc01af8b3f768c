"""smbg: a self-monitored (finger stick) blood glucose reading.

Platform package: data/types/blood/glucose/selfmonitored.
"""

from __future__ import annotations

from inlet.model.base import DatumType
from inlet.model.fields import Glucose, GlucoseUnits, OneOf

SUB_TYPES = ("linked", "manual", "scanned")

SMBG = DatumType(
    type="smbg",
    units_key="units",
    fields={
        "units": GlucoseUnits(),
        "value": Glucose(),
        "subType": OneOf(*SUB_TYPES),
    },
    required=("units", "value"),
    description="self-monitored blood glucose reading",
)

TYPES = [SMBG]

"""water: water drunk (platform data/types/water).

One field, ``amount{units, value}`` (required; both parts required): at most 10 gallons, given in
gallons (0..10), liters (0..37.854118), milliliters (0..37854.118) or ounces (0..1280).
"""

from __future__ import annotations

from inlet.model.base import DatumType
from inlet.model.fields import measured

AMOUNT_RANGES = {
    # 10 gallons at 3.7854118 L and 128 oz per gallon, written out exactly as the platform's constants.
    "gallons": (0.0, 10.0),
    "liters": (0.0, 37.854118),
    "milliliters": (0.0, 37_854.118),
    "ounces": (0.0, 1280.0),
}

WATER = DatumType(
    type="water",
    fields={"amount": measured(AMOUNT_RANGES)},
    required=("amount",),
    description="water drunk",
)

TYPES = [WATER]
